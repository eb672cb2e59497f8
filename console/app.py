"""The Frontdesk Textual app: the composition root of the console."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from textual.app import App
from textual.binding import Binding

from console import keymap
from console.commands import ActionsProvider
from console.screens.conversation import ConversationScreen
from console.screens.help import HelpScreen
from console.screens.queue import QueueScreen, standard_views
from console.widgets.queue_list import QueueList
from storage.queue import View
from storage.store import Store

POLL_SECONDS = 0.5


class FrontdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Frontdesk"
    COMMANDS = {ActionsProvider}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave Frontdesk"),
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show every key"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        me: str,
        agent_name: str = "Agent",
        views: list[View] | None = None,
        clock: Callable[[], float] = time.time,
        keys: Mapping[str, str] | None = None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.me = me
        self.agent_name = agent_name
        self.views = views or standard_views(me)
        self.clock = clock
        self.keys = dict(keys or {})
        self._tick = tick
        self._tick_seconds = tick_seconds
        self._data_version = store.data_version()

    def on_mount(self) -> None:
        self.set_keymap(self.keys)
        for problem in keymap.problems(self.keys):
            self.notify(problem, title="Key map", severity="error", timeout=15)
        self.push_screen(self._queue_screen())
        # Other processes (sync, other consoles) write the same file: notice their commits.
        self.set_interval(POLL_SECONDS, self._poll_store)
        if self._tick is not None:
            self.set_interval(self._tick_seconds, self._tick)

    def _queue_screen(self) -> QueueScreen:
        return QueueScreen(
            self.store, self.views, self.clock, agent_name=self.agent_name, me=self.me
        )

    def _poll_store(self) -> None:
        version = self.store.data_version()
        if version != self._data_version:
            self._data_version = version
            refresh = getattr(self.screen, "refresh_data", None)
            if callable(refresh):
                refresh()

    def on_queue_list_opened(self, event: QueueList.Opened) -> None:
        queue_screen = self.screen
        step = queue_screen.step_from if isinstance(queue_screen, QueueScreen) else None
        screen = ConversationScreen(
            self.store,
            event.conversation_id,
            agent_name=self.agent_name,
            agent_email=self.me,
            step=(lambda n: step(screen.conversation_id, n)) if step else None,
        )
        self.push_screen(screen, callback=lambda _: self._back_to_queue())

    def _back_to_queue(self) -> None:
        if isinstance(self.screen, QueueScreen):
            self.screen.refresh_data()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keys))
