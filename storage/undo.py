"""One step of undo: the state of some conversations before an action, restorable later.

An action (or a whole macro) snapshots what it may change — status fields, assignee and
tags — and undo writes the snapshot back, recording that it did. Sent replies are never undone.
A survey the undone action queued (a close, storage/surveys.py) is withdrawn while its mail has
not started going out; the `undone` event says how many were withdrawn or already went.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from storage import surveys
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state


@dataclass(frozen=True)
class ConversationSnapshot:
    conversation_id: int
    state: ConvState
    assignee: str | None
    tag_ids: frozenset[int]
    survey_ids: frozenset[int] = frozenset()  # the surveys it had: any later one is withdrawn


@dataclass(frozen=True)
class Snapshot:
    label: str
    conversations: tuple[ConversationSnapshot, ...]


def take(conn: sqlite3.Connection, label: str, conversation_ids: Iterable[int]) -> Snapshot:
    return Snapshot(label, tuple(_take_one(conn, cid) for cid in conversation_ids))


def _take_one(conn: sqlite3.Connection, conversation_id: int) -> ConversationSnapshot:
    assignee = conn.execute(
        "SELECT assignee FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()[0]
    tags = conn.execute(
        "SELECT tag_id FROM conversation_tags WHERE conversation_id = ?", (conversation_id,)
    ).fetchall()
    return ConversationSnapshot(
        conversation_id,
        load_state(conn, conversation_id),
        assignee,
        frozenset(t[0] for t in tags),
        surveys.survey_ids(conn, conversation_id),
    )


def restore(conn: sqlite3.Connection, snapshot: Snapshot, actor: str, at: float) -> None:
    """Write the snapshot back (inside the caller's transaction)."""
    for item in snapshot.conversations:
        save_state(conn, item.conversation_id, item.state)
        conn.execute(
            "UPDATE conversations SET assignee = ? WHERE id = ?",
            (item.assignee, item.conversation_id),
        )
        conn.execute(
            "DELETE FROM conversation_tags WHERE conversation_id = ?", (item.conversation_id,)
        )
        conn.executemany(
            "INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)",
            [(item.conversation_id, tag_id) for tag_id in sorted(item.tag_ids)],
        )
        detail: dict[str, object] = {"action": snapshot.label}
        taken = surveys.withdraw(conn, item.conversation_id, item.survey_ids)
        if taken.withdrawn:
            detail["surveys_withdrawn"] = taken.withdrawn
        if taken.too_late:
            detail["surveys_already_sent"] = taken.too_late
        record_event(conn, item.conversation_id, at, actor, "undone", detail)
