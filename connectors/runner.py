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
from connectors.slack_settings import SlackAccountSettings
from storage import checkins
from storage.aio import AsyncStore
from storage.store import Store

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


async def run_once(store: AsyncStore, accounts: Sequence[AccountSettings]) -> list[str]:
    """One full pass over every account; returns one line per failed account."""
    failures = []
    for settings in accounts:
        problem = await _sync_account(store, settings)
        if problem:
            failures.append(f"{settings.name}: {problem}")
    await store.call(Store.wake_due)
    await store.call(checkins.create_due)  # key accounts quiet for too long
    return failures


async def _sync_account(store: AsyncStore, settings: AccountSettings) -> str | None:
    factory = CONNECTORS.get(settings.kind)
    if factory is None:
        return f"no connector is available for kind {settings.kind!r} yet; nothing was synced"
    account_id = await store.call(Store.ensure_account, settings.name, settings.kind)
    try:
        await factory(settings, account_id).sync_once(store)
    except Exception as exc:  # one account failing must not stop the others
        return f"{type(exc).__name__}: {exc}"
    return None


async def run_forever(store: AsyncStore, accounts: Sequence[AccountSettings]) -> None:
    """Until cancelled: live accounts follow their channel as it happens (`run_live`), the
    others get a pass every WAKE_INTERVAL; snoozes are woken on time."""
    live = [a for a in accounts if a.kind in LIVE_KINDS]
    tasks = [asyncio.create_task(_supervise_live(store, a)) for a in live]
    polled = [a for a in accounts if a not in live]
    try:
        while True:
            await run_once(store, polled)
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
        try:
            await cast(LiveConnector, connector).run_live(store)
        except Exception:
            log.exception("%s: the live sync stopped; restarting", settings.name)
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
