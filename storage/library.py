"""What agents reuse and keep: tags, canned replies and drafts (SQL only).

Writes run in the caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from storage.db import peek, scalar
from storage.models import CannedReply

DraftMode = Literal["reply", "note"]


def ensure_tag(conn: sqlite3.Connection, name: str, color: str = "cyan") -> int:
    conn.execute(
        "INSERT INTO tags (name, color) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
        (name, color),
    )
    return scalar(conn, "SELECT id FROM tags WHERE name = ?", (name,))


def set_tag(conn: sqlite3.Connection, conversation_id: int, tag_id: int, on: bool) -> None:
    if on:
        conn.execute(
            "INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)",
            (conversation_id, tag_id),
        )
    else:
        conn.execute(
            "DELETE FROM conversation_tags WHERE conversation_id = ? AND tag_id = ?",
            (conversation_id, tag_id),
        )


def tags(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT name, color FROM tags ORDER BY name")
    return [(r[0], r[1]) for r in rows]


def common_tags(conn: sqlite3.Connection, conversation_ids: Sequence[int]) -> set[str]:
    """The tags every one of these conversations has (the tag picker's check marks)."""
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        "SELECT t.name FROM conversation_tags x JOIN tags t ON t.id = x.tag_id"
        f" WHERE x.conversation_id IN ({marks}) GROUP BY t.id HAVING count(*) = ?",
        [*ids, len(ids)],
    )
    return {r[0] for r in rows}


def canned_replies(conn: sqlite3.Connection) -> list[CannedReply]:
    rows = conn.execute(
        "SELECT id, name, shortcut, folder, body, source FROM canned_replies ORDER BY folder, name"
    )
    return [CannedReply(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


def canned_reply_names_in(path: Path) -> set[str]:
    """The canned replies saved in the store file at `path`, read as it is, without a Store
    (`frontdesk config check`); `StoreError` when it cannot be read."""
    with peek(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM canned_replies")}


def upsert_canned_reply(
    conn: sqlite3.Connection,
    name: str,
    body: str,
    *,
    shortcut: str | None,
    folder: str,
    source: str,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO canned_replies (name, shortcut, folder, body, source, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
        " shortcut = excluded.shortcut, folder = excluded.folder, body = excluded.body,"
        " source = excluded.source, updated_at = excluded.updated_at"
        # Every console start re-applies the config's replies: unchanged ones are left
        # alone, so nothing is written and no other console is woken for nothing.
        " WHERE (shortcut, folder, body, source) IS NOT"
        " (excluded.shortcut, excluded.folder, excluded.body, excluded.source)",
        (name, shortcut, folder, body, source, now),
    )


def save_draft(
    conn: sqlite3.Connection,
    conversation_id: int,
    body: str,
    *,
    agent: str,
    mode: DraftMode,
    now: float,
) -> None:
    """Keep (or, when blank, drop) `agent`'s draft of one mode in one conversation."""
    if body.strip():
        conn.execute(
            "INSERT INTO agent_drafts (agent, conversation_id, mode, body, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(agent, conversation_id, mode)"
            " DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            (agent, conversation_id, mode, body, now),
        )
    else:
        conn.execute(
            "DELETE FROM agent_drafts WHERE agent = ? AND conversation_id = ? AND mode = ?",
            (agent, conversation_id, mode),
        )


def draft(conn: sqlite3.Connection, conversation_id: int, *, agent: str, mode: DraftMode) -> str:
    """`agent`'s saved draft of this mode ('' when none): never another agent's."""
    row = conn.execute(
        "SELECT body FROM agent_drafts WHERE agent = ? AND conversation_id = ? AND mode = ?",
        (agent, conversation_id, mode),
    ).fetchone()
    return "" if row is None else str(row[0])
