"""The reply or note editor: two modes that cannot be mistaken for one another.

A reply (primary colour, blue, "Reply to ...") goes to the customer; a note (warning colour,
amber, titled "Internal note - never sent") stays in the thread. The screen keeps one draft
per agent, conversation and mode; the composer shows one mode at a time, named on its title.
It never takes the focus by itself: `open` is called when the agent asks to write.

A reply by email shows its recipients: To and Cc editable, Bcc on demand (ctrl+b), where each
address came from, and a warning when Reply-To leads to another domain than the sender's.
`recipients()` returns exactly what the fields show; the reply is queued with those.

Canned text goes in through `insert_template`: the cursor lands where the template put
`{{ cursor }}` (canned.CURSOR_MARK), else at the end of what was inserted. A canned reply's
shortcut typed at a word start (`;ty`) and followed by space or tab is replaced by the reply,
rendered by the `canned_for` callback the screen provides (None: no such shortcut, the key types
as usual).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static, TextArea
from textual.widgets.text_area import Selection

from console.canned import CURSOR_MARK
from console.recipients import BadAddress, Pair, Proposal, field_text, parse_field

Mode = Literal["reply", "note"]
NOTE_TITLE = "Internal note - never sent"
FIELDS = ("to", "cc", "bcc")
# `;name` ending at the cursor, at the start of a line or after a space.
SHORTCUT = re.compile(r"(?:^|(?<=\s));([\w-]+)$")
Expand = Callable[[str], str | None]


def insert_template(editor: TextArea, text: str) -> None:
    """Insert `text` at the cursor (over a selection); the cursor goes to its first
    CURSOR_MARK (removed, like any other), else to the end of the inserted text."""
    before, marked, after = text.partition(CURSOR_MARK)
    after = after.replace(CURSOR_MARK, "")
    start, end = editor.selection
    mark = editor.replace(before, start, end, maintain_selection_offset=False).end_location
    end_location = editor.insert(after, mark, maintain_selection_offset=False).end_location
    editor.move_cursor(mark if marked else end_location)


class ComposerText(TextArea):
    """The composer's text area: `;shortcut` + space or tab expands a canned reply."""

    canned_for: Expand | None = None  # a shortcut's rendered reply, None if there is none

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("space", "tab") and self._expand_shortcut():
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _expand_shortcut(self) -> bool:
        start, end = self.selection
        if self.canned_for is None or start != end:
            return False
        row, column = end
        match = SHORTCUT.search(self.document.get_line(row)[:column])
        if match is None:
            return False
        text = self.canned_for(match.group(1))
        if text is None:
            return False
        self.selection = Selection((row, match.start()), end)
        insert_template(self, text)
        return True


