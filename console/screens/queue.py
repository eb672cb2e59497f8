"""The queue screen: views across channels, newest pressure first."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.widgets.queue_list import QueueList
from storage import queue
from storage.queue import View
from storage.store import Store


def standard_views(me: str) -> list[View]:
    """The views on keys 1-8, in order."""
    return [
        queue.needs_reply(),
        queue.mine(me),
        queue.unassigned(),
        queue.by_status("pending"),
        queue.by_status("snoozed"),
        queue.by_status("closed"),
        queue.by_channel("email"),
        queue.by_channel("slack"),
    ]


class QueueScreen(Screen[None]):
    BINDINGS = [
        Binding(
            str(n),
            f"view({n - 1})",
            f"View {n}",
            id=f"queue.view_{n}",
            show=False,
            tooltip=f"Switch to view {n}",
        )
        for n in range(1, 10)
    ]

    def __init__(self, store: Store, views: list[View], clock: Callable[[], float]) -> None:
        super().__init__()
        self.store = store
        self.views = views
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Static(id="view-bar")
        yield QueueList(self.store, self.views[0], clock=self.clock, id="queue")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(QueueList).focus()
        self._show_view_bar()

    @property
    def queue_list(self) -> QueueList:
        return self.query_one(QueueList)

    def action_view(self, index: int) -> None:
        if index < len(self.views):
            self.queue_list.show_view(self.views[index])
            self._show_view_bar()

    def refresh_data(self) -> None:
        self.queue_list.reload()
        self._show_view_bar()

    def _show_view_bar(self) -> None:
        current = self.queue_list.view
        parts = []
        for n, view in enumerate(self.views, start=1):
            label = f"{n} {view.name}"
            parts.append(f"[b reverse] {label} [/]" if view is current else f" {label} ")
        total = self.queue_list.total
        parts.append(f"  [dim]{total} conversation{'s' if total != 1 else ''}[/]")
        # View names come from our code or the admin's config, never from customers.
        self.query_one("#view-bar", Static).update("".join(parts))
