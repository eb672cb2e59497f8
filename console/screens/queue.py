"""The queue screen: views across channels, the most pressing first."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Static
from textual.worker import Worker

from console import followup
from console.guard import store_write, worker_failed
from console.messages import StoreChanged
from console.render import safe_line
from console.screens.confirm import ConfirmScreen
from console.screens.followup import BlockedScreen, FollowUpChoice, FollowUpScreen
from console.screens.workflow import WorkflowScreen
from console.session import Session
from console.widgets.picker import Picker, canned_choices
from console.widgets.queue_list import QueueList
from console.widgets.search_bar import SearchBar
from storage import queue, search, sync_status
from storage.models import CannedReply, Message
from storage.queue import View
from storage.sanitize import clean_line


def _written_since(since: list[tuple[followup.Rendered, list[Message]]]) -> Text:
    """What was written in the batch's conversations after its review was rendered."""
    text = Text("Written since you opened the review:\n\n", style="bold")
    for item, newer in since:
        text.append_text(
            Text.assemble(
                "#", str(item.conversation_id), " ", safe_line(item.customer, "bold"), ":\n"
            )
        )
        for message in newer[-3:]:
            who = "a colleague replied" if message.direction == "out" else "the customer wrote"
            text.append_text(
                Text.assemble(f"  • {who}: ", safe_line(message.text[:200], "italic"), "\n")
            )
    return text


def standard_views(me: str) -> list[View]:
    """The views on keys 1-8, in order; saved views from the config follow."""
    return queue.standard_views(me)


