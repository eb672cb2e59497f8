"""Which conversations a first sync imports closed: the customers' history, not work.

When a mailbox (or a newly added folder) is read for the first time, every thread whose last
word is the customer's would otherwise open the queue, years back. A conversation that
received a message during such a pass stays open only if its last customer message is newer
than the horizon (`open_recent_days` before the pass started) and was not flagged
`\\Answered` on the server (the `answered` key of its headers). One with no customer message
at all (ours only) stays as it is while its last message is newer than the horizon.

Closed conversations keep their messages: they show among the contact's past conversations,
and a new customer message reopens them as usual.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

HISTORY_ACTOR = "Email history import"


def settled(conn: sqlite3.Connection, conversation_ids: Iterable[int], horizon: float) -> list[int]:
    """The conversations among these, not closed yet, that are history by the rule above."""
    return [cid for cid in sorted(set(conversation_ids)) if _is_history(conn, cid, horizon)]


def _is_history(conn: sqlite3.Connection, conversation_id: int, horizon: float) -> bool:
    conv = conn.execute(
        "SELECT status, last_message_at FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if conv is None or conv[0] == "closed":
        return False
    last_in = conn.execute(
        "SELECT sent_at, coalesce(json_extract(headers, '$.answered'), 0) FROM messages"
        " WHERE conversation_id = ? AND direction = 'in' AND deleted = 0"
        " ORDER BY sent_at DESC, id DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    if last_in is None:
        return float(conv[1]) < horizon
    return float(last_in[0]) < horizon or bool(last_in[1])
