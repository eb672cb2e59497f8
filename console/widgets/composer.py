"""The reply or note editor: two modes that cannot be mistaken for one another.

A reply (primary colour, blue, "Reply to ...") goes to the customer; a note (warning colour,
amber, titled "Internal note - never sent") stays in the thread. The screen keeps one draft
per agent, conversation and mode; the composer shows one mode at a time, named on its title.
It never takes the focus by itself: `open` is called when the agent asks to write.
"""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, Static, TextArea

Mode = Literal["reply", "note"]
NOTE_TITLE = "Internal note - never sent"


class Composer(Vertical):
    DEFAULT_CSS = """
    Composer { height: 14; border-top: tall $primary; display: none; }
    Composer.-open { display: block; }
    Composer.-note { border-top: tall $warning; background: $warning 8%; }
    Composer > #composer-title { width: 100%; text-style: bold; color: $text-primary; }
    Composer.-note > #composer-title { color: $warning; }
    Composer > #composer-recipients { width: 100%; height: auto; }
    Composer.-note > #composer-recipients { display: none; }
    Composer > #composer-hint { width: 100%; color: $text-muted; }
    Composer > TextArea { height: 1fr; }
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
        yield Static(id="composer-recipients")
        yield Label(id="composer-hint")
        yield TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False)

    @property
    def editor(self) -> TextArea:
        return self.query_one(TextArea)

    @property
    def title(self) -> str:
        """The title as shown (what tells the agent which mode this is)."""
        return str(self.query_one("#composer-title", Label).render())

    def open(self, mode: Mode, title: Text, hint: str, text: str = "") -> None:
        self.mode = mode
        self.set_class(True, "-open")
        self.set_class(mode == "note", "-note")
        self.set_class(mode == "reply", "-reply")
        self.query_one("#composer-title", Label).update(title)
        self.query_one("#composer-hint", Label).update(Text(hint))
        self.editor.text = text
        self.editor.move_cursor(self.editor.document.end)
        self.editor.focus()

    def close(self) -> None:
        self.set_class(False, "-open")
        self.editor.text = ""

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def action_send(self) -> None:
        if self.is_open:
            self.post_message(self.Submitted(self.mode, self.editor.text))

    def action_leave(self) -> None:
        self.post_message(self.Left(self.mode, self.editor.text))
