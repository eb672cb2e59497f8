"""Supervises the channels headless: ingest, outbox delivery, snooze wake-ups.

`frontdesk sync --once` calls `run_once`; the connectors of each kind plug in through
`CONNECTORS`. A kind with no connector yet is reported as a failure, never as synced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from connectors.imap_settings import ImapAccountSettings
from connectors.redact import redact
from connectors.slack_settings import SlackAccountSettings
from storage import checkins
from storage.aio import AsyncStore
from storage.db import StoreError
from storage.delivery import OutboxProblem
from storage.sanitize import clean_line
from storage.store import Store
from storage.sync_status import SyncState

AccountSettings = ImapAccountSettings | SlackAccountSettings
WAKE_INTERVAL = 30.0
LIVE_RESTART_DELAY = 30.0
log = logging.getLogger(__name__)


class Connector(Protocol):
    async def sync_once(self, store: AsyncStore) -> None:
        """Ingest what is new since the checkpoints, then deliver this account's outbox."""


ConnectorFactory = Callable[[AccountSettings, int], Connector]

# kind -> factory(settings, account_id); filled in as the channels land.
CONNECTORS: dict[str, ConnectorFactory] = {}


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
    await store.call(checkins.create_due)  # key accounts quiet for too long
    return failures


async def _sync_account(
    store: AsyncStore, settings: AccountSettings, retry_in: float | None
) -> list[str]:
    """One account's pass; returns its problems: the pass failing, and every reply of the
    account that failed, is uncertain or is held (each naming its conversation and why)."""
    account_id = await store.call(Store.ensure_account, settings.name, settings.kind)
    factory = CONNECTORS.get(settings.kind)
    if factory is None:
        problem = f"no connector is available for kind {settings.kind!r} yet; nothing was synced"
        await store.call(Store.set_sync_status, account_id, "error", problem)
        return [problem]
    await store.call(Store.set_sync_status, account_id, "syncing")
    connector = factory(settings, account_id)
    try:
        await connector.sync_once(store)
    except StoreError:
        raise  # the store cannot be written (disk full...): no other account can sync either
    except Exception as exc:  # one account failing must not stop the others
        await _record_failure(store, settings.kind, account_id, exc, retry_in)
        # A server's reply may quote the password back: mask secrets before printing.
        problem = redact(f"{type(exc).__name__}: {exc}")
        return [problem, *await _reply_problems(store, account_id)]
    problems = await store.call(Store.outbox_problems, account_id)
    note = getattr(connector, "delivery_note", None)
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
    return clean_line(line)


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
    store: AsyncStore, kind: str, account_id: int, exc: Exception, retry_in: float | None
) -> None:
    state, reason = classify(kind, exc)
    await store.call(Store.set_sync_status, account_id, state, redact(reason), retry_in)


def classify(kind: str, exc: Exception) -> tuple[SyncState, str]:
    """The status an account's failure shows: a refused login needs the admin (no retry will
    fix it), a network problem fixes itself, anything else is an error to look at."""
    auth = _auth_failure(kind, exc)
    if auth is not None:
        return "auth failed", auth
    if _chain_has(exc, ConnectionRefusedError):
        return "retrying", "connection refused"
    if _transient(kind, exc):
        return "retrying", str(exc) or type(exc).__name__
    return "error", f"{type(exc).__name__}: {exc}"


def _auth_failure(kind: str, exc: Exception) -> str | None:
    # Imported here: the kind's connector has already loaded these modules by now.
    if kind == "imap":
        import aiosmtplib

        from connectors.imap_client import LoginRefused

        if isinstance(exc, LoginRefused | aiosmtplib.SMTPAuthenticationError):
            return str(exc)
    if kind == "slack":
        from slack_sdk.errors import SlackApiError

        if isinstance(exc, SlackApiError):
            error = str(exc.response.get("error", ""))
            if error in SLACK_AUTH_ERRORS:
                return f"Slack said {error}"
    return None


SLACK_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})


def _transient(kind: str, exc: Exception) -> bool:
    if _chain_has(exc, OSError):  # refused, reset, unreachable, timed out
        return True
    if kind == "imap":
        from connectors.imap_client import ConnectionLost

        return isinstance(exc, ConnectionLost)
    return False


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
    live = [a for a in accounts if a.kind in LIVE_KINDS]
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
        connector = CONNECTORS[settings.kind](settings, account_id)
        await store.call(Store.set_sync_status, account_id, "syncing", "live")
        try:
            await cast(LiveConnector, connector).run_live(store)
        except Exception as exc:
            log.exception("%s: the live sync stopped; restarting", settings.name)
            await _record_failure(store, settings.kind, account_id, exc, LIVE_RESTART_DELAY)
        await asyncio.sleep(LIVE_RESTART_DELAY)


class LiveConnector(Connector, Protocol):
    async def run_live(self, store: AsyncStore) -> None:
        """Until cancelled: follow the channel live, catch up, deliver the outbox."""


def _slack(settings: AccountSettings, account_id: int) -> Connector:
    # Imported on first use: slack_sdk and aiohttp stay out of commands that never sync.
    from connectors.slack import SlackConnector

    assert isinstance(settings, SlackAccountSettings)
    return SlackConnector(settings, account_id)


def _imap(settings: AccountSettings, account_id: int) -> Connector:
    from connectors.imap import ImapConnector  # aioimaplib/aiosmtplib load on first use too

    assert isinstance(settings, ImapAccountSettings)
    return ImapConnector(settings, account_id)


CONNECTORS["slack"] = _slack
CONNECTORS["imap"] = _imap
LIVE_KINDS = frozenset({"slack", "imap"})  # kinds whose connector has `run_live`
