"""Which conversation a message joins, who may join one, and merging (issues 14 and 15).

Contract:

- `thread_links` holds, per account, every id a conversation's messages are or point at
  (Message-ID, In-Reply-To, References). These are JWZ's containers, kept for ids never
  stored too: replies to a message we never saw find each other through the id they share,
  and a parent arriving after its replies finds the conversations they formed.
- A message's candidates are the conversations linked to its parent refs (most specific
  first, the oldest conversation first for one ref), then those linked to its own id (replies
  that came before it). A split (`thread_splits`) wins over both.
- Email membership: a candidate takes a message only when the message is ours (direction
  out: our Sent folder or our outbox), from one of our agents, or its sender is a
  participant: an identity of the conversation's contact, an address on From/To/Cc of its
  messages, or the list both came through (List-Id, or a message sent to the conversation's
  List-Post address: anyone on a public list may answer in its threads).
  A parent arriving after replies to it joins them when they would have been let in had it
  come first (see `_answered_by`), so membership does not depend on the delivery order.
  Slack threads have no such rule (the workspace is the boundary).
- The message joins the first candidate that takes it. The other candidates that take it
  are merged into that one when their contact may write there too (a late parent re-threads
  what its replies formed; a stranger's conversation never merges into a customer's one).
  Each merge is a `merged` event in the surviving conversation naming what moved.
- No candidate takes it: the subject fallback, same contact (so the sender is a participant
  by construction) and a subject key any of the conversation's messages had (a "subject "
  link), within the window; every conversation it matches is merged into the most recent.
  A message without references that joins by its id bridges its subject's conversations
  too. So the result does not depend on delivery order. Else, when a candidate exists, a
  new conversation that `refers_to` it; its ids are linked to it as usual: the membership
  and merge rules, not missing links, keep it apart from the customer's. When the sender
  later becomes a participant there (put on Cc), that conversation is merged in
  (`readmitted`), as it would have joined had the mail come in the other order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from storage.models import InboundMessage
from storage.state import record_event

LIST_PREFIX = "list:"
# thread_links rows for a message's subject key (never a usable Message-ID: it has a space).
SUBJECT_LINK = "subject "


@dataclass(frozen=True, slots=True)
class Placement:
    conversation_id: int  # 0: start a new conversation
    reason: str
    refers_to: int | None = None
    merge: tuple[int, ...] = ()  # conversations to fold into `conversation_id`

    @property
    def refused(self) -> bool:
        return self.refers_to is not None


def place(conn: sqlite3.Connection, msg: InboundMessage, contact_id: int) -> Placement:
    """Where `msg` goes; nothing is written."""
    split = _split_target(conn, msg)
    if split is not None:
        return Placement(split[0], f"refers to {split[1]} (remembered from a split)")
    candidates = _candidates(conn, msg)
    answered = _answered_by(conn, msg)
    taking = [(conv, ref) for conv, ref in candidates if conv in answered or takes(conn, conv, msg)]
    if taking:
        target, ref = taking[0]
        others = [conv for conv, _ in taking[1:]]
        if not msg.parent_refs:  # a root bridges its subject's conversations too
            others += subject_matches(conn, msg, contact_id)
        # Threads of replies to this message merge freely: had it come first, each reply
        # would have joined it. Others only when their contact may write in the target.
        merge = [
            c
            for c in dict.fromkeys(others)
            if c != target and (c in answered or _may_merge(conn, c, target))
        ]
        return Placement(target, f"refers to {ref}", merge=tuple(merge))
    matches = subject_matches(conn, msg, contact_id)
    if matches:
        why = f"same contact and {msg.group_key!r} within {msg.group_window:g}s"
        # A message within the window of two such conversations bridges them: one
        # conversation, whichever order the mail came in. (Email only: Slack keeps its
        # conversations as the channel's windows formed them.)
        bridged = tuple(matches[1:]) if msg.channel == "email" else ()
        return Placement(matches[0], why, merge=bridged)
    if candidates:
        conv, ref = candidates[0]
        who = msg.author.address
        reason = f"refers to #{conv} ({ref}), but {who} is not one of its participants"
        return Placement(0, reason, refers_to=conv)
    return Placement(0, "new conversation")


def subject_matches(conn: sqlite3.Connection, msg: InboundMessage, contact_id: int) -> list[int]:
    """The subject fallback: conversations of the same account and contact within the window
    whose key, or (email) the key of any of their messages, is the message's; newest first."""
    if not msg.group_key or msg.group_window <= 0:
        return []
    rows = conn.execute(
        "SELECT id FROM conversations v WHERE account_id = ? AND contact_id = ?"
        " AND last_message_at BETWEEN ? AND ? AND (group_key = ? OR EXISTS (SELECT 1"
        "  FROM thread_links l WHERE l.account_id = v.account_id AND l.ref = ?"
        "  AND l.conversation_id = v.id))"
        " ORDER BY last_message_at DESC, id",
        # Both sides of the window: a late-arriving older message must not join a
        # conversation that only started long after it.
        (
            msg.account_id,
            contact_id,
            msg.sent_at - msg.group_window,
            msg.sent_at + msg.group_window,
            msg.group_key,
            SUBJECT_LINK + msg.group_key,
        ),
    ).fetchall()
    return [int(r[0]) for r in rows]


