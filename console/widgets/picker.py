"""A fuzzy, search-as-you-type picker in a modal, with an optional live preview."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from console.render import safe_line
from storage.models import CannedReply


@dataclass(frozen=True)
class Choice:
    id: str
    label: Text
    search: str


Preview = Callable[[str], RenderableType]


class Picker(ModalScreen[str | None]):
    """Returns the chosen id; with `allow_new`, Enter on no match returns "new:<typed text>"."""

    DEFAULT_CSS = """
    Picker { align: center middle; }
    Picker > Vertical { width: 90%; height: 80%; border: thick $accent; background: $surface; }
    Picker Horizontal { height: 1fr; }
    Picker OptionList { width: 1fr; height: 1fr; border: none; }
    Picker #picker-preview { width: 1fr; height: 1fr; border-left: tall $panel; padding: 0 1; }
    Picker #picker-title { width: 100%; text-style: bold; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without choosing"),
        Binding("down", "move(1)", "Down", id="picker.down", show=False, priority=True),
        Binding("up", "move(-1)", "Up", id="picker.up", show=False, priority=True),
        # priority: the search Input has its own ctrl+e (end of line)
        Binding("ctrl+n", "new", "New", id="picker.new", tooltip="Create a new one", priority=True),
        Binding(
            "ctrl+e",
            "edit",
            "Edit",
            id="picker.edit",
            tooltip="Edit the highlighted one",
            priority=True,
        ),
    ]

    def __init__(
        self,
        title: str,
        choices: list[Choice],
        *,
        preview: Preview | None = None,
        allow_new: bool = False,
        editable: bool = False,
        placeholder: str = "type to search",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.preview = preview
        self.allow_new = allow_new
        self.editable = editable
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, id="picker-title")
            yield Input(placeholder=self.placeholder, id="picker-input")
            with Horizontal():
                yield OptionList(id="picker-options")
                if self.preview is not None:
                    yield Static(id="picker-preview")

    def on_mount(self) -> None:
        self._filter("")
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._filter(event.value)

    def _filter(self, typed: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matcher = Matcher(typed) if typed else None
        scored = [(matcher.match(c.search) if matcher else 1.0, c) for c in self.choices]
        ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])
        options.add_options(Option(c.label, id=c.id) for _, c in ranked)
        if ranked:
            options.highlighted = 0
        elif self.allow_new and typed.strip():
            options.add_option(Option(Text.assemble("+ create ", safe_line(typed)), id="new"))
            options.highlighted = 0
        self._show_preview()

    def on_option_list_option_highlighted(self, _: OptionList.OptionHighlighted) -> None:
        self._show_preview()

    def _show_preview(self) -> None:
        if self.preview is None:
            return
        chosen = self._highlighted()
        body = self.preview(chosen) if chosen else Text("no match", style="dim")
        self.query_one("#picker-preview", Static).update(body)

    def _highlighted(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(current + step, options.option_count - 1))

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._choose(self._highlighted())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, chosen: str | None) -> None:
        if chosen == "new":
            self.dismiss(f"new:{self.query_one(Input).value.strip()}")
        elif chosen is not None:
            self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """New and edit exist only where the caller can create and edit (canned replies)."""
        return self.editable if action in ("new", "edit") else True

    def action_new(self) -> None:
        self.dismiss(f"new:{self.query_one(Input).value.strip()}")

    def action_edit(self) -> None:
        chosen = self._highlighted()
        if chosen is not None and chosen != "new":
            self.dismiss(f"edit:{chosen}")


def canned_choices(replies: list[CannedReply]) -> list[Choice]:
    """Canned replies as picker rows: name, folder, shortcut; searched on all and the body."""
    return [
        Choice(
            str(r.id),
            Text.assemble(
                safe_line(r.name, "bold"),
                (f"  {r.folder}", "dim"),
                (f"  ;{r.shortcut}" if r.shortcut else "", "cyan"),
            ),
            f"{r.name} {r.folder} {';' + r.shortcut if r.shortcut else ''} {r.body}",
        )
        for r in replies
    ]
