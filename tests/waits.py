"""Waits on a condition with a deadline: the only way a test synchronises (never a bare sleep).

`until` / `until_async` poll a predicate and raise AssertionError naming what was awaited when the
deadline passes, so a regression fails the test instead of hanging it or passing vacuously.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL = 0.01


def until(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Block until `predicate()` is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL)


async def until_async(predicate: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """The asyncio form of `until`: the loop keeps running while we wait."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(POLL)
