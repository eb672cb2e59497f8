"""Ask before something the agent may regret (sending over a colleague's reply)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 80; height: auto; max-height: 80%; border: thick $warning; background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("y,ctrl+s", "answer(True)", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Go back"),
    ]

    def __init__(self, question: Text, yes: str, *, no: str = "back to the reply") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Label(Text(f"y: {self.yes} · n/esc: {self.no}"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
