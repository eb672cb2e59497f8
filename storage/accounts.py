"""Accounts, their sync checkpoints, and the store's totals (SQL only).

Writes run in the caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import json
import sqlite3

from storage.db import scalar


def ensure_account(conn: sqlite3.Connection, name: str, kind: str, now: float) -> int:
    conn.execute(
        "INSERT INTO accounts (name, kind, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO NOTHING",
        (name, kind, now),
    )
    return scalar(conn, "SELECT id FROM accounts WHERE name = ?", (name,))


def account_name(conn: sqlite3.Connection, account_id: int) -> str:
    return str(conn.execute("SELECT name FROM accounts WHERE id = ?", (account_id,)).fetchone()[0])


def checkpoint(conn: sqlite3.Connection, account_id: int, scope: str) -> dict[str, object] | None:
    row = conn.execute(
        "SELECT state FROM sync_state WHERE account_id = ? AND scope = ?", (account_id, scope)
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def save_checkpoint(
    conn: sqlite3.Connection, account_id: int, scope: str, state: dict[str, object], now: float
) -> None:
    conn.execute(
        "INSERT INTO sync_state (account_id, scope, state, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(account_id, scope) DO UPDATE SET state = excluded.state,"
        " updated_at = excluded.updated_at",
        (account_id, scope, json.dumps(state), now),
    )


def stats(conn: sqlite3.Connection) -> dict[str, object]:
    accounts = conn.execute(
        "SELECT a.name, a.kind,"
        " (SELECT count(*) FROM conversations c WHERE c.account_id = a.id),"
        " (SELECT count(*) FROM messages m WHERE m.account_id = a.id)"
        " FROM accounts a ORDER BY a.id"
    ).fetchall()
    return {
        "conversations": scalar(conn, "SELECT count(*) FROM conversations"),
        "messages": scalar(conn, "SELECT count(*) FROM messages"),
        "accounts": [
            {"name": r[0], "kind": r[1], "conversations": r[2], "messages": r[3]} for r in accounts
        ],
    }