def _split_target(conn: sqlite3.Connection, msg: InboundMessage) -> tuple[int, str] | None:
    for ref in _own_and_parents(msg):
        row = conn.execute(
            "SELECT conversation_id FROM thread_splits WHERE account_id = ? AND ref = ?",
            (msg.account_id, ref),
        ).fetchone()
        if row is not None:
            return int(row[0]), ref
    return None


def _own_and_parents(msg: InboundMessage) -> list[str]:
    own = [msg.thread_ref] if msg.thread_ref else []
    return [*own, *msg.parent_refs]


def _candidates(conn: sqlite3.Connection, msg: InboundMessage) -> list[tuple[int, str]]:
    refs = [*msg.parent_refs, *([msg.thread_ref] if msg.thread_ref else [])]
    found: dict[int, str] = {}
    for ref in refs:
        # Messages written by the store itself (our queued replies, notes, a Slack reply's
        # server id) have no links: their own id is found on the message.
        rows = conn.execute(
            "SELECT conversation_id FROM thread_links WHERE account_id = ? AND ref = ?"
            " UNION SELECT conversation_id FROM messages WHERE account_id = ? AND thread_ref = ?"
            " ORDER BY 1",
            (msg.account_id, ref, msg.account_id, ref),
        )
        for (conv,) in rows:
            found.setdefault(int(conv), ref)
    return list(found.items())


def _answered_by(conn: sqlite3.Connection, msg: InboundMessage) -> set[int]:
    """Conversations holding replies to this message, which arrives after them.

    It joins one when the order could have been the other way round: had it come first,
    those replies would have been let in (one is ours, or by someone on its From/To/Cc, or
    they share its list). So membership does not depend on the delivery order. Only while
    its id is a ghost (no stored message has it): a second message claiming a stored id is
    no one's parent.
    """
    if not msg.thread_ref:
        return set()
    stored = conn.execute(
        "SELECT 1 FROM messages WHERE account_id = ? AND thread_ref = ? LIMIT 1",
        (msg.account_id, msg.thread_ref),
    ).fetchone()
    if stored is not None:
        return set()
    people = [p for p in msg.participants if not p.startswith(LIST_PREFIX)] or [""]
    lists = [p for p in msg.participants if p.startswith(LIST_PREFIX)]
    # ...and a reply sent to the list's address (List-Post) without list headers of its own.
    lists += [p[len(LIST_PREFIX) :] for p in lists]
    lists += [LIST_PREFIX + p.replace("@", ".") for p in people if p] or [""]
    rows = conn.execute(
        "SELECT l.conversation_id FROM thread_links l WHERE l.account_id = ? AND l.ref = ?"
        " AND (EXISTS (SELECT 1 FROM messages m LEFT JOIN identities i"
        "  ON i.id = m.author_identity_id WHERE m.conversation_id = l.conversation_id"
        f"  AND (m.direction = 'out' OR i.address IN ({','.join('?' * len(people))})))"
        "  OR EXISTS (SELECT 1 FROM conversation_participants p"
        "  WHERE p.conversation_id = l.conversation_id"
        f"  AND p.address IN ({','.join('?' * len(lists))})))",
        (msg.account_id, msg.thread_ref, *people, *lists),
    )
    return {int(r[0]) for r in rows}


def takes(conn: sqlite3.Connection, conversation_id: int, msg: InboundMessage) -> bool:
    """Whether the conversation lets `msg` in (see the module docstring)."""
    if msg.channel != "email" or msg.direction != "in" or msg.from_agent:
        return True
    lists = [p for p in msg.participants if p.startswith(LIST_PREFIX)]
    # Sent to a list's address (List-Post) the conversation came through: a public thread.
    # (by its List-Post address, or an address that spells its List-Id: dev@x.org for dev.x.org)
    people = [p for p in msg.participants if not p.startswith(LIST_PREFIX)]
    posted = [LIST_PREFIX + p for p in people] + [LIST_PREFIX + p.replace("@", ".") for p in people]
    keys = [msg.author.address, *lists, *posted]
    marks = ",".join("?" * len(keys))
    row = conn.execute(
        "SELECT 1 FROM conversation_participants WHERE conversation_id = ?"
        f" AND address IN ({marks})"
        " UNION ALL SELECT 1 FROM identities i JOIN conversations v ON v.contact_id = i.contact_id"
        " WHERE v.id = ? AND i.kind = 'email' AND i.address = ? LIMIT 1",
        (conversation_id, *keys, conversation_id, msg.author.address),
    ).fetchone()
    return row is not None


