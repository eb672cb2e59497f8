"""Routine check-ins for key accounts: a quiet contact becomes a to-do in their agent's queue.

A tier with an interval (`checkin_every`) wants its contacts heard from at least that often.
When a contact's last conversation is older than that, a check-in is *raised*: an open
conversation on the contact's last channel, assigned to the agent who last owned one of their
conversations, tagged `check-in`, holding an internal note that says why.

Why a real conversation rather than a computed view: the queue is keyset-paged over the
conversations table, and a check-in needs everything a conversation has — an assignee, the
`mine` view, snooze, notes, a reply that goes out to the customer on their channel, close,
and an audit trail of events. A view would need a second kind of queue row and none of that
would work on it. The reports screen still shows the *computed* list (`upcoming`), so a lead
sees who is due before the runner has raised anything.

Raising is idempotent: a contact gets a new check-in only when one is due and none of theirs
is open, and `contacts.last_checkin_at` moves the next due time on, so runner passes (and
several runners on one file) never raise two.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from storage.policy import InboxPolicy, SlaPolicy
from storage.rules import ConvState
from storage.state import record_event, save_state

# The group key of a check-in conversation. No channel produces it, so the threading fallback
# never files a customer message under a check-in by subject; replies thread in by reference.
CHECKIN_KEY = "frontdesk:check-in"
CHECKIN_TAG = "check-in"
ACTOR = "check-in"
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class CheckinDue:
    contact_id: int
    name: str
    tier: str
    last_contact_at: float  # the latest message of any of the contact's conversations
    due_at: float
    agent: str | None  # the assignee of the contact's latest assigned conversation
    open_checkin: int | None  # the open check-in conversation, if one is raised


_DUE_SQL = """
SELECT p.id, p.name, p.tier, max(c.last_message_at) AS last_contact,
       max(max(c.last_message_at), coalesce(p.last_checkin_at, 0)) + :every AS due_at,
       (SELECT a.assignee FROM conversations a
         WHERE a.contact_id = p.id AND a.assignee IS NOT NULL
         ORDER BY a.last_message_at DESC LIMIT 1) AS agent,
       (SELECT o.id FROM conversations o
         WHERE o.contact_id = p.id AND o.group_key = :key AND o.status != 'closed'
         ORDER BY o.id LIMIT 1) AS open_checkin
  FROM contacts p JOIN conversations c ON c.contact_id = p.id
 WHERE p.tier = :tier AND p.merged_into IS NULL
 GROUP BY p.id
HAVING due_at <= :until
"""


def upcoming(
    conn: sqlite3.Connection, every: Mapping[str, float], until: float
) -> list[CheckinDue]:
    """Contacts whose next check-in is due by `until` (pass now for those due now)."""
    found = []
    for tier, interval in every.items():
        params = {"tier": tier, "every": interval, "until": until, "key": CHECKIN_KEY}
        found += [CheckinDue(*row) for row in conn.execute(_DUE_SQL, params)]
    return sorted(found, key=lambda due: (due.due_at, due.contact_id))


def intervals(policy: InboxPolicy) -> Mapping[str, float]:
    """The check-in intervals by tier; none for a policy that knows of no SLAs."""
    return policy.checkin_every if isinstance(policy, SlaPolicy) else {}


def create_due(conn: sqlite3.Connection, every: Mapping[str, float], now: float) -> list[int]:
    """Raise every check-in due now, in the caller's transaction; return the new
    conversations. Run by each runner pass (`Store.raise_checkins`)."""
    due = upcoming(conn, every, now)
    return [raise_checkin(conn, d, now) for d in due if d.open_checkin is None]


def raise_checkin(conn: sqlite3.Connection, due: CheckinDue, now: float) -> int:
    """The check-in conversation, its note, tag and events, in the caller's transaction."""
    account_id, channel = conn.execute(
        "SELECT account_id, channel FROM conversations WHERE contact_id = ?"
        " ORDER BY last_message_at DESC LIMIT 1",
        (due.contact_id,),
    ).fetchone()
    conversation_id = _insert_conversation(conn, due, account_id, channel, now)
    _insert_note(conn, conversation_id, account_id, due, now)
    _tag(conn, conversation_id)
    detail: dict[str, object] = {
        "contact": due.contact_id,
        "last_contact_at": due.last_contact_at,
        "due_at": due.due_at,
    }
    record_event(conn, conversation_id, now, ACTOR, "checkin", detail)
    if due.agent is not None:
        record_event(conn, conversation_id, now, ACTOR, "assigned", {"to": due.agent})
    conn.execute("UPDATE contacts SET last_checkin_at = ? WHERE id = ?", (now, due.contact_id))
    return conversation_id


def _insert_conversation(
    conn: sqlite3.Connection, due: CheckinDue, account_id: int, channel: str, now: float
) -> int:
    cursor = conn.execute(
        "INSERT INTO conversations (account_id, channel, subject, contact_id, status, assignee,"
        " tier, last_message_at, created_at, group_key, queue_key)"
        " VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, 0)",
        (
            account_id,
            channel,
            f"Check-in: {due.name}",
            due.contact_id,
            due.agent,
            due.tier,
            now,
            now,
            CHECKIN_KEY,
        ),
    )
    assert cursor.lastrowid is not None
    # Nobody is waiting, so no SLA: the rules place it after every customer who is.
    save_state(conn, cursor.lastrowid, ConvState(status="open", tier=due.tier, last_message_at=now))
    return cursor.lastrowid


def _insert_note(
    conn: sqlite3.Connection, conversation_id: int, account_id: int, due: CheckinDue, now: float
) -> None:
    quiet_days = int((now - due.last_contact_at) // DAY)
    text = (
        f"No conversation with {due.name} for {quiet_days} days: {due.tier} accounts get a"
        " routine check-in. Write to them from here (the reply goes out on their last"
        " channel), or note what you did, then close this."
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, account_id, remote_id, direction, author_name,"
        " sent_at, text, thread_reason, created_at)"
        " VALUES (?, ?, ?, 'note', 'Frontdesk', ?, ?, 'check-in due', ?)",
        (conversation_id, account_id, f"check-in:{due.contact_id}:{now!r}", now, text, now),
    )


def _tag(conn: sqlite3.Connection, conversation_id: int) -> None:
    conn.execute(
        "INSERT INTO tags (name, color) VALUES (?, 'green') ON CONFLICT(name) DO NOTHING",
        (CHECKIN_TAG,),
    )
    conn.execute(
        "INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id)"
        " SELECT ?, id FROM tags WHERE name = ?",
        (conversation_id, CHECKIN_TAG),
    )
