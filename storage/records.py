"""Conversations as plain records: the shape `frontdesk list/show/export` print as JSON.

The field names are a contract (issue 12): fields may be added, never renamed or dropped.

A conversation: `id`, `channel`, `account`, `subject`, `status`, `contact` {`name`,
`identities` ["email:a@b", "slack:U1"]}, `assignee`, `tags`, `tier`, `waiting_since`,
`sla_due_at`, `snoozed_until`, `created_at`, `last_message_at`, `message_count`, `rating` (the
customer's latest survey answer {`kind` "csat"|"ces", `rating`, `of`, `comment`, `answered_at`},
or null), and with
`messages=True` its `events` (the history: {`at`, `actor`, `kind`, `detail`}) and its
`messages`: {`id`, `direction`, `author` {`name`, `address`}, `sent_at`,
`message_id`, `remote_id`, `thread_reason`, `to`, `cc`, `subject`, `text`, `attachments`
[{`filename`, `content_type`, `size`}], `delivery`}. `to`/`cc` are the addresses stored with the
message (an email's headers; a reply's own `--to`/`--cc`, else [] as the thread decides them
when it is sent); `delivery` is the outbox's state of a reply. Times are ISO 8601 in UTC to
the second ("2026-12-05T08:37:38Z", what jq's `fromdateiso8601` reads), null when unset.
Texts are exactly what is stored.

Records are read in batches (`records`, a few queries per batch, never per row), and
`ids_by_id` walks a view by primary key with a keyset, so `export` holds one batch at a time
whatever the size of the store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from storage import message_ids
from storage.queue import View

Record = dict[str, object]
BATCH = 200  # conversations read together; well under SQLite's bound-parameter limit

# The outbox knows more than messages.delivery (which stays 'queued' while retrying).
_DELIVERY = {"queued": "queued", "sending": "sending", "sent": "sent", "failed": "failed"}


def iso(at: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC to the second; None stays None."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ids_by_id(conn: sqlite3.Connection, view: View, batch: int = BATCH) -> Iterator[list[int]]:
    """The view's conversation ids in id order, a batch at a time (keyset: `c.id > last`)."""
    last = 0
    sql = (
        f"SELECT c.id FROM conversations c {view.join} WHERE ({view.where}) AND c.id > ?"
        " ORDER BY c.id LIMIT ?"
    )
    while True:
        ids = [int(r[0]) for r in conn.execute(sql, (*view.params, last, batch))]
        if not ids:
            return
        yield ids
        last = ids[-1]


def listed(conn: sqlite3.Connection, view: View, limit: int | None) -> Iterator[Record]:
    """The view's conversations in its order: one statement, read a batch at a time."""
    direction = "ASC" if view.order == "asc" else "DESC"
    sql = (
        f"SELECT c.id FROM conversations c {view.join} WHERE {view.where}"
        f" ORDER BY c.{view.key} {direction}, c.id {direction} LIMIT ?"
    )
    rows = conn.execute(sql, (*view.params, -1 if limit is None else limit))
    while batch := [int(r[0]) for r in rows.fetchmany(BATCH)]:
        yield from records(conn, batch, messages=False)


def records(conn: sqlite3.Connection, ids: Sequence[int], *, messages: bool) -> list[Record]:
    """The conversations with these ids, in the order given (unknown ids are left out)."""
    found: dict[int, Record] = {}
    for start in range(0, len(ids), BATCH):
        chunk = list(ids[start : start + BATCH])
        found.update(_conversations(conn, chunk))
        if messages:
            for conversation_id, items in _messages(conn, chunk).items():
                found[conversation_id]["messages"] = items
            for conversation_id, items in _events(conn, chunk).items():
                found[conversation_id]["events"] = items
    return [found[i] for i in ids if i in found]


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


def _conversations(conn: sqlite3.Connection, ids: list[int]) -> dict[int, Record]:
    rows = conn.execute(
        "SELECT c.*, a.name AS account_name, p.name AS contact_name,"
        " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
        " FROM conversations c JOIN accounts a ON a.id = c.account_id"
        f" LEFT JOIN contacts p ON p.id = c.contact_id WHERE c.id IN ({_marks(ids)})",
        ids,
    ).fetchall()
    identities = _identities(conn, sorted({int(r["contact_id"]) for r in rows}))
    tags = _tags(conn, ids)
    ratings = _ratings(conn, ids)
    return {
        int(r["id"]): _conversation(r, identities.get(r["contact_id"], []), tags.get(r["id"], []))
        | {"rating": ratings.get(int(r["id"]))}
        for r in rows
    }


def _ratings(conn: sqlite3.Connection, ids: list[int]) -> dict[int, Record]:
    """The latest survey answer of each conversation that has one."""
    found: dict[int, Record] = {}
    for conversation_id, kind, rating, top, comment, at in conn.execute(
        "SELECT conversation_id, kind, rating, scale_max, comment, answered_at FROM surveys"
        f" WHERE state = 'answered' AND conversation_id IN ({_marks(ids)})"
        " ORDER BY answered_at, id",
        ids,
    ):
        found[int(conversation_id)] = {
            "kind": kind,
            "rating": rating,
            "of": top,
            "comment": comment,
            "answered_at": iso(at),
        }
    return found


