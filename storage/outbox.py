"""The outbox: agent replies queued for delivery, and what became of each (SQL only).

Every function runs in the caller's transaction (the store opens it: storage/store.py) and
takes the time as `now`. The delivery lease, claims and uncertain outcomes are in
storage/delivery.py; a reply's survey links in storage/survey_flow.py.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3

from storage import conversation, delivery, rules, survey_flow, surveys
from storage.db import scalar
from storage.models import OutboxItem
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state
from storage.surveys import SurveyPolicy


def queue_reply(
    conn: sqlite3.Connection,
    conversation_id: int,
    author: str,
    text: str,
    *,
    remote_id: str,
    close: bool,
    headers: dict[str, object] | None,
    batch: str | None,
    send_delay: float,
    survey_at: str | None,
    policy: InboxPolicy,
    survey_policy: SurveyPolicy | None,
    now: float,
) -> int:
    """Store an agent reply and its outbox item (see `Store.queue_reply`); return its message."""
    conv = conversation.get_conversation(conn, conversation_id)
    survey = None
    if survey_at and survey_at in text:
        survey = surveys.in_reply(conn, conversation_id, text, survey_at, survey_policy, now)
        text = survey.text
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref,"
        " direction, author_name, sent_at, subject, text, headers, thread_reason,"
        " delivery, created_at)"
        " VALUES (?, ?, ?, ?, 'out', ?, ?, ?, ?, ?, 'agent reply', 'queued', ?)",
        (
            conversation_id,
            conv.account_id,
            remote_id,
            remote_id,
            author,
            now,
            conv.subject,
            text,
            json.dumps(headers or {}),
            now,
        ),
    )
    message_id = cursor.lastrowid
    state = load_state(conn, conversation_id)
    conn.execute(
        "INSERT INTO outbox (conversation_id, account_id, message_id, body,"
        " next_attempt_at, created_by, created_at, batch, state_before)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            conversation_id,
            conv.account_id,
            message_id,
            text,
            now + max(0.0, send_delay),
            author,
            now,
            batch,
            json.dumps(dataclasses.asdict(state)),
        ),
    )
    events = ["replied", *rules.agent_replied(state, now, policy, close=close)]
    save_state(conn, conversation_id, state)
    detail: dict[str, object] = {"batch": batch} if batch else {}
    for kind in events:
        record_event(conn, conversation_id, now, author, kind, detail)
    assert message_id is not None
    if survey is not None:
        survey_flow.survey_in_reply(conn, conversation_id, message_id, author, now, survey)
    return message_id


def take_back(conn: sqlite3.Connection, message_id: int, actor: str, now: float) -> str | None:
    """Cancel a queued reply not yet going out (or held) and restore the conversation as it
    was before it; its text, or None when it is too late (see `Store.take_back`)."""
    row = conn.execute(
        "SELECT id, conversation_id, body, state_before FROM outbox WHERE message_id = ?"
        " AND status = 'queued' AND (attempts = 0 OR outcome = 'held')"
        " AND (outcome IS NULL OR outcome = 'held')",
        (message_id,),
    ).fetchone()
    if row is None:
        return None
    outbox_id, conversation_id, body, before = row
    conn.execute(
        "UPDATE outbox SET status = 'cancelled', outcome = NULL WHERE id = ?", (outbox_id,)
    )
    conn.execute("UPDATE messages SET delivery = 'cancelled' WHERE id = ?", (message_id,))
    conn.execute(  # its survey links (a canned `{{ survey }}`) never went out
        "DELETE FROM surveys WHERE message_id = ? AND state = 'sent'", (message_id,)
    )
    if before:
        save_state(conn, conversation_id, ConvState(**json.loads(before)))
    record_event(conn, conversation_id, now, actor, "reply_taken_back", {})
    return str(body)


def post_held_in_channel(conn: sqlite3.Connection, message_id: int, actor: str, now: float) -> bool:
    """A held Slack reply goes out as a new message in the channel; False if it is not held."""
    cursor = conn.execute(
        "UPDATE outbox SET outcome = NULL, top_level = 1, last_error = NULL,"
        " next_attempt_at = ? WHERE message_id = ? AND outcome = 'held'"
        " AND status = 'queued'",
        (now, message_id),
    )
    if cursor.rowcount != 1:
        return False
    conversation_id = scalar(
        conn, "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
    )
    record_event(conn, conversation_id, now, actor, "reply_to_channel", {})
    return True


def takeable_reply(
    conn: sqlite3.Connection, conversation_id: int, now: float
) -> tuple[int, float] | None:
    """(message id, when it goes out) of the newest reply still waiting out its send delay."""
    row = conn.execute(
        "SELECT message_id, next_attempt_at FROM outbox WHERE conversation_id = ?"
        " AND status = 'queued' AND attempts = 0 AND outcome IS NULL AND next_attempt_at > ?"
        " ORDER BY id DESC LIMIT 1",
        (conversation_id, now),
    ).fetchone()
    return None if row is None else (int(row[0]), float(row[1]))


def cancel_batch(conn: sqlite3.Connection, batch: str, actor: str, now: float) -> int:
    """Cancel a follow-up batch's replies that have not started sending; return how many."""
    rows = conn.execute(
        "SELECT id, conversation_id, message_id FROM outbox"
        " WHERE batch = ? AND status IN ('queued', 'failed')",
        (batch,),
    ).fetchall()
    for outbox_id, conversation_id, message_id in rows:
        conn.execute("UPDATE outbox SET status = 'cancelled' WHERE id = ?", (outbox_id,))
        conn.execute("UPDATE messages SET delivery = 'cancelled' WHERE id = ?", (message_id,))
        conn.execute(  # the survey links it carried never went out
            "DELETE FROM surveys WHERE message_id = ? AND state = 'sent'", (message_id,)
        )
        record_event(conn, conversation_id, now, actor, "cancelled", {"batch": batch})
    return len(rows)


