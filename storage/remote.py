"""Keeping stored messages in step with their channel: which remote ids are known, edits and
deletions at the source, the thread's root (the Slack connector). SQL only; writes run in the
caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence


def known_remote_ids(
    conn: sqlite3.Connection, account_id: int, remote_ids: Sequence[str]
) -> set[str]:
    """The subset of `remote_ids` already stored for the account."""
    found: set[str] = set()
    for start in range(0, len(remote_ids), 500):  # SQLite caps bound parameters
        chunk = remote_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT remote_id FROM messages WHERE account_id = ? AND remote_id IN ({marks})",
            (account_id, *chunk),
        )
        found.update(r[0] for r in rows)
    return found


def update_message_text(
    conn: sqlite3.Connection, account_id: int, remote_id: str, text: str, edited_at: float | None
) -> bool:
    """Replace a message's text after an edit at the source (see `Store.update_message_text`)."""
    cursor = conn.execute(
        "UPDATE messages SET text = ?, edited_at = coalesce(?, edited_at)"
        " WHERE account_id = ? AND remote_id = ?"
        " AND (? IS NULL OR edited_at IS NULL OR edited_at <= ?)",
        (text, edited_at, account_id, remote_id, edited_at, edited_at),
    )
    return cursor.rowcount > 0


def mark_deleted(conn: sqlite3.Connection, account_id: int, remote_id: str) -> bool:
    """Flag a message deleted at the source; False if it is not stored."""
    cursor = conn.execute(
        "UPDATE messages SET deleted = 1 WHERE account_id = ? AND remote_id = ?",
        (account_id, remote_id),
    )
    return cursor.rowcount > 0


def thread_root(conn: sqlite3.Connection, conversation_id: int) -> str | None:
    """The remote id of the conversation's first message from the channel (not ours)."""
    row = conn.execute(
        "SELECT remote_id FROM messages WHERE conversation_id = ? AND delivery IS NULL"
        " AND direction != 'note' ORDER BY sent_at, id LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return None if row is None else str(row[0])
