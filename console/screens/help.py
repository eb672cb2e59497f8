"""`?`: every key, by screen, with what it does — after the admin's `[keys]` remapping."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.keymap import BoundKey, display
from console.macros import Macro

SCOPE_TITLES = {
    "everywhere": "Everywhere",
    "queue": "Queue",
    "conversation": "Conversation",
    "composer": "Composer",
    "reports": "Reports",
}
EXTRA = [
    ("Everywhere", "ctrl+p", "Command palette: every action, macro and view, searchable"),
    ("Everywhere", "ctrl+c", "Copy in a text field (quit is ctrl+q)"),
    ("Composer", "??", "At a word start or alone: search the knowledge base"),
    ("Composer", ";name space", "A canned reply's shortcut (;ty) then space or tab: insert it"),
]


def key_table(rows: Sequence[BoundKey], macros: Sequence[Macro] = ()) -> Table:
    """The rows of `console.keymap.key_map` (the app hands them in), then the extras."""
    table = Table(expand=True, box=None, padding=(0, 1), show_header=True)
    table.add_column("Where", style="dim", width=14)
    table.add_column("Keys", style="bold", width=16)
    table.add_column("Action")
    table.add_column("Id", style="dim")
    for row in rows:
        keys = display(row.keys)
        action = row.tooltip or row.description
        table.add_row(SCOPE_TITLES.get(row.scope, row.scope), keys, action, row.binding_id)
    for where, keys, action in EXTRA:
        table.add_row(where, keys, action, "")
    for macro in macros:
        table.add_row("Everywhere", Text(macro.key), Text(f"Macro: {macro.name}"), "macro")
    return table


# The queue's marks (console/widgets/queue_list.py), as the agent sees them.
LEGEND = (
    (Text("★"), "advanced tier (key account)"),
    (Text("·"), "basic tier"),
    (Text("✉  #"), "email, Slack"),
    (Text("●"), "selected for a bulk action (x)"),
    (Text("bold row", style="bold"), "unread: something new since you last opened it"),
    (Text("over 2h", style="bold red"), "SLA breached (red), due soon (yellow)"),
    (Text("woken", style="bold green"), "back from a snooze: the customer wrote or it is time"),
    (Text("O P Z C W"), "narrow terminal: open, pending, snoozed, closed, woken (+ assignee)"),
)


def legend_table() -> Table:
    table = Table(expand=True, box=None, padding=(0, 1), show_header=False)
    table.add_column("Mark", width=16)
    table.add_column("Meaning")
    for mark, meaning in LEGEND:
        table.add_row(mark, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding(
            "escape,q,question_mark",
            "dismiss",
            "Close",
            id="help.close",
            tooltip="Close the key map",
        ),
    ]

    def __init__(self, rows: Sequence[BoundKey], macros: Sequence[Macro] = ()) -> None:
        super().__init__()
        self.rows = rows
        self.macros = macros

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("What the queue's marks mean", style="bold"))
            yield Static(legend_table())
            yield Static(Text("\nKeys — remap any id in [keys] of the config file", style="bold"))
            yield Static(key_table(self.rows, self.macros))