def batch_status(conn: sqlite3.Connection, batch: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) FROM outbox WHERE batch = ? GROUP BY status", (batch,)
    )
    return {r[0]: r[1] for r in rows}


def due(conn: sqlite3.Connection, now: float, account_id: int | None = None) -> list[OutboxItem]:
    """Items to send now: queued or failed, due, and neither uncertain nor held."""
    sql = (
        "SELECT * FROM outbox WHERE status IN ('queued', 'failed') AND next_attempt_at <= ?"
        " AND outcome IS NULL"
    )
    params: list[object] = [now]
    if account_id is not None:
        sql += " AND account_id = ?"
        params.append(account_id)
    rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    return [outbox_item(r) for r in rows]


def due_now(conn: sqlite3.Connection, account_id: int, now: float) -> bool:
    """Whether anything is due to send for the account (a cheap indexed look)."""
    row = conn.execute(
        "SELECT 1 FROM outbox WHERE status IN ('queued', 'failed') AND next_attempt_at <= ?"
        " AND outcome IS NULL AND account_id = ? LIMIT 1",
        (now, account_id),
    ).fetchone()
    return row is not None


def item(conn: sqlite3.Connection, outbox_id: int) -> OutboxItem:
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    if row is None:
        raise KeyError(f"no outbox item {outbox_id}")
    return outbox_item(row)


def unfinished(
    conn: sqlite3.Connection, account_id: int, holder: str | None, now: float
) -> list[OutboxItem]:
    """Items left `sending` (storage/delivery.py says whose)."""
    return [outbox_item(r) for r in delivery.unfinished(conn, account_id, holder, now)]


def sent(conn: sqlite3.Connection, outbox_id: int, sent_copy: str | None, now: float) -> None:
    """The server accepted it; `sent_copy='pending'` when a Sent-folder copy is owed."""
    conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
        " outcome = NULL, claimed_by = NULL, sent_copy = ? WHERE id = ?",
        (now, sent_copy, outbox_id),
    )
    conn.execute(
        "UPDATE messages SET delivery = 'sent'"
        " WHERE id = (SELECT message_id FROM outbox WHERE id = ?)",
        (outbox_id,),
    )


def failed(conn: sqlite3.Connection, outbox_id: int, error: str, retry_at: float) -> None:
    conn.execute(
        "UPDATE outbox SET status = 'failed', last_error = ?, next_attempt_at = ?,"
        " attempts = attempts + 1, outcome = NULL, claimed_by = NULL WHERE id = ?",
        (error, retry_at, outbox_id),
    )
    # The thread shows it: a failed reply must not read "queued" (retried, then sent).
    conn.execute(
        "UPDATE messages SET delivery = 'failed'"
        " WHERE id = (SELECT message_id FROM outbox WHERE id = ?)",
        (outbox_id,),
    )


def sent_as(
    conn: sqlite3.Connection,
    outbox_id: int,
    account_id: int,
    remote_id: str,
    message_id: int | None,
    now: float,
) -> bool:
    """Mark an item sent under the id the server assigned (see `Store.outbox_sent_as`)."""
    row = conn.execute(
        "SELECT message_id FROM outbox WHERE id = ? AND account_id = ?",
        (outbox_id, account_id),
    ).fetchone()
    if row is None or message_id not in (None, row[0]):
        return False
    _drop_copy(conn, account_id, remote_id, keep=int(row[0]))
    conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = coalesce(sent_at, ?),"
        " attempts = attempts + (status != 'sent'), outcome = NULL, claimed_by = NULL"
        " WHERE id = ?",
        (now, outbox_id),
    )
    conn.execute(
        "UPDATE messages SET remote_id = ?, thread_ref = ?, delivery = 'sent' WHERE id = ?",
        (remote_id, remote_id, row[0]),
    )
    return True


def _drop_copy(conn: sqlite3.Connection, account_id: int, remote_id: str, keep: int) -> None:
    # An echo stored before we learnt it was ours is a second copy of the reply.
    conn.execute(
        "DELETE FROM messages WHERE account_id = ? AND remote_id = ? AND id != ?",
        (account_id, remote_id, keep),
    )


def resending(conn: sqlite3.Connection, outbox_id: int, now: float) -> None:
    """The one resend of an uncertain reply is being spent: counted, and on the record."""
    delivery.count_resend(conn, outbox_id)
    conversation_id = scalar(conn, "SELECT conversation_id FROM outbox WHERE id = ?", (outbox_id,))
    detail: dict[str, object] = {"outbox_id": outbox_id}
    record_event(conn, conversation_id, now, "sync", "reply_resent", detail)


def outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(**{k: row[k] for k in OutboxItem.__slots__})
