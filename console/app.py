"""The Frontdesk Textual app: the composition root of the console."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.binding import Binding

from console.screens.queue import QueueScreen, standard_views
from storage.queue import View
from storage.store import Store

POLL_SECONDS = 0.5


class FrontdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Frontdesk"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave Frontdesk"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        me: str,
        views: list[View] | None = None,
        clock: Callable[[], float] = time.time,
        keymap: dict[str, str] | None = None,
        tick: Callable[[], None] | None = None,
        tick_seconds: float = 5.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.me = me
        self.views = views or standard_views(me)
        self.clock = clock
        self._keymap = keymap or {}
        self._tick = tick
        self._tick_seconds = tick_seconds
        self._data_version = store.data_version()

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.push_screen(QueueScreen(self.store, self.views, self.clock))
        # Other processes (sync, other consoles) write the same file: notice their commits.
        self.set_interval(POLL_SECONDS, self._poll_store)
        if self._tick is not None:
            self.set_interval(self._tick_seconds, self._tick)

    def _poll_store(self) -> None:
        version = self.store.data_version()
        if version != self._data_version:
            self._data_version = version
            if isinstance(self.screen, QueueScreen):
                self.screen.refresh_data()
