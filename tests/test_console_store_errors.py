"""A store the console cannot use for a while (another process holds its write lock) is told to
the agent and the console goes on: no worker, timer or action ends the app over it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage.db
from console.app import FrontdeskApp
from storage import knowledge
from storage.store import Store
from tests.conftest import FakeClock
from tests.waits import until_async

ARTICLE = "---\ntitle: Reset your password\n---\nOpen Settings and choose Reset password.\n"


@pytest.fixture
def quick_store(
    db_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    # A lock held past the busy timeout is what the agent meets; 0.1 s keeps the test quick.
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 100)
    store = Store(db_path, clock=clock)
    yield store
    store.close()


def _told(app: FrontdeskApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_locked_store_is_told_and_the_console_goes_on(
    quick_store: Store, db_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "reset.md").write_text(ARTICLE, encoding="utf-8")
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    app = FrontdeskApp(quick_store, me="sam@example.com", knowledge_folder=folder)
    try:
        async with app.run_test() as pilot:
            # The knowledge reindex (a thread worker) cannot write: the agent hears why.
            await until_async(
                lambda: any("locked" in told for told in _told(app)), "a 'locked' notification"
            )
            assert app.is_running
            locker.execute("ROLLBACK")  # the other process lets go: the next pass indexes
            await until_async(
                lambda: knowledge.search(quick_store.conn, "password"), "the article indexed"
            )
            await pilot.press("j")  # and the console still answers keys
            assert app.is_running and app.return_code is None
    finally:
        locker.close()
