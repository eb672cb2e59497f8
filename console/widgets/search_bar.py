"""`/`: search with operators; Enter shows the results as a view, Escape leaves."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from storage.sanitize import clean_line

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

    def _on_paste(self, event: events.Paste) -> None:
        # A pasted line may be customer text with escape sequences in it: the box paints it and
        # the view bar repeats it. Clean it here; Input's own handler (run after this one, as
        # Textual dispatches handlers down the class hierarchy) then inserts the result.
        first = event.text.splitlines()[0] if event.text.strip() else ""
        event.text = clean_line(first)

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")

    def action_leave(self) -> None:
        self.close()
        self.post_message(self.Cancelled())