class Composer(Vertical):
    DEFAULT_CSS = """
    Composer { height: auto; max-height: 70%; border-top: tall $primary; display: none; }
    Composer.-open { display: block; }
    Composer.-note { border-top: tall $warning; background: $warning 8%; }
    Composer > #composer-title { width: 100%; text-style: bold; color: $text-primary; }
    Composer.-note > #composer-title { color: $warning; }
    Composer > #composer-recipients { width: 100%; height: auto; }
    Composer.-note > #composer-recipients { display: none; }
    Composer.-no-recipients > #composer-recipients { display: none; }
    Composer .recipient-row { height: 1; }
    Composer .recipient-row > Label { width: 5; color: $text-muted; }
    Composer .recipient-row > Input { width: 1fr; }
    Composer #composer-bcc-row { display: none; }
    Composer.-bcc #composer-bcc-row { display: block; }
    Composer #composer-sources { width: 100%; height: auto; color: $text-muted; }
    Composer > #composer-hint { width: 100%; color: $text-muted; }
    Composer > #composer-warning {
        width: 100%; color: $warning; text-style: bold; display: none;
    }
    Composer > TextArea { height: 8; }
    Composer.-note > TextArea { border: tall $warning; }
    """
    BINDINGS = [
        Binding(
            "ctrl+s",
            "send",
            "Send",
            id="composer.send",
            priority=True,
            tooltip="Send the reply through the outbox (or save the note)",
        ),
        Binding(
            "escape",
            "leave",
            "Leave",
            id="composer.leave",
            tooltip="Leave the composer; the draft is kept",
        ),
        Binding(
            "ctrl+b",
            "bcc",
            "Bcc",
            id="composer.bcc",
            tooltip="Add a Bcc line to the reply",
        ),
    ]

    class Submitted(Message):
        def __init__(self, mode: Mode, text: str) -> None:
            super().__init__()
            self.mode = mode
            self.text = text

    class Left(Message):
        def __init__(self, mode: Mode, text: str) -> None:
            super().__init__()
            self.mode = mode
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.mode: Mode = "reply"

    def compose(self) -> ComposeResult:
        yield Label(id="composer-title")
        with Vertical(id="composer-recipients"):
            for field in FIELDS:
                with Horizontal(classes="recipient-row", id=f"composer-{field}-row"):
                    yield Label(field.capitalize())
                    yield Input(id=f"composer-{field}", compact=True)
            yield Static(id="composer-sources")
        yield Label(id="composer-hint")
        yield Label(id="composer-warning")
        yield ComposerText(id="composer-text", soft_wrap=True, show_line_numbers=False)

    @property
    def editor(self) -> ComposerText:
        return self.query_one(ComposerText)

    @property
    def title(self) -> str:
        """The title as shown (what tells the agent which mode this is)."""
        return str(self.query_one("#composer-title", Label).render())

    def show_recipients(self, proposal: Proposal | None) -> None:
        """Fill To and Cc from the proposal and say where each came from (None: no fields)."""
        self.set_class(proposal is None, "-no-recipients")
        self.set_class(False, "-bcc")
        if proposal is None:
            return
        self.query_one("#composer-to", Input).value = field_text(proposal.to)
        self.query_one("#composer-cc", Input).value = field_text(proposal.cc)
        self.query_one("#composer-bcc", Input).value = ""
        self.query_one("#composer-sources", Static).update(_sources(proposal))

    def recipients(self) -> dict[str, list[Pair]]:
        """To, Cc and Bcc exactly as shown now; BadAddress names a field that cannot be sent."""
        found = {
            field: parse_field(
                self.query_one(f"#composer-{field}", Input).value, field.capitalize()
            )
            for field in FIELDS
        }
        if not found["to"]:
            raise BadAddress("To is empty: name at least one recipient")
        return found

    def warn(self, warning: str | None) -> None:
        """Show a warning about the text (e.g. too long for the channel); None hides it."""
        label = self.query_one("#composer-warning", Label)
        label.update(Text(warning or ""))
        label.display = warning is not None

    @property
    def warning(self) -> str:
        label = self.query_one("#composer-warning", Label)
        return str(label.render()) if label.display else ""

    @property
    def has_recipients(self) -> bool:
        return self.mode == "reply" and not self.has_class("-no-recipients")

    def action_bcc(self) -> None:
        if self.has_recipients:
            self.set_class(True, "-bcc")
            self.query_one("#composer-bcc", Input).focus()

    def open(self, mode: Mode, title: Text, hint: str, text: str = "") -> None:
        self.mode = mode
        self.set_class(True, "-open")
        self.screen.set_class(True, "-composing")  # a narrow screen makes room for the text
        self.set_class(mode == "note", "-note")
        self.set_class(mode == "reply", "-reply")
        self.query_one("#composer-title", Label).update(title)
        self.query_one("#composer-hint", Label).update(Text(hint))
        self.warn(None)
        self.editor.text = text
        self.editor.move_cursor(self.editor.document.end)
        self.editor.focus()

    def close(self) -> None:
        self.set_class(False, "-open")
        self.screen.set_class(False, "-composing")
        self.editor.text = ""

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def action_send(self) -> None:
        if self.is_open:
            self.post_message(self.Submitted(self.mode, self.editor.text))

    def action_leave(self) -> None:
        self.post_message(self.Left(self.mode, self.editor.text))


def _sources(proposal: Proposal) -> Text:
    """Where each address came from, and a warning when Reply-To leads elsewhere."""
    parts = [f"{r.address} ← {r.source}" for r in (*proposal.to, *proposal.cc)]
    line = Text("  ·  ".join(parts) or "No address found: type one in To")
    if proposal.warning:
        line.append("\n⚠ " + proposal.warning, style="bold yellow")
    return line
