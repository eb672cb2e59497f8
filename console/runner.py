"""Glue between the CLI and the headless runner in connectors/."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from connectors.progress import for_terminal, reporting
from connectors.runner import run_forever, run_once
from connectors.secrets import SecretSource
from console.config import FrontdeskConfig
from storage.aio import AsyncStore
from storage.store import Store
from storage.sync_status import Heartbeat


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
        if once:
            return await run_once(astore, config.accounts)
        await run_forever(astore, config.accounts)
        return []
    finally:
        await astore.aclose()
