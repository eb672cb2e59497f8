"""Per-account sync status: written by the runner around each pass, read by the console."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Literal

from storage.db import transaction

SyncState = Literal["syncing", "idle", "retrying", "auth failed", "error"]
DETAIL_LIMIT = 160  # one line of a terminal: the log has the rest
# Tokens that an error message might echo back (Slack xoxb/xoxp/xapp...). Passwords never
# reach a message we build, but a server's reply could quote anything: scrub before storing.
_SECRET = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


@dataclass(frozen=True)
class SyncStatus:
    account: str
    state: SyncState
    detail: str
    retry_at: float | None
    updated_at: float


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
        "SELECT a.name, s.state, s.detail, s.retry_at, s.updated_at"
        " FROM sync_status s JOIN accounts a ON a.id = s.account_id ORDER BY a.name"
    ).fetchall()
    return [SyncStatus(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def describe(status: SyncStatus, now: float) -> str:
    """`support-mail: retrying in 30 s (connection refused)`, as the console shows it."""
    text = f"{status.account}: {status.state}"
    if status.state == "retrying" and status.retry_at is not None:
        text += f" in {max(0, round(status.retry_at - now))} s"
    return f"{text} ({status.detail})" if status.detail else text
