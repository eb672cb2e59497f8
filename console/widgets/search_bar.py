"""`/`: search with operators; Enter shows the results as a view, Escape leaves."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

PLACEHOLDER = "search: words  from:  tag:  is:open|pending|snoozed|closed  channel:  before: after:"


class SearchBar(Input):
    DEFAULT_CSS = """
    SearchBar { display: none; border: tall $accent; }
    SearchBar.-open { display: block; }
    """
    BINDINGS = [
        Binding(
            "escape", "leave", "Leave search", id="search.leave", tooltip="Leave the search box"
        ),
    ]

    class Cancelled(Message):
        pass

    def __init__(self, **kwargs: object) -> None:
        super().__init__(placeholder=PLACEHOLDER, **kwargs)  # type: ignore[arg-type]

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def action_leave(self) -> None:
        self.close()
        self.post_message(self.Cancelled())
