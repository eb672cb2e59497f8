"""Progress of long syncs, for someone watching a terminal; silence for everyone else.

Connectors report with ``track(account, folder, total)``, which returns a `FolderProgress`:
``update(done)`` after each stored batch, ``finish()`` once (also when the folder failed).
With no sink installed, the default (cron, CI, the console, tests), it does nothing.
``frontdesk sync`` installs a `TerminalProgress` on stderr when stderr is a terminal
(`for_terminal`), with ``reporting(sink)``. The sink travels in a context variable, so the
connectors' signatures stay as they are and every asyncio task started inside inherits it.

`TerminalProgress` draws one line and rewrites it in place (carriage return, erase to the
end of the line), at most every `REDRAW_INTERVAL` seconds: each folder being fetched as
"account: folder done/total messages, rate, time left"; folders synced at once (live
accounts run side by side) share the line. A folder shows only when it has more than
`MIN_TOTAL` messages to fetch, so a long sync does and the one new message IDLE announced
does not. When a folder finishes, its summary ("account: folder N messages in 7.2 s (1,390
msg/s)", or "stopped at N/M" when it failed) stays above the live line.

`StatusLine` puts the same figures in the account's sync status, which the console shows
("support-mail: syncing (INBOX 1,200/10,000 messages, 1,450 msg/s, 7 s left)"): written at
most every `STATUS_INTERVAL` seconds while a long fetch runs, whatever stderr is, and the
status it replaced is put back when the folder is done.

Account and folder names may come from a server: they are cleaned like mail text. A
terminal that goes away (EIO, a closed stream) ends the display, never the sync.
"""

from __future__ import annotations

import math
import os
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TextIO

from storage.aio import AsyncStore
from storage.sanitize import clean_line
from storage.store import Store
from storage.sync_status import SyncState

MIN_TOTAL = 100  # messages to fetch before a folder's progress is shown (one batch)
REDRAW_INTERVAL = 0.1  # seconds between redraws of the live line
STATUS_INTERVAL = 1.0  # seconds between writes of the account's sync status
ERASE_LINE_END = "\x1b[K"
FALLBACK_WIDTH = 80


class FolderProgress(Protocol):
    def update(self, done: int) -> None:
        """`done` messages of the folder's total are stored."""

    def finish(self) -> None:
        """The folder's pass is over (completely, or it failed at the last `done`)."""


class ProgressSink(Protocol):
    def folder(self, account: str, folder: str, total: int) -> FolderProgress:
        """A folder of `account` starts fetching `total` messages."""


