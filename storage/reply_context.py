"""What a channel needs to send a queued reply: the reply, the thread before it, the contact."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from storage.models import Direction


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    id: int
    remote_id: str
    thread_ref: str | None
    direction: Direction
    author_name: str
    author_address: str | None
    sent_at: float
    text: str
    headers: dict[str, object]


@dataclass(frozen=True, slots=True)
class ReplyContext:
    reply: ThreadMessage
    subject: str  # the conversation's subject
    contact_name: str
    contact_email: str | None  # the contact's first email address, if they have one
    earlier: tuple[ThreadMessage, ...]  # messages stored before the reply, newest first


_COLUMNS = (
    "m.id, m.remote_id, m.thread_ref, m.direction, m.author_name, i.address, m.sent_at,"
    " m.text, m.headers FROM messages m LEFT JOIN identities i ON i.id = m.author_identity_id"
)


def get_reply_context(conn: sqlite3.Connection, message_id: int, limit: int = 20) -> ReplyContext:
    """KeyError if the message does not exist. Earlier means stored earlier (a lower id):
    what the agent had in front of them, whatever Date headers claim."""
    row = conn.execute(f"SELECT m.conversation_id, {_COLUMNS} WHERE m.id = ?", (message_id,))
    found = row.fetchone()
    if found is None:
        raise KeyError(f"no message {message_id}")
    earlier = conn.execute(
        f"SELECT {_COLUMNS} WHERE m.conversation_id = ? AND m.id < ?"
        " AND m.direction IN ('in', 'out') AND m.deleted = 0"
        " ORDER BY m.sent_at DESC, m.id DESC LIMIT ?",
        (found[0], message_id, limit),
    ).fetchall()
    name, address = _contact(conn, found[0])
    return ReplyContext(
        reply=_message(tuple(found)[1:]),
        subject=_subject(conn, found[0]),
        contact_name=name,
        contact_email=address,
        earlier=tuple(_message(r) for r in earlier),
    )


def _message(row: Sequence[Any]) -> ThreadMessage:
    headers = json.loads(row[8] or "{}")
    return ThreadMessage(
        id=row[0],
        remote_id=row[1],
        thread_ref=row[2],
        direction=cast(Direction, row[3]),  # the schema's CHECK constrains it
        author_name=row[4] or "",
        author_address=row[5],
        sent_at=row[6],
        text=row[7] or "",
        headers=headers if isinstance(headers, dict) else {},
    )


def _subject(conn: sqlite3.Connection, conversation_id: int) -> str:
    row = conn.execute("SELECT subject FROM conversations WHERE id = ?", (conversation_id,))
    return str(row.fetchone()[0])


def _contact(conn: sqlite3.Connection, conversation_id: int) -> tuple[str, str | None]:
    row = conn.execute(
        "SELECT c.name, (SELECT address FROM identities WHERE contact_id = c.id"
        " AND kind = 'email' ORDER BY id LIMIT 1)"
        " FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE v.id = ?",
        (conversation_id,),
    ).fetchone()
    return str(row[0]), None if row[1] is None else str(row[1])
