"""Cancelling a follow-up batch puts its conversations back exactly as they were.

A batch (outbox rows sharing `batch`) is queued after a snapshot of its conversations
(storage/undo.py: status, SLA clock, tags, assignee). Cancelling it cancels every reply not yet
going out and restores, for those conversations only, the snapshot: no conversation is left
pending or tagged for a reply that will never go. A reply already sending or sent is left alone,
and so is its conversation.
"""

from __future__ import annotations

import sqlite3

from storage.undo import Snapshot

CANCELLABLE = "('queued', 'failed')"


def cancellable(conn: sqlite3.Connection, batch: str) -> frozenset[int]:
    """The conversations whose reply in `batch` has not started going out."""
    rows = conn.execute(
        f"SELECT conversation_id FROM outbox WHERE batch = ? AND status IN {CANCELLABLE}",
        (batch,),
    ).fetchall()
    return frozenset(int(r[0]) for r in rows)


def not_cancelled(conn: sqlite3.Connection, batch: str) -> int:
    """How many replies of `batch` are going or gone (not cancelled)."""
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE batch = ? AND status != 'cancelled'", (batch,)
    ).fetchone()
    return int(row[0])


def only(snapshot: Snapshot, conversation_ids: frozenset[int]) -> Snapshot:
    """The part of `snapshot` about `conversation_ids`."""
    kept = tuple(c for c in snapshot.conversations if c.conversation_id in conversation_ids)
    return Snapshot(snapshot.label, kept)