class QueueScreen(WorkflowScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "search",
            "Search",
            id="queue.search",
            tooltip="Search: words and from: tag: is: channel: before: after:",
        ),
        Binding(
            "x",
            "toggle_select",
            "Select",
            id="queue.select",
            tooltip="Select the conversation for a bulk action",
        ),
        Binding("c", "canned", "Canned", id="queue.canned", tooltip="Answer with a canned reply"),
        Binding(
            "escape",
            "clear_search",
            "Clear search",
            id="queue.clear_search",
            tooltip="Leave the search results for the view before",
            show=False,
        ),
        Binding(
            "F",
            "follow_up",
            "Follow up",
            id="queue.follow_up",
            tooltip="Send a canned reply to every conversation in this view (reviewed first)",
        ),
        Binding(
            "ctrl+x",
            "cancel_follow_up",
            "Cancel follow-up",
            id="queue.cancel_follow_up",
            tooltip="Cancel the last follow-up batch's replies not sent yet",
            show=False,
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

    def __init__(self, session: Session, views: list[View]) -> None:
        super().__init__(session)
        self._store = session.store
        self.views = views
        self.clock = session.clock
        self.agent_name = session.agent_name
        self.me = session.me
        self.counts: dict[str, int] = {}
        self._before_search: View | None = None  # the view a search replaced (escape returns)
        self.last_batch: followup.Batch | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="view-bar")
        yield Static(id="sync-status")
        yield SearchBar(id="search")
        yield QueueList(self._store, self.views[0], clock=self.clock, id="queue")
        yield Footer()

    def on_mount(self) -> None:
        self.queue_list.focus()
        self.refresh_counts()
        self._show_sync_status()

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

    def on_store_changed(self, _: StoreChanged) -> None:
        self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_failed(self, event)

    def refresh_data(self) -> None:
        self.queue_list.reload()
        self.refresh_counts()
        self._show_sync_status()

    def _show_sync_status(self) -> None:
        """One line per `frontdesk sync` account state; hidden while sync never ran (one row
        per account: a sync read is cheap enough for the UI thread)."""
        now = self.clock()
        line = " · ".join(sync_status.describe(s, now) for s in self._store.sync_statuses())
        bar = self.query_one("#sync-status", Static)
        bar.display = bool(line)
        bar.update(safe_line(line))  # details quote servers: no escape sequences reach us

    @work(thread=True, exclusive=True, group="counts", exit_on_error=False)
    def refresh_counts(self) -> None:
        """Counts of every view, on a thread with its own read connection (~ms each)."""
        with self.store.reader() as reader:  # its own connection; read-only stores too
            counts = {v.name: reader.count(v) for v in self.views}
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
            # First, so a narrow terminal or many saved views never cut the count off. A
            # search view is named after the typed query, and a query can be pasted customer
            # text: escapes in it must not reach the terminal.
            found = Text.assemble(
                (f" {clean_line(current.name)} ", "bold reverse"),
                (f" {self.queue_list.total} found · esc clears ", "bold"),
            )
            bar = found + bar
        self.query_one("#view-bar", Static).update(bar)

    @property
    def searching(self) -> bool:
        return self.queue_list.view not in self.views

    # search -------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one(SearchBar).open()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        try:
            view = search.parse(text, me=self.me, agents=self.session.agents)
            self.store.check_search(view)
        except search.SearchError as exc:
            self.notify(str(exc), title="Search", severity="error")
            return
        self.query_one(SearchBar).close()
        if not self.searching:
            self._before_search = self.queue_list.view
        self.show_view(view)
        self.queue_list.focus()

    def action_clear_search(self) -> None:
        """Escape: back to the view the search replaced (nothing to do without a search)."""
        if self.searching:
            self.show_view(self._before_search or self.views[0])
            self._before_search = None

    def action_back(self) -> None:
        """`q`: clear a search first; on a plain view, ask before quitting."""
        if self.searching:
            self.action_clear_search()
        else:
            self.session.ask_quit()

    def on_search_bar_cancelled(self) -> None:
        self.queue_list.focus()

    # actions ----------------------------------------------------------------------------

    def targets(self) -> list[int]:
        qlist = self.queue_list
        if qlist.selected:
            return sorted(qlist.selected)
        current = qlist.current_id()
        return [] if current is None else [current]

    def after_change(self) -> None:
        self.queue_list.selected.clear()
        self.refresh_data()

    def action_toggle_select(self) -> None:
        self.queue_list.toggle_selected()
        count = len(self.queue_list.selected)
        self.notify(f"{count} selected" if count else "Selection cleared", timeout=1.5)

    def action_canned(self) -> None:
        current = self.queue_list.current_id()
        if current is not None:
            self.session.open_conversation(current, canned=True)

    # follow-ups ---------------------------------------------------------------------------

    def action_follow_up(self) -> None:
        ids = sorted(self.queue_list.selected) or list(
            followup.conversations_in(self.store, self.queue_list.view)
        )
        if not ids:
            self.notify("This view is empty", severity="warning")
            return
        replies = {str(r.id): r for r in self.store.canned_replies()}
        choices = canned_choices(list(replies.values()))
        title = f"Follow up with {len(ids)} conversation(s): which canned reply?"
        self.app.push_screen(
            Picker(title, choices), lambda chosen: self._review(ids, replies.get(chosen or ""))
        )

    def _review(self, ids: list[int], reply: CannedReply | None) -> None:
        if reply is None:
            return
        app = self.session
        rendered, blocked = followup.render_batch(self.store, ids, reply, app.agent_name, app.me)
        if blocked:
            self.app.push_screen(BlockedScreen(blocked))
            return
        self.app.push_screen(
            FollowUpScreen(reply.name, rendered),
            lambda choice: self._queue_batch(rendered, choice),
        )

    @store_write
    def _queue_batch(
        self, rendered: list[followup.Rendered], choice: FollowUpChoice | None
    ) -> None:
        if choice is None:
            return
        ticked = [item for item in rendered if item.conversation_id in choice.conversation_ids]
        since = followup.written_since(self.store, ticked)
        if since:  # the collision check, at this send too
            self.app.push_screen(
                ConfirmScreen(_written_since(since), "queue all anyway", no="queue nothing"),
                lambda yes: self._queue_ticked(ticked, choice) if yes else self._nothing(),
            )
            return
        self._queue_ticked(ticked, choice)

    def _nothing(self) -> None:
        self.notify("Nothing queued", timeout=3)

    @store_write
    def _queue_ticked(self, ticked: list[followup.Rendered], choice: FollowUpChoice) -> None:
        app = self.session
        self.last_batch = followup.queue_batch(
            self.store,
            ticked,
            agent_name=app.agent_name,
            agent_email=app.me,
            tag=choice.tag,
            close=choice.close,
        )
        # `u` now means this batch (while no later action is recorded): an older action is
        # never undone over it.
        self.actions.last = None
        self.after_change()
        self.notify(f"{len(ticked)} replies queued (ctrl+x or u cancels those not sent yet)")

    @store_write
    def action_cancel_follow_up(self) -> None:
        if not self.last_batch:
            self.notify("No follow-up batch to cancel", severity="warning")
            return
        batch, self.last_batch = self.last_batch, None
        cancelled, gone = self.store.cancel_follow_up(
            batch.id, batch.snapshot, self.session.agent_name
        )
        self.refresh_data()
        self.notify(
            f"Cancelled {cancelled} queued replies; their conversations are as they were"
            + (f" ({gone} already went out)" if gone else "")
        )

    def action_undo(self) -> None:
        """`u` right after a follow-up batch cancels it (as ctrl+x); otherwise as usual."""
        if self.last_batch is not None and self.actions.last is None:
            self.action_cancel_follow_up()
            return
        super().action_undo()

    def step_from(self, conversation_id: int, step: int) -> int | None:
        """The neighbour of a conversation in this view (for J/K in the conversation)."""
        qlist = self.queue_list
        if qlist.current_id() != conversation_id:
            return None
        qlist.cursor += step
        moved = qlist.current_id()
        return None if moved == conversation_id else moved
