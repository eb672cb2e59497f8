"""Servers that refuse: a wrong password, a server dropping every connection at once. Live
sync must wait between tries (no busy loop) and say what is wrong.

Dropped connections mid-FETCH and resuming from the checkpoint: tests/test_imap.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from connectors.runner import run_forever
from storage.aio import AsyncStore
from storage.store import Store
from tests.imap_helpers import PASSWORD_ENV, account_settings
from tests.servers.dovecot import DovecotServer

WATCH = 3.5  # seconds of trying: backoff starts at 0.5-1 s and doubles


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    async_store = AsyncStore(lambda: Store(db_path))
    yield async_store
    await async_store.aclose()


async def _run_live_for(astore: AsyncStore, settings: object, seconds: float) -> None:
    task = asyncio.create_task(run_forever(astore, [settings]))  # type: ignore[list-item]
    await asyncio.sleep(seconds)
    assert not task.done(), task.exception()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_refused_login_is_tried_once_per_restart_and_shown_as_auth_failed(
    dovecot: DovecotServer, astore: AsyncStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    await _run_live_for(astore, account_settings(dovecot), WATCH)

    attempts = dovecot.logs().count("auth failed")
    assert 1 <= attempts <= 2, attempts  # the runner waits LIVE_RESTART_DELAY (30 s)
    store = Store(db_path)
    try:
        (status,) = store.sync_statuses()
    finally:
        store.close()
    assert (status.account, status.state) == ("support-mail", "auth failed")
    assert status.retry_at is not None and status.retry_at - status.updated_at == 30.0


async def test_a_server_dropping_every_connection_is_retried_with_growing_pauses(
    dovecot: DovecotServer, astore: AsyncStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    accepted: list[float] = []

    async def drop(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(time.monotonic())
        writer.close()  # before the greeting: as a server restarting or overloaded

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await _run_live_for(astore, account_settings(dovecot, imap_port=port), WATCH)
    finally:
        server.close()
        await server.wait_closed()

    assert 2 <= len(accepted) <= 6, len(accepted)  # it retries, but not in a loop
    gaps = [b - a for a, b in itertools.pairwise(accepted)]
    assert min(gaps) >= 0.25, gaps
