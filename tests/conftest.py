"""Shared fixtures: real SQLite files, and (from tests/servers, tests/slack) real servers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import Store
from tests.servers.fixtures import dovecot, smtp_server  # noqa: F401
from tests.slack.fixtures import local_slack  # noqa: F401

# Times on screen are local: pin the zone so snapshots match on every machine.
os.environ["TZ"] = "UTC"
time.tzset()


class FakeClock:
    """A clock tests move by hand; the store and rules read time only through it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "frontdesk.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store(db_path, clock=clock)
    yield s
    s.close()
