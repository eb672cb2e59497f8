"""Reading one conversation with everything the conversation screen shows."""

from __future__ import annotations

import json
import sqlite3

from storage.models import (
    Attachment,
    Contact,
    Conversation,
    ConversationDetail,
    ConversationSummary,
    Event,
    IdentityRef,
    Message,
)
from storage.surveys import latest_rating


def get_conversation(conn: sqlite3.Connection, conversation_id: int) -> Conversation:
    row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if row is None:
        raise KeyError(f"no conversation {conversation_id}")
    values = {k: row[k] for k in Conversation.__slots__}
    values["wake_on_reply"] = bool(values["wake_on_reply"])
    values["unread"] = bool(values["unread"])
    return Conversation(**values)


def get_contact(conn: sqlite3.Connection, contact_id: int) -> Contact:
    row = conn.execute("SELECT id, name, tier FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    identities = conn.execute(
        "SELECT kind, address, display_name FROM identities WHERE contact_id = ? ORDER BY id",
        (contact_id,),
    ).fetchall()
    return Contact(
        id=row["id"],
        name=row["name"],
        tier=row["tier"],
        identities=tuple(
            IdentityRef(i["kind"], i["address"], i["display_name"]) for i in identities
        ),
    )


def get_messages(conn: sqlite3.Connection, conversation_id: int) -> tuple[Message, ...]:
    rows = conn.execute(
        "SELECT m.*, i.address AS author_address FROM messages m"
        " LEFT JOIN identities i ON i.id = m.author_identity_id"
        " WHERE m.conversation_id = ? ORDER BY m.sent_at, m.id",
        (conversation_id,),
    ).fetchall()
    attachments = _attachments(conn, conversation_id)
    return tuple(_message(r, attachments.get(r["id"], ())) for r in rows)


def _attachments(
    conn: sqlite3.Connection, conversation_id: int
) -> dict[int, tuple[Attachment, ...]]:
    found: dict[int, list[Attachment]] = {}
    for r in conn.execute(
        "SELECT a.message_id, a.filename, a.content_type, a.size FROM attachments a"
        " JOIN messages m ON m.id = a.message_id WHERE m.conversation_id = ? ORDER BY a.id",
        (conversation_id,),
    ):
        found.setdefault(r[0], []).append(Attachment(r[1], r[2], r[3]))
    return {k: tuple(v) for k, v in found.items()}


def _message(r: sqlite3.Row, attachments: tuple[Attachment, ...]) -> Message:
    return Message(
        id=r["id"],
        conversation_id=r["conversation_id"],
        direction=r["direction"],
        author_name=r["author_name"],
        author_address=r["author_address"],
        sent_at=r["sent_at"],
        subject=r["subject"],
        text=r["text"],
        quote_offset=r["quote_offset"],
        thread_reason=r["thread_reason"],
        delivery=r["delivery"],
        deleted=bool(r["deleted"]),
        problems=tuple(json.loads(r["problems"])),
        attachments=attachments,
        refers_to=r["refers_to"],
        spoofing=r["spoofing"],
    )


def get_events(conn: sqlite3.Connection, conversation_id: int) -> tuple[Event, ...]:
    rows = conn.execute(
        "SELECT at, actor, kind, detail FROM events WHERE conversation_id = ? ORDER BY at, id",
        (conversation_id,),
    )
    return tuple(Event(r[0], r[1], r[2], json.loads(r[3])) for r in rows)


def get_tags(conn: sqlite3.Connection, conversation_id: int) -> tuple[tuple[str, str], ...]:
    rows = conn.execute(
        "SELECT t.name, t.color FROM conversation_tags x JOIN tags t ON t.id = x.tag_id"
        " WHERE x.conversation_id = ? ORDER BY t.name",
        (conversation_id,),
    )
    return tuple((r[0], r[1]) for r in rows)


def other_conversations(
    conn: sqlite3.Connection, contact_id: int, exclude: int, limit: int = 50
) -> tuple[ConversationSummary, ...]:
    """The contact's other conversations on every channel, newest first."""
    rows = conn.execute(
        "SELECT id, channel, subject, status, last_message_at FROM conversations"
        " WHERE contact_id = ? AND id != ? ORDER BY last_message_at DESC LIMIT ?",
        (contact_id, exclude, limit),
    )
    return tuple(ConversationSummary(r[0], r[1], r[2], r[3], r[4]) for r in rows)


def get_detail(conn: sqlite3.Connection, conversation_id: int) -> ConversationDetail:
    conversation = get_conversation(conn, conversation_id)
    return ConversationDetail(
        conversation=conversation,
        contact=get_contact(conn, conversation.contact_id),
        messages=get_messages(conn, conversation_id),
        events=get_events(conn, conversation_id),
        tags=get_tags(conn, conversation_id),
        others=other_conversations(conn, conversation.contact_id, conversation_id),
        rating=latest_rating(conn, conversation_id),
    )


def has_conversation(conn: sqlite3.Connection, conversation_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
    return row.fetchone() is not None


def last_message_id(conn: sqlite3.Connection, conversation_id: int) -> int:
    """Newest message of the conversation (collision detection compares against it)."""
    row = conn.execute(
        "SELECT coalesce(max(id), 0) FROM messages WHERE conversation_id = ?", (conversation_id,)
    ).fetchone()
    return int(row[0])


def messages_after(
    conn: sqlite3.Connection, conversation_id: int, message_id: int
) -> list[Message]:
    """What arrived (from anyone but notes) since the agent started replying."""
    return [
        m
        for m in get_messages(conn, conversation_id)
        if m.id > message_id and m.direction != "note"
    ]
