"""A write that fails (disk full, read-only store) is told to the agent; the console goes on.

Textual stops a widget's message loop after an unhandled exception, so store errors are caught
where the console writes: around each action, send, note, heartbeat and timer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from storage.db import StoreError

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(self, message: str, *, title: str = "", severity: Any = ...) -> None: ...


def store_write(method: Callable[P, T]) -> Callable[P, T | None]:
    """Decorate a screen or app method that writes to the store."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return method(*args, **kwargs)
        except StoreError as exc:
            log.error("%s: %s", method.__qualname__, exc)
            owner: Notifier = args[0]  # type: ignore[assignment]
            owner.notify(str(exc), title="Not saved", severity="error")
            return None

    return guarded
