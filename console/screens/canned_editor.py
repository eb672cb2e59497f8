"""Agents write and edit their own canned replies (stored in the database)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, TextArea

from console import canned

# Placeholder values to try a template with before it is saved: an unknown variable or a
# syntax error is refused now, not discovered in front of a customer.
SAMPLE = canned.SAMPLE


@dataclass(frozen=True)
class CannedDraft:
    name: str
    folder: str
    shortcut: str | None
    body: str


class CannedEditor(ModalScreen[CannedDraft | None]):
    DEFAULT_CSS = """
    CannedEditor { align: center middle; }
    CannedEditor > Vertical {
        width: 90%; height: 85%; border: thick $accent; background: $surface; padding: 0 1;
    }
    CannedEditor Horizontal { height: auto; }
    CannedEditor Horizontal Input { width: 1fr; }
    CannedEditor TextArea { height: 1fr; }
    CannedEditor #canned-problem { color: $error; height: auto; }
    """
    BINDINGS = [
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="canned.save",
            priority=True,
            tooltip="Save the canned reply",
        ),
        Binding("escape", "cancel", "Cancel", id="canned.cancel", tooltip="Close without saving"),
    ]

    def __init__(self, draft: CannedDraft) -> None:
        super().__init__()
        self.draft = draft

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "Canned reply — variables: {{ contact.first_name }}, {{ agent.name }}, "
                "{{ conversation.subject }} … · ctrl+s save · esc cancel",
                markup=False,
            )
            with Horizontal():
                yield Input(self.draft.name, placeholder="name", id="canned-name")
                yield Input(self.draft.folder, placeholder="folder", id="canned-folder")
                yield Input(self.draft.shortcut or "", placeholder="shortcut", id="canned-shortcut")
            yield TextArea(self.draft.body, id="canned-body", soft_wrap=True)
            yield Label("", id="canned-problem", markup=False)

    def on_mount(self) -> None:
        self.query_one("#canned-name" if not self.draft.name else "#canned-body").focus()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def action_save(self) -> None:
        name = self._value("canned-name")
        body = self.query_one(TextArea).text
        problem = "Give it a name" if not name else _problem(name, body)
        if problem:
            self.query_one("#canned-problem", Label).update(problem)
            return
        shortcut = self._value("canned-shortcut") or None
        self.dismiss(CannedDraft(name, self._value("canned-folder"), shortcut, body))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _problem(name: str, body: str) -> str | None:
    try:
        canned.render(name, body, dict(SAMPLE))
    except canned.TemplateProblem as exc:
        return str(exc)
    return None
