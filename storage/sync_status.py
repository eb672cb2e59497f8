"""Per-account sync status: written by the runner around each pass, read by the console.

The sync process also beats a heartbeat (`Heartbeat`, a thread with its own connection): the
state rows say what it was doing, the heartbeat whether it still is. A sync that stopped, or
whose last beat is older than STALE_AFTER, is described as "sync not running since HH:MM".
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from storage.db import StoreError, connect, transaction

SyncState = Literal["syncing", "idle", "retrying", "auth failed", "error"]
DETAIL_LIMIT = 160  # one line of a terminal: the log has the rest
# Tokens that an error message might echo back (Slack xoxb/xoxp/xapp...). Passwords never
# reach a message we build, but a server's reply could quote anything: scrub before storing.
_SECRET = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")
BEAT_EVERY = 10.0  # seconds between heartbeats of a running sync
STALE_AFTER = 45.0  # no beat for this long: the sync is dead


@dataclass(frozen=True)
class SyncStatus:
    account: str
    state: SyncState
    detail: str
    retry_at: float | None
    updated_at: float
    # The sync process's last heartbeat, and when it ended cleanly (None: still running, or
    # killed): None, None when no sync with a heartbeat ever ran.
    beat_at: float | None = None
    stopped_at: float | None = None

    def dead_since(self, now: float) -> float | None:
        """When the sync last showed life, if it is not running any more; else None."""
        if self.beat_at is None:
            return None
        if self.stopped_at is not None:
            return self.stopped_at
        return self.beat_at if now - self.beat_at > STALE_AFTER else None


def scrub(detail: str) -> str:
    """One short line with anything token-shaped masked."""
    line = " ".join(_SECRET.sub("[secret]", detail).split())
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1] + "…"


def write(
    conn: sqlite3.Connection,
    account_id: int,
    state: SyncState,
    detail: str,
    retry_at: float | None,
    now: float,
) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO sync_status (account_id, state, detail, retry_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET"
            " state = excluded.state, detail = excluded.detail,"
            " retry_at = excluded.retry_at, updated_at = excluded.updated_at",
            (account_id, state, scrub(detail), retry_at, now),
        )


def read_all(conn: sqlite3.Connection) -> list[SyncStatus]:
    rows = conn.execute(
        "SELECT a.name, s.state, s.detail, s.retry_at, s.updated_at, h.beat_at, h.stopped_at"
        " FROM sync_status s JOIN accounts a ON a.id = s.account_id"
        " LEFT JOIN sync_heartbeat h ON h.id = 1 ORDER BY a.name"
    ).fetchall()
    return [SyncStatus(*r) for r in rows]


def describe(status: SyncStatus, now: float) -> str:
    """`support-mail: retrying in 30 s (connection refused)`, as the console shows it, or
    `support-mail: sync not running since 14:05` once the sync process is gone."""
    dead = status.dead_since(now)
    if dead is not None:
        since = time.strftime("%H:%M", time.localtime(dead))
        return f"{status.account}: sync not running since {since}"
    text = f"{status.account}: {status.state}"
    if status.state == "retrying" and status.retry_at is not None:
        text += f" in {max(0, round(status.retry_at - now))} s"
    return f"{text} ({status.detail})" if status.detail else text


def last_heartbeat(conn: sqlite3.Connection) -> tuple[float, float | None] | None:
    """(last beat, clean stop or None) of the sync process; None if none ever beat."""
    row = conn.execute("SELECT beat_at, stopped_at FROM sync_heartbeat WHERE id = 1").fetchone()
    return None if row is None else (float(row[0]), row[1])


def beat(conn: sqlite3.Connection, pid: int, now: float, *, starting: bool = False) -> None:
    with transaction(conn):
        if starting:
            conn.execute(
                "INSERT INTO sync_heartbeat (id, pid, started_at, beat_at) VALUES (1, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET pid = excluded.pid,"
                " started_at = excluded.started_at, beat_at = excluded.beat_at,"
                " stopped_at = NULL",
                (pid, now, now),
            )
        else:
            conn.execute(
                "UPDATE sync_heartbeat SET beat_at = ? WHERE id = 1 AND pid = ?", (now, pid)
            )


def stopped(conn: sqlite3.Connection, pid: int, now: float) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE sync_heartbeat SET beat_at = ?, stopped_at = ? WHERE id = 1 AND pid = ?",
            (now, now, pid),
        )


class Heartbeat:
    """`with Heartbeat(path):` around a sync run: beats every `every` seconds on a daemon
    thread with its own connection (a busy event loop cannot delay it), and marks a clean
    stop on exit. A killed process simply stops beating."""

    def __init__(self, path: Path, every: float = BEAT_EVERY) -> None:
        self._path, self._every = path, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-heartbeat", daemon=True)
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> Heartbeat:
        self._conn = connect(self._path)
        beat(self._conn, self._pid, time.time(), starting=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        assert self._conn is not None
        try:
            stopped(self._conn, self._pid, time.time())
        except StoreError:
            pass  # the run's own error says what is wrong with the store
        finally:
            self._conn.close()

    def _run(self) -> None:
        assert self._conn is not None
        while not self._stop.wait(self._every):
            try:
                beat(self._conn, self._pid, time.time())
            except (StoreError, sqlite3.Error):
                continue  # locked for a moment, disk full: the next beat tries again