def _conversation(r: sqlite3.Row, identities: list[str], tags: list[str]) -> Record:
    return {
        "id": r["id"],
        "channel": r["channel"],
        "account": r["account_name"],
        "subject": r["subject"],
        "status": r["status"],
        "contact": {
            "id": r["contact_id"],
            "name": r["contact_name"] or "",
            "identities": identities,
        },
        "assignee": r["assignee"],
        "tags": tags,
        "tier": r["tier"],
        "waiting_since": iso(r["waiting_since"]),
        "sla_due_at": iso(r["sla_due_at"]),
        "snoozed_until": iso(r["snoozed_until"]),
        "created_at": iso(r["created_at"]),
        "last_message_at": iso(r["last_message_at"]),
        "message_count": r["message_count"],
        "unread": bool(r["unread"]),
        "wake_on_reply": bool(r["wake_on_reply"]),
        "snooze_note": r["snooze_note"],
        "first_response_at": iso(r["first_response_at"]),
        "closed_at": iso(r["closed_at"]),
    }


def _identities(conn: sqlite3.Connection, contact_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not contact_ids:
        return found
    for contact_id, kind, address in conn.execute(
        "SELECT contact_id, kind, address FROM identities"
        f" WHERE contact_id IN ({_marks(contact_ids)}) ORDER BY id",
        contact_ids,
    ):
        found.setdefault(contact_id, []).append(f"{kind}:{address}")
    return found


def _tags(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for conversation_id, name in conn.execute(
        "SELECT x.conversation_id, t.name FROM conversation_tags x JOIN tags t ON t.id = x.tag_id"
        f" WHERE x.conversation_id IN ({_marks(ids)}) ORDER BY t.name",
        ids,
    ):
        found.setdefault(conversation_id, []).append(name)
    return found


def _messages(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[Record]]:
    found: dict[int, list[Record]] = {i: [] for i in ids}
    attachments = _attachments(conn, ids)
    rows = conn.execute(
        "SELECT m.*, c.channel, i.address AS author_address, o.status AS outbox_status"
        " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " LEFT JOIN identities i ON i.id = m.author_identity_id"
        " LEFT JOIN outbox o ON o.message_id = m.id"
        f" WHERE m.conversation_id IN ({_marks(ids)})"
        " ORDER BY m.conversation_id, m.sent_at, m.id",
        ids,
    )
    for r in rows:
        found[r["conversation_id"]].append(_message(r, attachments.get(r["id"], [])))
    return found


def _message(r: sqlite3.Row, attachments: list[Record]) -> Record:
    headers = _headers(r["headers"])
    return {
        "id": r["id"],
        "direction": r["direction"],
        "author": {"name": r["author_name"], "address": r["author_address"]},
        "sent_at": iso(r["sent_at"]),
        "message_id": _message_id(r, headers),
        "remote_id": r["remote_id"],
        "thread_reason": r["thread_reason"],
        "to": _addresses(headers.get("to")),
        "cc": _addresses(headers.get("cc")),
        "subject": r["subject"],
        "text": r["text"],
        "attachments": attachments,
        "delivery": _DELIVERY.get(r["outbox_status"] or "", r["delivery"]),
        "deleted": bool(r["deleted"]),
        "edited_at": iso(r["edited_at"]),
        "problems": json.loads(r["problems"] or "[]"),
    }


def _headers(raw: str | None) -> dict[str, object]:
    headers = json.loads(raw or "{}")
    return headers if isinstance(headers, dict) else {}


def _message_id(r: sqlite3.Row, headers: dict[str, object]) -> str | None:
    """The email Message-ID: as received (the header), or as we send it (our reply's key,
    from its claim on: none while it waits with a local key, storage/message_ids.py)."""
    if r["channel"] != "email" or r["direction"] == "note":
        return None
    received = headers.get("message_id")
    if isinstance(received, str):
        return received
    ours = r["direction"] == "out" and r["outbox_status"] is not None
    return str(r["remote_id"]) if ours and not message_ids.is_local(r["remote_id"]) else None


def _addresses(value: object) -> list[str]:
    """[name, address] pairs as connectors store them, as bare addresses."""
    if not isinstance(value, list):
        return []
    return [str(p[1]) for p in value if isinstance(p, list) and len(p) == 2]


def _attachments(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[Record]]:
    found: dict[int, list[Record]] = {}
    for message_id, filename, content_type, size in conn.execute(
        "SELECT a.message_id, a.filename, a.content_type, a.size FROM attachments a"
        " JOIN messages m ON m.id = a.message_id"
        f" WHERE m.conversation_id IN ({_marks(ids)}) ORDER BY a.id",
        ids,
    ):
        found.setdefault(message_id, []).append(
            {"filename": filename, "content_type": content_type, "size": size}
        )
    return found


def _events(conn: sqlite3.Connection, ids: list[int]) -> dict[int, list[Record]]:
    found: dict[int, list[Record]] = {i: [] for i in ids}
    for conversation_id, at, actor, kind, detail in conn.execute(
        "SELECT conversation_id, at, actor, kind, detail FROM events"
        f" WHERE conversation_id IN ({_marks(ids)}) ORDER BY conversation_id, at, id",
        ids,
    ):
        found[conversation_id].append(
            {"at": iso(at), "actor": actor, "kind": kind, "detail": json.loads(detail or "{}")}
        )
    return found
