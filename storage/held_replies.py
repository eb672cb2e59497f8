"""The agent's choices for a Slack reply held because the customer deleted its question.

Posting it with the question's `thread_ts` would land it top-level, in front of the whole
channel, so the connector holds it (connectors/slack/outbox.py). The agent then cancels it
(`Store.take_back`), posts it in the channel (`Store.post_held_in_channel`), or sends it to the
customer as a direct message (`send_as_dm` here: `as_dm` set, due now; the connector opens the
DM with the customer who asked and posts it there, probing that DM before any resend).
"""

from __future__ import annotations

import sqlite3


def send_as_dm(conn: sqlite3.Connection, message_id: int, now: float) -> int | None:
    """Release the held reply of `message_id` as a DM; its conversation, or None when the
    reply is not held (any more)."""
    cursor = conn.execute(
        "UPDATE outbox SET outcome = NULL, as_dm = 1, last_error = NULL, next_attempt_at = ?"
        " WHERE message_id = ? AND outcome = 'held' AND status = 'queued'",
        (now, message_id),
    )
    if cursor.rowcount != 1:
        return None
    row = conn.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,))
    return int(row.fetchone()[0])


def customer_slack_user(conn: sqlite3.Connection, conversation_id: int) -> str | None:
    """The Slack user id of whoever wrote the conversation's first customer message."""
    row = conn.execute(
        "SELECT i.address FROM messages m JOIN identities i ON i.id = m.author_identity_id"
        " WHERE m.conversation_id = ? AND m.direction = 'in' AND i.kind = 'slack'"
        " ORDER BY m.sent_at, m.id LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return None if row is None else str(row[0])
