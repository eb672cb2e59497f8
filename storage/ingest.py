"""Idempotent ingest of channel messages: contacts, threading, the inbox rules."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from storage import rules
from storage.models import IdentityRef, InboundMessage, IngestResult
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state


def resolve_identity(
    conn: sqlite3.Connection, ref: IdentityRef, policy: InboxPolicy, now: float
) -> tuple[int, int]:
    """(identity id, contact id) for an address, creating the contact on first sight."""
    row = conn.execute(
        "SELECT id, contact_id, display_name FROM identities WHERE kind = ? AND address = ?",
        (ref.kind, ref.address),
    ).fetchone()
    if row is not None:
        if ref.display_name and not row["display_name"]:
            _learn_name(conn, row["id"], row["contact_id"], ref.display_name)
        return int(row["id"]), int(row["contact_id"])
    contact_id = _insert(
        conn,
        "INSERT INTO contacts (name, tier, created_at) VALUES (?, ?, ?)",
        (ref.display_name or ref.address, policy.tier_for(ref), now),
    )
    identity_id = _insert(
        conn,
        "INSERT INTO identities (contact_id, kind, address, display_name, original_contact_id)"
        " VALUES (?, ?, ?, ?, ?)",
        (contact_id, ref.kind, ref.address, ref.display_name, contact_id),
    )
    return identity_id, contact_id


def _learn_name(conn: sqlite3.Connection, identity_id: int, contact_id: int, name: str) -> None:
    conn.execute("UPDATE identities SET display_name = ? WHERE id = ?", (name, identity_id))
    # A contact first seen as a bare address gets a real name once one is known.
    conn.execute(
        "UPDATE contacts SET name = ? WHERE id = ? AND name = "
        "(SELECT address FROM identities WHERE id = ?)",
        (name, contact_id, identity_id),
    )


def _insert(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> int:
    cursor = conn.execute(sql, params)
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def find_thread(conn: sqlite3.Connection, msg: InboundMessage, contact_id: int) -> tuple[int, str]:
    """The conversation this message joins and why; (0, reason) when it starts a new one."""
    for ref in msg.parent_refs:
        row = conn.execute(
            "SELECT conversation_id FROM messages WHERE account_id = ? AND thread_ref = ? LIMIT 1",
            (msg.account_id, ref),
        ).fetchone()
        if row is not None:
            return int(row[0]), f"refers to {ref}"
    if msg.group_key and msg.group_window > 0:
        row = conn.execute(
            "SELECT id FROM conversations WHERE account_id = ? AND contact_id = ?"
            " AND group_key = ? AND last_message_at BETWEEN ? AND ?"
            " ORDER BY last_message_at DESC LIMIT 1",
            # Both sides of the window: a late-arriving older message must not join a
            # conversation that only started long after it.
            (
                msg.account_id,
                contact_id,
                msg.group_key,
                msg.sent_at - msg.group_window,
                msg.sent_at + msg.group_window,
            ),
        ).fetchone()
        if row is not None:
            return int(row[0]), f"same contact and {msg.group_key!r} within {msg.group_window:g}s"
    return 0, "new conversation"


def _new_conversation(
    conn: sqlite3.Connection, msg: InboundMessage, contact_id: int, now: float
) -> int:
    tier = conn.execute("SELECT tier FROM contacts WHERE id = ?", (contact_id,)).fetchone()[0]
    # A conversation we started (outbound first) waits on the customer from the start.
    status = "open" if msg.direction == "in" else "pending"
    return _insert(
        conn,
        "INSERT INTO conversations (account_id, channel, subject, contact_id, status, tier,"
        " last_message_at, created_at, group_key, queue_key, unread)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
        (
            msg.account_id,
            msg.channel,
            msg.subject or _subject_from(msg.text),
            contact_id,
            status,
            tier,
            msg.sent_at,
            now,
            msg.group_key,
        ),
    )


def _subject_from(text: str, limit: int = 80) -> str:
    """Slack has no subjects: the first line of the first message stands in."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _insert_message(
    conn: sqlite3.Connection,
    msg: InboundMessage,
    conversation_id: int,
    author_identity: int,
    reason: str,
    now: float,
) -> int:
    message_id = _insert(
        conn,
        "INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref, direction,"
        " author_identity_id, author_name, sent_at, subject, text, html, quote_offset, headers,"
        " thread_reason, problems, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            conversation_id,
            msg.account_id,
            msg.remote_id,
            msg.thread_ref,
            msg.direction,
            author_identity,
            msg.author.display_name or msg.author.address,
            msg.sent_at,
            msg.subject,
            msg.text,
            msg.html,
            msg.quote_offset,
            json.dumps(msg.headers),
            reason,
            json.dumps(list(msg.problems)),
            now,
        ),
    )
    conn.executemany(
        "INSERT INTO attachments (message_id, filename, content_type, size, remote_ref)"
        " VALUES (?, ?, ?, ?, ?)",
        [(message_id, a.filename, a.content_type, a.size, a.remote_ref) for a in msg.attachments],
    )
    return message_id


def apply_message_rules(state: ConvState, msg: InboundMessage, policy: InboxPolicy) -> list[str]:
    """Status changes a message causes; a late message (older than the latest) changes none."""
    if msg.sent_at < state.last_message_at:
        return []
    if msg.direction == "in":
        return rules.customer_wrote(state, msg.sent_at, policy)
    if msg.direction == "out":
        return rules.agent_replied(state, msg.sent_at, policy, close=False)
    return []


def ingest_one(
    conn: sqlite3.Connection, msg: InboundMessage, policy: InboxPolicy, now: float
) -> IngestResult:
    existing = conn.execute(
        "SELECT id, conversation_id, thread_reason FROM messages"
        " WHERE account_id = ? AND remote_id = ?",
        (msg.account_id, msg.remote_id),
    ).fetchone()
    if existing is not None:
        return IngestResult(existing[0], existing[1], False, existing[2])
    author_identity, _ = resolve_identity(conn, msg.author, policy, now)
    _, contact_id = resolve_identity(conn, msg.customer, policy, now)
    conversation_id, reason = find_thread(conn, msg, contact_id)
    if not conversation_id:
        conversation_id = _new_conversation(conn, msg, contact_id, now)
    message_id = _insert_message(conn, msg, conversation_id, author_identity, reason, now)
    state = load_state(conn, conversation_id)
    actor = "customer" if msg.direction == "in" else msg.author.display_name or "agent"
    for kind in apply_message_rules(state, msg, policy):
        record_event(conn, conversation_id, msg.sent_at, actor, kind, {"message": message_id})
    save_state(conn, conversation_id, state)
    return IngestResult(message_id, conversation_id, True, reason)
