"""Loading and saving a conversation's rule state, so every writer derives queue_key alike."""

from __future__ import annotations

import json
import sqlite3

from storage.rules import ConvState, queue_key

_STATE_COLUMNS = (
    "status, tier, last_message_at, waiting_since, first_response_at, closed_at, snoozed_until,"
    " wake_on_reply, snooze_note, woken_at, sla_due_at, unread, snoozed_at"
)


def load_state(conn: sqlite3.Connection, conversation_id: int) -> ConvState:
    row = conn.execute(
        f"SELECT {_STATE_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if row is None:
        raise KeyError(f"no conversation {conversation_id}")
    values = dict(row)
    values["wake_on_reply"] = bool(values["wake_on_reply"])
    values["unread"] = bool(values["unread"])
    return ConvState(**values)


def save_state(conn: sqlite3.Connection, conversation_id: int, state: ConvState) -> None:
    conn.execute(
        "UPDATE conversations SET status = ?, tier = ?, last_message_at = ?, waiting_since = ?,"
        " first_response_at = ?, closed_at = ?, snoozed_until = ?, wake_on_reply = ?,"
        " snooze_note = ?, woken_at = ?, sla_due_at = ?, unread = ?, snoozed_at = ?, queue_key = ?"
        " WHERE id = ?",
        (
            state.status,
            state.tier,
            state.last_message_at,
            state.waiting_since,
            state.first_response_at,
            state.closed_at,
            state.snoozed_until,
            int(state.wake_on_reply),
            state.snooze_note,
            state.woken_at,
            state.sla_due_at,
            int(state.unread),
            state.snoozed_at,
            queue_key(state),
            conversation_id,
        ),
    )


def record_event(
    conn: sqlite3.Connection,
    conversation_id: int,
    at: float,
    actor: str,
    kind: str,
    detail: dict[str, object] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO events (conversation_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
        (conversation_id, at, actor, kind, json.dumps(detail or {})),
    )
