"""The queue screen: views across channels, the most pressing first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.widgets.queue_list import QueueList
from console.widgets.search_bar import SearchBar
from storage import queue, search
from storage.queue import View
from storage.store import Store


def standard_views(me: str) -> list[View]:
    """The views on keys 1-8, in order; saved views from the config follow."""
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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "search",
            "Search",
            id="queue.search",
            tooltip="Search: words and from: tag: is: channel: before: after:",
        ),
        Binding(
            "e",
            "close_conversation",
            "Close",
            id="queue.close",
            tooltip="Close the conversation under the cursor",
        ),
        Binding(
            "o",
            "reopen",
            "Reopen",
            id="queue.reopen",
            tooltip="Reopen the conversation under the cursor",
        ),
        Binding(
            "A",
            "assign_me",
            "Assign me",
            id="queue.assign_me",
            tooltip="Assign the conversation under the cursor to me",
        ),
        *[
            Binding(
                str(n),
                f"view({n - 1})",
                f"View {n}",
                id=f"queue.view_{n}",
                show=False,
                tooltip=f"Switch to view {n}",
            )
            for n in range(1, 10)
        ],
    ]

    def __init__(
        self,
        store: Store,
        views: list[View],
        clock: Callable[[], float],
        *,
        agent_name: str,
        me: str,
    ) -> None:
        super().__init__()
        self.store = store
        self.views = views
        self.clock = clock
        self.agent_name = agent_name
        self.me = me
        self.counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="view-bar")
        yield SearchBar(id="search")
        yield QueueList(self.store, self.views[0], clock=self.clock, id="queue")
        yield Footer()

    def on_mount(self) -> None:
        self.queue_list.focus()
        self.refresh_counts()

    @property
    def queue_list(self) -> QueueList:
        return self.query_one(QueueList)

    # views --------------------------------------------------------------------------------

    def action_view(self, index: int) -> None:
        if index < len(self.views):
            self.show_view(self.views[index])

    def show_view(self, view: View) -> None:
        self.queue_list.show_view(view)
        self._show_view_bar()

    def refresh_data(self) -> None:
        self.queue_list.reload()
        self.refresh_counts()

    @work(thread=True, exclusive=True, group="counts")
    def refresh_counts(self) -> None:
        """Counts of every view, on a thread with its own read connection (~ms each)."""
        conn = sqlite3.connect(f"file:{self.store.path}?mode=ro", uri=True)
        try:
            counts = {v.name: queue.count(conn, v) for v in self.views}
        finally:
            conn.close()
        self.app.call_from_thread(self._set_counts, counts)

    def _set_counts(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._show_view_bar()

    def _show_view_bar(self) -> None:
        current = self.queue_list.view
        bar = Text()
        for n, view in enumerate(self.views, start=1):
            count = self.counts.get(view.name)
            label = f" {n} {view.name}" + (f" {count}" if count is not None else "") + " "
            bar.append(label, style="bold reverse" if view == current else "")
        if current not in self.views:
            bar.append(f" {current.name} ", style="bold reverse")
            bar.append(f" {self.queue_list.total} found", style="dim")
        self.query_one("#view-bar", Static).update(bar)

    # search -------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one(SearchBar).open()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        try:
            view = search.parse(text, me=self.me)
            search.check(self.store.conn, view)
        except search.SearchError as exc:
            self.notify(str(exc), title="Search", severity="error")
            return
        self.query_one(SearchBar).close()
        self.show_view(view)
        self.queue_list.focus()

    def on_search_bar_cancelled(self) -> None:
        self.queue_list.focus()

    # actions on the conversation under the cursor -----------------------------------------

    def _current(self) -> int | None:
        current = self.queue_list.current_id()
        if current is None:
            self.notify("No conversation here", severity="warning")
        return current

    def action_close_conversation(self) -> None:
        if (cid := self._current()) is not None:
            self.store.close_conversation(cid, self.agent_name)
            self.refresh_data()

    def action_reopen(self) -> None:
        if (cid := self._current()) is not None:
            self.store.reopen(cid, self.agent_name)
            self.refresh_data()

    def action_assign_me(self) -> None:
        if (cid := self._current()) is not None:
            self.store.assign(cid, self.agent_name, self.me)
            self.refresh_data()

    def step_from(self, conversation_id: int, step: int) -> int | None:
        """The neighbour of a conversation in this view (for J/K in the conversation)."""
        qlist = self.queue_list
        if qlist.current_id() != conversation_id:
            return None
        qlist.cursor += step
        moved = qlist.current_id()
        return None if moved == conversation_id else moved