class _Silent:
    def update(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


SILENT: FolderProgress = _Silent()
_SINK: ContextVar[ProgressSink | None] = ContextVar("frontdesk_sync_progress", default=None)


def track(account: str, folder: str, total: int) -> FolderProgress:
    """The progress of one folder's fetch, reported to the installed sink (if any)."""
    sink = _SINK.get()
    return SILENT if sink is None else sink.folder(account, folder, total)


@contextmanager
def reporting(sink: ProgressSink | None) -> Iterator[None]:
    """Install `sink` for the code (and the asyncio tasks it starts) inside the block."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def for_terminal(stream: TextIO) -> TerminalProgress | None:
    """A display on `stream` if it is a terminal that understands erasing a line; else None."""
    try:
        interactive = stream.isatty()
    except (OSError, ValueError):  # closed or detached
        return None
    if not interactive or os.environ.get("TERM") == "dumb":
        return None
    return TerminalProgress(stream)


@dataclass(eq=False, slots=True)
class _Folder:
    label: str  # "account: folder", cleaned
    total: int
    started: float
    done: int = 0


class TerminalProgress:
    """One line on a terminal, rewritten in place; see the module docstring."""

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] | None = None,
        min_total: int = MIN_TOTAL,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._width = width or (lambda: _terminal_width(stream))
        self._min_total = min_total
        self._active: list[_Folder] = []
        self._drawn_at = -math.inf
        self._live = False  # a live line is on screen
        self._broken = False  # the terminal went away: draw nothing more

    def folder(self, account: str, folder: str, total: int) -> FolderProgress:
        if total <= self._min_total:
            return SILENT
        entry = _Folder(clean_line(f"{account}: {folder}"), total, self._clock())
        self._active.append(entry)
        self._redraw(force=True)
        return _Tracker(self, entry)

    def _update(self, entry: _Folder, done: int) -> None:
        entry.done = max(0, min(done, entry.total))
        self._redraw(force=entry.done == entry.total)

    def _finish(self, entry: _Folder) -> None:
        if entry not in self._active:
            return
        self._active.remove(entry)
        summary = finished_text(entry.label, entry.done, entry.total, self._elapsed(entry))
        self._write(f"\r{self._fit(summary)}{ERASE_LINE_END}\n")
        self._live = False
        self._redraw(force=True)

    def _redraw(self, *, force: bool) -> None:
        now = self._clock()
        if not force and now - self._drawn_at < REDRAW_INTERVAL:
            return
        self._drawn_at = now
        if self._active:
            line = " | ".join(
                live_text(e.label, e.done, e.total, now - e.started) for e in self._active
            )
            self._write(f"\r{self._fit(line)}{ERASE_LINE_END}")
            self._live = True
        elif self._live:
            self._write(f"\r{ERASE_LINE_END}")
            self._live = False

    def _elapsed(self, entry: _Folder) -> float:
        return self._clock() - entry.started

    def _fit(self, line: str) -> str:
        # The last column is left free: writing into it makes some terminals wrap, and a
        # wrapped line can no longer be rewritten with a carriage return.
        return fit_cells(line, max(self._width() - 1, 10))

    def _write(self, text: str) -> None:
        if self._broken:
            return
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal is gone (EIO) or the stream closed
            self._broken = True


@dataclass(frozen=True, slots=True)
class _Tracker:
    display: TerminalProgress
    entry: _Folder

    def update(self, done: int) -> None:
        self.display._update(self.entry, done)

    def finish(self) -> None:
        self.display._finish(self.entry)


class StatusLine:
    """A long fetch's figures in the account's sync status (see the module docstring)."""

    def __init__(
        self,
        store: AsyncStore,
        account: tuple[int, str],  # id and name
        folder: str,
        total: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, (self._account_id, self._account) = store, account
        self._folder, self._total = clean_line(folder), total
        self._clock = clock
        self._started = clock()
        self._written_at = -math.inf
        self._before: tuple[SyncState, str] | None = None  # None: nothing written yet

    @property
    def shown(self) -> bool:
        return self._total > MIN_TOTAL

    async def update(self, done: int) -> None:
        """Write `done` of the total, unless written less than STATUS_INTERVAL ago."""
        now = self._clock()
        if not self.shown or now - self._written_at < STATUS_INTERVAL:
            return
        if self._before is None:
            self._before = await self._store.call(_current_status, self._account)
        self._written_at = now
        text = live_text(self._folder, done, self._total, now - self._started)
        await self._store.call(Store.set_sync_status, self._account_id, "syncing", text)

    async def finish(self) -> None:
        """Put back the status the figures replaced."""
        if self._before is not None:
            state, detail = self._before
            await self._store.call(Store.set_sync_status, self._account_id, state, detail)


def _current_status(store: Store, account: str) -> tuple[SyncState, str]:
    for status in store.sync_statuses():
        if status.account == account:
            return status.state, status.detail
    return "syncing", ""


# --- the texts


def live_text(label: str, done: int, total: int, elapsed: float) -> str:
    """The live text, e.g. "work: INBOX 1,200/10,000 messages, 1,450 msg/s, 7 s left"."""
    text = f"{label} {done:,}/{total:,} messages"
    if done <= 0 or elapsed <= 0:
        return text  # no rate yet, so no estimate either
    rate = done / elapsed
    text += f", {format_rate(rate)}"
    if done < total:
        text += f", {format_duration((total - done) / rate)} left"
    return text


def finished_text(label: str, done: int, total: int, elapsed: float) -> str:
    """E.g. "work: INBOX 10,000 messages in 7.2 s (1,390 msg/s)", or where a pass stopped."""
    if done < total:
        return f"{label} stopped at {done:,}/{total:,} messages after {format_duration(elapsed)}"
    text = f"{label} {total:,} messages in {format_duration(elapsed)}"
    return f"{text} ({format_rate(total / elapsed)})" if elapsed > 0 else text


def format_rate(rate: float) -> str:
    return f"{rate:,.1f} msg/s" if rate < 10 else f"{rate:,.0f} msg/s"


def format_duration(seconds: float) -> str:
    """Short, never a false precision: "0.4 s", "42 s", "3 min 05 s", "2 h 07 min"."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f} s"
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = math.ceil(whole / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def fit_cells(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells (wide East Asian characters take two)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if used > width:
            return text[:index]
    return text


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or FALLBACK_WIDTH
    except (OSError, ValueError):
        return FALLBACK_WIDTH
