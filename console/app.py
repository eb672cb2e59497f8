"""The Frontdesk Textual app: the composition root of the console."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.worker import Worker

from console import keymap
from console.actions import Actions
from console.commands import ActionsProvider
from console.guard import store_write, worker_failed
from console.macros import Macro
from console.messages import StoreChanged
from console.screens.queue import QueueScreen, standard_views
from console.screens.workflow import WorkflowScreen
from console.session import Advance, Session
from console.widgets.queue_list import QueueList
from storage.queue import View
from storage.store import Store

POLL_SECONDS = 0.5
KNOWLEDGE_SECONDS = 2.0
WAKE_SECONDS = 30.0
AFTER_START_SECONDS = 0.3


class FrontdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Frontdesk"
    COMMANDS = {ActionsProvider}
    BINDINGS = [
        Binding(
            "q",
            "back",
            "Back",
            id="app.back",
            tooltip="Back one screen; on the queue, asks before quitting",
        ),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit",
            tooltip="Leave Frontdesk at once",
            show=False,
            priority=True,
        ),
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show every key"),
        Binding(
            "R",
            "reports",
            "Reports",
            id="app.reports",
            tooltip="Reports: response times by tier, SLA breaches, check-ins due",
            show=False,
        ),
    ]

    def __init__(
        self,
        store: Store,
        *,
        me: str,
        agent_name: str = "Agent",
        agents: Sequence[tuple[str, str]] = (),
        views: list[View] | None = None,
        macros: Sequence[Macro] = (),
        clock: Callable[[], float] = time.time,
        keys: Mapping[str, str] | None = None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 5.0,
        knowledge_folder: Path | None = None,
        own_addresses: Sequence[str] = (),
        advance: Advance = "next",
        send_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.me = me
        self.agent_name = agent_name
        self.agents = list(agents) or [(agent_name, me)]
        self.views = views or standard_views(me)
        self.macros = list(macros)
        self.clock = clock
        self.keys = dict(keys or {})
        self.actions = Actions(store, agent_name, me)
        # What the screens are handed (they never reach up to the app).
        self.session = Session(
            store,
            self.actions,
            agent_name,
            me,
            self.agents,
            clock,
            open_conversation=self.open_conversation,
            ask_quit=self.ask_quit,
            keys=self.keys,
            # Our mailboxes' addresses (accounts' from_address): never proposed as a recipient.
            own_addresses=[a.lower() for a in own_addresses],
            advance=advance,
            send_delay=send_delay,
        )
        self._tick = tick
        self._tick_seconds = tick_seconds
        self._data_version = store.data_version()
        self.knowledge_folder = knowledge_folder
        self._knowledge_problems: set[str] = set()

    @property
    def own_addresses(self) -> list[str]:
        return self.session.own_addresses

    @property
    def advance(self) -> Advance:
        """After close, snooze or send: "next", "stay" or "queue" (the session's, shared)."""
        return self.session.advance

    @advance.setter
    def advance(self, value: Advance) -> None:
        self.session.advance = value

    @property
    def send_delay(self) -> float:
        """Undo send: seconds a reply waits; 0 = at once."""
        return self.session.send_delay

    def on_mount(self) -> None:
        self.set_keymap(self.keys)
        # After the first frame: the check imports every screen, and the agent sees the queue
        # sooner without waiting for it.
        self.set_timer(AFTER_START_SECONDS, self._after_start)
        for index, macro in enumerate(self.macros):
            self.bind(macro.key, f"macro({index})", description=macro.name, show=False)
        self.push_screen(self._queue_screen())
        # Other processes (sync, other consoles) write the same file: notice their commits.
        self.set_interval(POLL_SECONDS, self._poll_store)
        self.set_interval(WAKE_SECONDS, self.wake_due)
        if self._tick is not None:
            self.set_interval(self._tick_seconds, self._run_tick)
        if self.knowledge_folder is not None:
            self.reindex_knowledge()
            self.set_interval(KNOWLEDGE_SECONDS, self.reindex_knowledge)

    def _after_start(self) -> None:
        for problem in keymap.problems(self.keys, key_scopes(), [m.key for m in self.macros]):
            self.notify(problem, title="Key map", severity="error", timeout=15)
        # Start-up objects live as long as the app: keep them out of the GC's generation-2
        # scans, which otherwise land as ~45 ms pauses inside key handlers.
        gc.freeze()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications quote customer and admin text (queries, names): never as markup.

        Widgets' and screens' `notify` pass `markup=True` explicitly: it is ignored here, so
        `is:[/b]` cannot crash the console nor `[@click=app.quit]` become a clickable action.
        """
        del markup
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _queue_screen(self) -> QueueScreen:
        return QueueScreen(self.session, self.views)

    @store_write
    def _poll_store(self) -> None:
        version = self.store.data_version()
        if version != self._data_version:
            self._data_version = version
            self.refresh_screen()

    def refresh_screen(self) -> None:
        """Tell the screen on top that the store changed (it re-reads if it shows any)."""
        # A screen still composing reads the store when it mounts; while the app shuts down
        # its screens lose their widgets: either way there is nothing to refresh.
        screen = self.screen
        if self.is_running and screen.is_mounted:
            screen.post_message(StoreChanged())

    @store_write
    def _run_tick(self) -> None:
        if self._tick is not None:
            self._tick()

    @store_write
    def wake_due(self) -> None:
        """Snoozes come back on time even when no `frontdesk sync` runs."""
        if self.store.wake_due():
            self.refresh_screen()

    @work(thread=True, exclusive=True, group="knowledge", exit_on_error=False)
    def reindex_knowledge(self) -> None:
        """Pick up new, changed and removed articles without a restart (a stat per file)."""
        assert self.knowledge_folder is not None
        with self.store.writer() as writer:  # a connection of this thread's own
            problems = writer.sync_knowledge(self.knowledge_folder)
        self.call_from_thread(self._report_knowledge, problems)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_failed(self, event)

    def _report_knowledge(self, problems: list[str]) -> None:
        for problem in set(problems) - self._knowledge_problems:
            self.notify(problem, title="Knowledge base: article skipped", severity="warning")
        self._knowledge_problems = set(problems)

    def on_queue_list_opened(self, event: QueueList.Opened) -> None:
        self.open_conversation(event.conversation_id)

    def open_conversation(
        self, conversation_id: int, *, canned: bool = False, reply: bool = False
    ) -> None:
        queue_screen = self.screen
        step = queue_screen.step_from if isinstance(queue_screen, QueueScreen) else None
        from console.screens.conversation import ConversationScreen

        screen = ConversationScreen(
            self.session,
            conversation_id,
            step=(lambda n: step(screen.conversation_id, n)) if step else None,
        )
        self.push_screen(screen, callback=lambda _: self._back_to_queue())
        if canned:
            self.call_after_refresh(screen.action_canned)
        elif reply:
            self.call_after_refresh(screen.action_reply)

    def _back_to_queue(self) -> None:
        self.refresh_screen()

    async def action_back(self) -> None:
        """`q`: what escape does on this screen; on the queue, ask before quitting."""
        screen = self.screen
        if hasattr(screen, "action_back"):
            await screen.run_action("back")
        elif hasattr(screen, "action_cancel"):
            await screen.run_action("cancel")
        elif isinstance(screen, ModalScreen):
            screen.dismiss(None)

    def ask_quit(self) -> None:
        from console.screens.confirm import ConfirmScreen

        question = Text("Quit Frontdesk?", style="bold")
        self.push_screen(
            ConfirmScreen(question, "Quit", no="stay"),
            lambda yes: self.exit() if yes else None,
        )

    def action_help_quit(self) -> None:
        """ctrl+c (often pressed to quit): say how, as plain text."""
        self.notify(
            f"Press {self._key_for('app.quit', 'ctrl+q')} to quit, "
            f"or {self._key_for('app.back', 'q')} on the queue",
            title="Do you want to quit?",
        )

    def _key_for(self, binding_id: str, default: str) -> str:
        keys = self.keys.get(binding_id, default).split(",")[0].strip()
        return keymap.display((keys,))

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.push_screen(HelpScreen(keymap.key_map(self.keys, key_scopes()), self.macros))

    def action_reports(self) -> None:
        from console.screens.reports import ReportsScreen

        if not isinstance(self.screen, ReportsScreen):
            self.push_screen(ReportsScreen(self.store, self.clock))

    def action_macro(self, index: int) -> None:
        screen = self.screen
        if isinstance(screen, WorkflowScreen):
            screen.run_macro(self.macros[index])


def key_scopes() -> dict[str, list[type]]:
    """The key table: what is active together (the app, a screen and its focusable widgets).

    The composition root owns it and hands it to the pure `console.keymap`, for the start-up
    clash check, `?` and `frontdesk check-config`."""
    from console.screens.conversation import ConversationScreen
    from console.screens.reports import ReportsScreen
    from console.widgets.composer import Composer
    from console.widgets.thread_view import ThreadView

    return {
        keymap.EVERYWHERE: [FrontdeskApp],
        "queue": [QueueScreen, QueueList],
        "conversation": [ConversationScreen, ThreadView],
        "composer": [Composer],
        "reports": [ReportsScreen],
    }
