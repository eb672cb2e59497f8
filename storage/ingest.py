"""Idempotent ingest of channel messages: contacts, threading, the inbox rules.

Message key: `remote_id` is unique per account. A message whose `remote_id` is stored already
is the same message (nothing written) unless both carry a `fingerprint` and they differ: then
it is a different message that reuses the id (bug-tracker copies, sloppy mailers), stored as
`<remote_id>#<fingerprint prefix>` with a note; its `thread_ref` stays the Message-ID, so
threading is unchanged. The alternate key is derived from the message, so a re-sync finds it.
Our own outbox's messages (delivery set) and rows stored without a fingerprint always count as
the same message. Threading and membership: storage/threads.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace

from storage import rules, threads
from storage.models import IdentityRef, InboundMessage, IngestResult
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state

# Rounds of merging back conversations once kept out (each round can admit more people).
MAX_READMISSIONS = 5


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
    placement: threads.Placement,
    now: float,
) -> int:
    message_id = _insert(
        conn,
        "INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref, direction,"
        " author_identity_id, author_name, sent_at, subject, text, html, quote_offset, headers,"
        " thread_reason, problems, created_at, fingerprint, refers_to, spoofing)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            placement.reason,
            json.dumps(list(msg.problems)),
            now,
            msg.fingerprint or None,
            placement.refers_to,
            msg.spoofing,
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


def known(conn: sqlite3.Connection, msg: InboundMessage) -> IngestResult | InboundMessage:
    """The stored copy of `msg`, or `msg` to store (re-keyed when its id collides)."""
    row = conn.execute(
        "SELECT id, conversation_id, thread_reason, fingerprint, delivery FROM messages"
        " WHERE account_id = ? AND remote_id = ?",
        (msg.account_id, msg.remote_id),
    ).fetchone()
    if row is None:
        return msg
    if not msg.fingerprint or _same_message(row, msg.fingerprint):
        return IngestResult(row[0], row[1], False, row[2])
    alternate = f"{msg.remote_id}#{msg.fingerprint[:16]}"
    again = conn.execute(
        "SELECT id, conversation_id, thread_reason FROM messages"
        " WHERE account_id = ? AND remote_id = ?",
        (msg.account_id, alternate),
    ).fetchone()
    if again is not None:
        return IngestResult(again[0], again[1], False, again[2])
    note = (
        f"another message (#{row[0]}) has the same Message-ID {msg.remote_id}:"
        " kept as a separate message"
    )
    return replace(msg, remote_id=alternate, problems=(*msg.problems, note))


def _same_message(row: sqlite3.Row, fingerprint: str) -> bool:
    stored = row["fingerprint"]
    return row["delivery"] is not None or not stored or stored == fingerprint


def ingest_one(
    conn: sqlite3.Connection, msg: InboundMessage, policy: InboxPolicy, now: float
) -> IngestResult:
    found = known(conn, msg)
    if isinstance(found, IngestResult):
        return found
    msg = found
    author_identity, _ = resolve_identity(conn, msg.author, policy, now)
    _, contact_id = resolve_identity(conn, msg.customer, policy, now)
    placement = threads.place(conn, msg, contact_id)
    conversation_id = placement.conversation_id or _new_conversation(conn, msg, contact_id, now)
    message_id = _insert_message(conn, msg, conversation_id, author_identity, placement, now)
    newcomers = threads.record(conn, msg, conversation_id, placement)
    for source in placement.merge:
        _merge(conn, source, conversation_id, msg, now)
    for _ in range(MAX_READMISSIONS if newcomers or placement.merge else 0):
        waiting = threads.readmitted(conn, conversation_id)
        if not waiting:
            break
        for source in waiting:
            _merge(conn, source, conversation_id, msg, now)
    state = load_state(conn, conversation_id)
    actor = "customer" if msg.direction == "in" else msg.author.display_name or "agent"
    for kind in apply_message_rules(state, msg, policy):
        record_event(conn, conversation_id, msg.sent_at, actor, kind, {"message": message_id})
    save_state(conn, conversation_id, state)
    return IngestResult(message_id, conversation_id, True, placement.reason)


def _merge(
    conn: sqlite3.Connection, source: int, target: int, msg: InboundMessage, now: float
) -> None:
    """Fold a conversation the message connects into its own; the later state wins."""
    mine, theirs = load_state(conn, target), load_state(conn, source)
    created = conn.execute(
        "SELECT min(created_at) FROM conversations WHERE id IN (?, ?)", (source, target)
    ).fetchone()[0]
    why = f"{msg.remote_id} connects both threads"
    threads.merge_conversations(conn, source, target, at=now, actor="threading", why=why)
    later = theirs if theirs.last_message_at > mine.last_message_at else mine
    answered = [t for t in (mine.first_response_at, theirs.first_response_at) if t is not None]
    later.first_response_at = min(answered, default=None)
    save_state(conn, target, later)
    conn.execute("UPDATE conversations SET created_at = ? WHERE id = ?", (created, target))