def _may_merge(conn: sqlite3.Connection, source: int, target: int) -> bool:
    """Whether `source`'s contact could write in `target` (or both are one list's threads)."""
    row = conn.execute(
        "SELECT 1 FROM conversations s JOIN conversations t ON t.id = ?"
        " WHERE s.id = ? AND s.channel = t.channel AND s.account_id = t.account_id AND ("
        "  s.contact_id = t.contact_id"
        "  OR EXISTS (SELECT 1 FROM identities i JOIN conversation_participants p"
        "   ON p.address = i.address AND p.conversation_id = t.id"
        "   WHERE i.contact_id = s.contact_id AND i.kind = 'email')"
        "  OR EXISTS (SELECT 1 FROM conversation_participants a JOIN conversation_participants b"
        "   ON a.address = b.address WHERE a.conversation_id = s.id AND b.conversation_id = t.id"
        "   AND a.address LIKE 'list:%'))",
        (target, source),
    ).fetchone()
    return row is not None


def record(
    conn: sqlite3.Connection, msg: InboundMessage, conversation_id: int, placement: Placement
) -> int:
    """Links and participants a stored message adds to its conversation; returns how many
    participants are new there (none: no kept-out conversation can be let in now)."""
    refs = [*([msg.thread_ref] if msg.thread_ref else []), *msg.parent_refs]
    if msg.channel == "email" and msg.group_key:
        refs.append(SUBJECT_LINK + msg.group_key)
    conn.executemany(
        "INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id) VALUES (?, ?, ?)",
        [(msg.account_id, ref, conversation_id) for ref in refs],
    )
    return add_participants(conn, conversation_id, msg.participants)


def add_participants(conn: sqlite3.Connection, conversation_id: int, found: Iterable[str]) -> int:
    cursor = conn.executemany(
        "INSERT OR IGNORE INTO conversation_participants (conversation_id, address) VALUES (?, ?)",
        [(conversation_id, address) for address in found if address],
    )
    return max(cursor.rowcount, 0)


def readmitted(conn: sqlite3.Connection, conversation_id: int) -> list[int]:
    """Conversations of mail once kept out of this one whose contact may now write here
    (someone here put them on Cc since): had the mail come in the other order, they would
    have joined. So membership does not depend on the delivery order."""
    rows = conn.execute(
        "SELECT DISTINCT conversation_id FROM messages WHERE refers_to = ?"
        " AND conversation_id != ?",
        (conversation_id, conversation_id),
    ).fetchall()
    return [int(r[0]) for r in rows if _may_merge(conn, int(r[0]), conversation_id)]


def _referencing_tables(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table, column) of every foreign key onto conversations, whoever added the table."""
    tables = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'conversations'"
        " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts%'"
    ).fetchall()
    found = []
    for (table,) in tables:
        for fk in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,)):
            if fk["table"] == "conversations":
                found.append((str(table), str(fk["from"])))
    return found


def merge_conversations(
    conn: sqlite3.Connection, source: int, target: int, *, at: float, actor: str, why: str
) -> list[int]:
    """Move everything of `source` into `target` and delete `source`; returns the moved
    message ids. The caller recomputes the target's state. Rows that cannot move (a second
    draft for one conversation) are dropped with the source."""
    moved = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM messages WHERE conversation_id = ? ORDER BY id", (source,)
        )
    ]
    subject = conn.execute("SELECT subject FROM conversations WHERE id = ?", (source,)).fetchone()
    for table, column in _referencing_tables(conn):
        conn.execute(
            f'UPDATE OR IGNORE "{table}" SET "{column}" = ? WHERE "{column}" = ?',
            (target, source),
        )
        conn.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (source,))
    conn.execute("UPDATE messages SET refers_to = ? WHERE refers_to = ?", (target, source))
    conn.execute("DELETE FROM conversations WHERE id = ?", (source,))
    detail: dict[str, object] = {
        "from": source,
        "subject": "" if subject is None else subject[0],
        "messages": moved,
        "why": why,
    }
    record_event(conn, target, at, actor, "merged", detail)
    return moved
