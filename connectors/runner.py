"""Supervises the channels headless: ingest, outbox delivery, snooze wake-ups.

`frontdesk sync --once` calls `run_once`; the channels plug in through
`connectors.registry.CHANNELS`. A kind with no channel is reported as a failure, never as
synced. A failure is classified by the channel-neutral errors of `connectors.base`, which each
channel raises at its edge: this module knows no channel library and no kind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import cast

from connectors.base import AuthFailed, LiveConnector, Transient
from connectors.redact import redact
from connectors.registry import CHANNELS, AccountSettings
from storage.aio import AsyncStore
from storage.db import StoreError
from storage.delivery import OutboxProblem
from storage.sanitize import clean_line
from storage.store import Store
from storage.sync_status import SyncState

WAKE_INTERVAL = 30.0
LIVE_RESTART_DELAY = 30.0
log = logging.getLogger(__name__)


async def run_once(
    store: AsyncStore, accounts: Sequence[AccountSettings], *, retry_in: float | None = None
) -> list[str]:
    """One full pass over every account; returns one line per failed account and per reply
    that failed, is uncertain or is held.

    `retry_in`: when the next pass will come (run_forever), shown with a failed account."""
    failures = []
    for settings in accounts:
        problems = await _sync_account(store, settings, retry_in)
        failures += [f"{settings.name}: {problem}" for problem in problems]
    await store.call(Store.wake_due)
    await store.call(Store.raise_checkins)  # key accounts quiet for too long
    return failures


async def _sync_account(
    store: AsyncStore, settings: AccountSettings, retry_in: float | None
) -> list[str]:
    """One account's pass; returns its problems: the pass failing, and every reply of the
    account that failed, is uncertain or is held (each naming its conversation and why)."""
    account_id = await store.call(Store.ensure_account, settings.name, settings.kind)
    channel = CHANNELS.get(settings.kind)
    if channel is None:
        problem = f"no connector is available for kind {settings.kind!r} yet; nothing was synced"
        await store.call(Store.set_sync_status, account_id, "error", problem)
        return [problem]
    await store.call(Store.set_sync_status, account_id, "syncing")
    connector = channel.connect(settings, account_id)
    try:
        await connector.sync_once(store)
    except StoreError:
        raise  # the store cannot be written (disk full...): no other account can sync either
    except Exception as exc:  # one account failing must not stop the others
        await _record_failure(store, account_id, exc, retry_in)
        # A server's reply may quote the password back: mask secrets before printing.
        problem = redact(f"{type(exc).__name__}: {exc}")
        return [problem, *await _reply_problems(store, account_id)]
    problems = await store.call(Store.outbox_problems, account_id)
    note = connector.delivery_note
    await store.call(Store.set_sync_status, account_id, "idle", delivery_status(note, problems))
    return [_reply_line(p) for p in problems if p.state in UNSENT]


UNSENT = frozenset({"failed", "uncertain", "held", "sending"})


async def _reply_problems(store: AsyncStore, account_id: int) -> list[str]:
    problems = await store.call(Store.outbox_problems, account_id)
    return [_reply_line(p) for p in problems if p.state in UNSENT]


def _reply_line(problem: OutboxProblem) -> str:
    subject = f" ({problem.subject})" if problem.subject else ""
    state = problem.state if problem.state == "failed" else f"is {problem.state}"
    # The subject and a server's answer are outsiders' text: one line, no control sequences.
    line = f"reply in conversation #{problem.conversation_id}{subject} {state}: {problem.reason}"
    return clean_line(redact(line))  # stored masked; a store written before may not be


def delivery_status(note: str | None, problems: Sequence[OutboxProblem]) -> str:
    """The sync status detail: standing by, and the delivery problems, counted."""
    parts = [note] if note else []
    counts: dict[str, int] = {}
    for problem in problems:
        counts[problem.state] = counts.get(problem.state, 0) + 1
    parts += [f"{n} {'reply' if n == 1 else 'replies'} {state}" for state, n in counts.items()]
    copies = [p.reason for p in problems if p.state == "copy failed"]
    if copies:
        parts.append(copies[0])
    return "; ".join(parts)


async def _record_failure(
    store: AsyncStore, account_id: int, exc: Exception, retry_in: float | None
) -> None:
    state, reason = classify(exc)
    await store.call(Store.set_sync_status, account_id, state, redact(reason), retry_in)


def classify(exc: Exception) -> tuple[SyncState, str]:
    """The status an account's failure shows: a refused login needs the admin (no retry will
    fix it), a network problem fixes itself, anything else is an error to look at."""
    if isinstance(exc, AuthFailed):
        return "auth failed", str(exc)
    if _chain_has(exc, ConnectionRefusedError):
        return "retrying", "connection refused"
    if isinstance(exc, Transient) or _chain_has(exc, OSError):  # refused, reset, unreachable
        return "retrying", str(exc) or type(exc).__name__
    return "error", f"{type(exc).__name__}: {exc}"


def _chain_has(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):  # bounded: a cause chain can in principle loop
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__  # only explicit causes: a __context__ may be unrelated
    return False


async def run_forever(store: AsyncStore, accounts: Sequence[AccountSettings]) -> None:
    """Until cancelled: live accounts follow their channel as it happens (`run_live`), the
    others get a pass every WAKE_INTERVAL; snoozes are woken on time."""
    live = [a for a in accounts if a.kind in CHANNELS and CHANNELS[a.kind].live]
    tasks = [asyncio.create_task(_supervise_live(store, a)) for a in live]
    polled = [a for a in accounts if a not in live]
    try:
        while True:
            await run_once(store, polled, retry_in=WAKE_INTERVAL)
            await asyncio.sleep(WAKE_INTERVAL)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _supervise_live(store: AsyncStore, settings: AccountSettings) -> None:
    """Run an account's live loop, restarting it (after a pause) whenever it fails."""
    account_id = await store.call(Store.ensure_account, settings.name, settings.kind)
    while True:
        connector = CHANNELS[settings.kind].connect(settings, account_id)
        await store.call(Store.set_sync_status, account_id, "syncing", "live")
        try:
            await cast(LiveConnector, connector).run_live(store)
        except Exception as exc:
            log.exception("%s: the live sync stopped; restarting", settings.name)
            await _record_failure(store, account_id, exc, LIVE_RESTART_DELAY)
        await asyncio.sleep(LIVE_RESTART_DELAY)
