"""Supervises the channels headless: ingest, outbox delivery, snooze wake-ups.

`frontdesk sync --once` calls `run_once`; the connectors of each kind plug in through
`CONNECTORS`. A kind with no connector yet is reported as a failure, never as synced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from connectors.imap_settings import ImapAccountSettings
from connectors.slack_settings import SlackAccountSettings
from storage.aio import AsyncStore
from storage.store import Store

AccountSettings = ImapAccountSettings | SlackAccountSettings
WAKE_INTERVAL = 30.0


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
    """Until cancelled: passes over every account, and snoozes woken on time."""
    while True:
        await run_once(store, accounts)
        await asyncio.sleep(WAKE_INTERVAL)
