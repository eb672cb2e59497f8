"""Glue between the CLI and the headless runner in connectors/."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from connectors.progress import for_terminal, reporting
from connectors.runner import run_forever, run_once
from connectors.secrets import SecretSource
from console.config import FrontdeskConfig
from console.surveys import ask_nps
from storage.aio import AsyncStore
from storage.db import StoreError
from storage.store import Store
from storage.sync_status import Heartbeat

log = logging.getLogger(__name__)
NPS_EVERY = 600.0  # seconds between two NPS passes of a running sync


def secret_sources(config: FrontdeskConfig) -> list[tuple[int, str, SecretSource]]:
    return [
        (index, key, source)
        for index, account in enumerate(config.accounts)
        for key, source in account.secret_sources()
    ]


def run_sync(store: Store, config: FrontdeskConfig, *, once: bool) -> list[str]:
    """Run the connectors on the store's file; return the failures of a `--once` pass.

    Long folder fetches show their progress on stderr when it is a terminal (silent in cron
    and CI: connectors/progress.py)."""
    path, policy = store.path, store.policy
    progress = for_terminal(sys.stderr)
    # The console tells a dead sync from a quiet one by the heartbeat.
    with Heartbeat(path), reporting(progress):
        return asyncio.run(_run(lambda: Store(path, policy=policy), config, once))


async def _run(factory: Callable[[], Store], config: FrontdeskConfig, once: bool) -> list[str]:
    astore = AsyncStore(factory)
    try:
        await ask_nps(astore, config)  # before the pass: its outbox delivers them
        if once:
            return await run_once(astore, config.accounts)
        asking = asyncio.create_task(_ask_nps_now_and_then(astore, config))
        try:
            await run_forever(astore, config.accounts)
        finally:
            asking.cancel()
        return []
    finally:
        await astore.aclose()


async def _ask_nps_now_and_then(astore: AsyncStore, config: FrontdeskConfig) -> None:
    """NPS surveys fall due by the calendar: a look every NPS_EVERY seconds is soon enough."""
    if config.surveys.nps_policy() is None:
        return
    while True:
        await asyncio.sleep(NPS_EVERY)
        try:
            await ask_nps(astore, config)
        except StoreError as exc:  # the connectors' pass reports a store that cannot be written
            log.warning("NPS pass skipped: %s", exc)
