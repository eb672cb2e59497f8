"""A store the console cannot use (disk full, read-only, locked by another process) is told to
the agent; the console goes on.

Textual stops a widget's message loop after an unhandled exception, and a thread worker's error
ends the app, so store errors take one route: `store_trouble` says whether an error is the
store's (and what to tell), `store_write` guards each action, send, note, heartbeat and timer,
and `worker_failed` is where every thread worker's error lands (they run with
`exit_on_error=False`). Any other error is a bug: it propagates as before.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from textual.worker import Worker, WorkerState

from storage.db import ReadError, StoreError

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)
_BUSY, _LOCKED = 5, 6  # SQLite primary result codes


class Notifier(Protocol):
    def notify(self, message: str, *, title: str = "", severity: Any = ...) -> None: ...


def store_trouble(error: BaseException) -> str | None:
    """What to tell the agent when `error` is the store's and the console can go on, else None."""
    if isinstance(error, StoreError):
        return str(error)
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if isinstance(error, ReadError) and code in (_BUSY, _LOCKED):  # busy, locked: only those
        return "the store is locked by another process; the console tries again by itself"
    return None


def store_write(method: Callable[P, T]) -> Callable[P, T | None]:
    """Decorate a screen or app method that writes to the store."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return method(*args, **kwargs)
        except (StoreError, ReadError) as exc:
            problem = store_trouble(exc)
            if problem is None:
                raise
            log.error("%s: %s", method.__qualname__, problem)
            owner: Notifier = args[0]  # type: ignore[assignment]
            owner.notify(problem, title="Not saved", severity="error")
            return None

    return guarded


def worker_failed(owner: Notifier, event: Worker.StateChanged) -> None:
    """The one route of a thread worker's error: a store's is told, anything else raised."""
    error = event.worker.error
    if event.state != WorkerState.ERROR or error is None:
        return
    problem = store_trouble(error)
    if problem is None:
        raise error
    log.error("worker %s: %s", event.worker.name, problem)
    owner.notify(problem, title="Store", severity="error")
