"""Keeping stored messages in step with their channel: which remote ids are known, edits and
deletions at the source, the thread's root, the Slack threads still open and a channel's
history (the Slack connector). SQL only; writes run in the caller's transaction (opened by
storage/store.py).
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


def update_if_newer(
    conn: sqlite3.Connection, account_id: int, remote_id: str, text: str, edited_at: float
) -> bool:
    """A Slack edit, unless the stored text is already from this edit or a later one."""
    cursor = conn.execute(
        "UPDATE messages SET text = ?, edited_at = ?"
        " WHERE account_id = ? AND remote_id = ? AND (edited_at IS NULL OR edited_at < ?)",
        (text, edited_at, account_id, remote_id, edited_at),
    )
    return cursor.rowcount > 0


def open_threads(conn: sqlite3.Connection, account_id: int, channel_id: str) -> dict[str, set[str]]:
    """The Slack messages (by thread root ts: the ts of every message stored in that thread,
    not deleted) of the channel's conversations that are not closed."""
    rows = conn.execute(
        "SELECT json_extract(m.headers, '$.slack_ts'), json_extract(m.headers, '$.slack_thread_ts')"
        " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE c.account_id = ? AND c.status != 'closed' AND m.deleted = 0"
        " AND json_extract(m.headers, '$.slack_channel') = ?",
        (account_id, channel_id),
    )
    threads: dict[str, set[str]] = {}
    for ts, thread_ts in rows:
        if ts:
            threads.setdefault(str(thread_ts or ts), set()).add(str(ts))
    return threads


def older_in_channel(
    conn: sqlite3.Connection, account_id: int, channel_id: str, horizon: float
) -> list[int]:
    """The channel's conversations not closed whose last message is older than `horizon`."""
    rows = conn.execute(
        "SELECT DISTINCT c.id FROM conversations c JOIN messages m ON m.conversation_id = c.id"
        " WHERE c.account_id = ? AND c.status != 'closed' AND c.last_message_at < ?"
        " AND json_extract(m.headers, '$.slack_channel') = ?",
        (account_id, horizon, channel_id),
    ).fetchall()
    return [int(conversation_id) for (conversation_id,) in rows]
