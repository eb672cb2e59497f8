"""The reply (or note) editor; the draft survives leaving and restarts."""

from __future__ import annotations

from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, TextArea

Mode = Literal["reply", "note"]


class Composer(Vertical):
    DEFAULT_CSS = """
    Composer { height: 12; border-top: tall $accent; display: none; }
    Composer.-open { display: block; }
    Composer.-note { border-top: tall $warning; }
    Composer > Label { width: 100%; color: $text-muted; }
    Composer > TextArea { height: 1fr; }
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
        yield Label(id="composer-label")
        yield TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False)

    @property
    def editor(self) -> TextArea:
        return self.query_one(TextArea)

    def open(self, mode: Mode, label: Text, text: str = "") -> None:
        self.mode = mode
        self.set_class(True, "-open")
        self.set_class(mode == "note", "-note")
        self.query_one(Label).update(label)
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
