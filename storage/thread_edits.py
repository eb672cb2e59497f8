"""An agent's corrections of threading: split a conversation at a message, merge two
conversations of one contact; both recorded as events and undoable (issue 15).

Contract:

- `split(conn, message_id, ...)`: the message and every later one (by time, then id; notes
  included) move to a new conversation of the same account, channel and contact, whose state
  is derived from the moved messages by the inbox rules. Their ids are remembered in
  `thread_splits`, so later mail pointing at them goes to the new conversation. Events:
  `split` in both.
- `merge(conn, source, target, ...)`: every message (and its outbox item) of `source` moves to
  `target`; `source` stays, closed and empty, its tags copied and its thread links moved to
  `target` (later mail threads into the merged conversation).
  Only conversations of one contact and account merge (ValueError otherwise), or, on the
  agent's decision, a conversation started by a message kept out of the target (issue 14:
  its sender was no participant; it "refers to #N") into that target. Events:
  `merged` in the target, `merged_into` in the source. The state of whichever had the later
  message wins.
- Each returns an `Edit`; `undo_edit(conn, edit, ...)` puts the messages, links, splits and
  both conversations' states and tags back as they were, with an `undone` event (an undone
  split takes along mail that reached the split-off conversation since, and deletes it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from storage import rules, undo
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state


@dataclass(frozen=True)
class Edit:
    kind: str  # "split" or "merge"
    source: int  # the conversation messages left
    target: int  # the conversation they went to
    message_ids: tuple[int, ...]
    before: undo.Snapshot  # both conversations' state and tags before the edit
    splits: tuple[str, ...] = ()  # thread_splits refs the edit added
    links: tuple[str, ...] = ()  # thread_links refs the edit added to the target
    source_links: tuple[str, ...] = ()  # thread_links refs the edit took from the source


def split(
    conn: sqlite3.Connection, message_id: int, *, actor: str, at: float, policy: InboxPolicy
) -> Edit:
    row = conn.execute(
        "SELECT conversation_id, sent_at FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        raise KeyError(f"no message {message_id}")
    source, sent_at = int(row[0]), float(row[1])
    moved = _from(conn, source, message_id, sent_at)
    if len(moved) == _count(conn, source):
        raise ValueError("that is the conversation's first message: nothing would stay")
    before = undo.take(conn, "split", [source])
    target = _new_like(conn, source, message_id, at)
    _move(conn, moved, target)
    refs = _remember(conn, moved, target)
    save_state(conn, target, _derived(conn, target, policy))
    _shrink(conn, source, policy)
    detail: dict[str, object] = {"messages": moved, "from": source, "into": target}
    record_event(conn, source, at, actor, "split", detail)
    record_event(conn, target, at, actor, "split", detail)
    snapshot = undo.Snapshot("split", before.conversations)
    return Edit("split", source, target, tuple(moved), snapshot, splits=refs)


def merge(
    conn: sqlite3.Connection,
    source: int,
    target: int,
    *,
    actor: str,
    at: float,
    policy: InboxPolicy,
) -> Edit:
    if source == target:
        raise ValueError("a conversation cannot be merged with itself")
    pair = conn.execute(
        "SELECT count(DISTINCT contact_id), count(DISTINCT account_id), count(*)"
        " FROM conversations WHERE id IN (?, ?)",
        (source, target),
    ).fetchone()
    if pair[2] != 2:
        raise KeyError(f"no conversation {source if pair[2] else target}")
    if pair[1] != 1 or (pair[0] != 1 and not _kept_out(conn, source, target)):
        raise ValueError(
            "only conversations of the same contact and account can be merged"
            ' (or one kept out of this one: "refers to #N")'
        )
    before = undo.take(conn, "merge", [source, target])
    moved = [
        int(r[0])
        for r in conn.execute("SELECT id FROM messages WHERE conversation_id = ?", (source,))
    ]
    _move(conn, moved, target)
    links, taken = _take_links(conn, source, target)
    conn.execute(
        "INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id)"
        " SELECT ?, tag_id FROM conversation_tags WHERE conversation_id = ?",
        (target, source),
    )
    mine, theirs = before.conversations[1].state, before.conversations[0].state
    winner = theirs if theirs.last_message_at > mine.last_message_at else mine
    save_state(conn, target, replace(winner))
    closed = replace(theirs)
    rules.close_conversation(closed, at, policy)
    save_state(conn, source, closed)
    record_event(conn, target, at, actor, "merged", {"from": source, "messages": moved})
    record_event(conn, source, at, actor, "merged_into", {"into": target, "messages": moved})
    return Edit("merge", source, target, tuple(moved), before, links=links, source_links=taken)


def undo_edit(conn: sqlite3.Connection, edit: Edit, *, actor: str, at: float) -> None:
    """Mail that arrived in a split-off conversation since goes back with it. ValueError
    when threading has merged either conversation away since (nothing is changed)."""
    present = conn.execute(
        "SELECT count(*) FROM conversations WHERE id IN (?, ?)", (edit.source, edit.target)
    ).fetchone()[0]
    if present != 2:
        raise ValueError("cannot undo: a conversation of this edit was merged since")
    moved = list(edit.message_ids)
    if edit.kind == "split":
        moved = [
            int(r[0])
            for r in conn.execute(
                "SELECT id FROM messages WHERE conversation_id = ?", (edit.target,)
            )
        ]
    _move(conn, moved, edit.source)
    conn.executemany(
        "DELETE FROM thread_splits WHERE ref = ? AND conversation_id = ?",
        [(ref, edit.target) for ref in edit.splits],
    )
    conn.executemany(
        "DELETE FROM thread_links WHERE ref = ? AND conversation_id = ?",
        [(ref, edit.target) for ref in edit.links],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id)"
        " SELECT account_id, ?, ? FROM conversations WHERE id = ?",
        [(ref, edit.source, edit.source) for ref in edit.source_links],
    )
    undo.restore(conn, edit.before, actor, at)
    if edit.kind == "split":
        _move_links_back(conn, edit)
        # The split-off conversation is empty again: gone, with what was attached to it.
        conn.execute("DELETE FROM conversations WHERE id = ?", (edit.target,))
    else:
        record_event(conn, edit.target, at, actor, "undone", {"action": "merge"})


def _from(conn: sqlite3.Connection, source: int, message_id: int, sent_at: float) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM messages WHERE conversation_id = ?"
        " AND (sent_at > ? OR (sent_at = ? AND id >= ?)) ORDER BY sent_at, id",
        (source, sent_at, sent_at, message_id),
    )
    return [int(r[0]) for r in rows]


def _count(conn: sqlite3.Connection, conversation_id: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM messages WHERE conversation_id = ?", (conversation_id,)
    ).fetchone()
    return int(row[0])


def _new_like(conn: sqlite3.Connection, source: int, message_id: int, at: float) -> int:
    cursor = conn.execute(
        "INSERT INTO conversations (account_id, channel, subject, contact_id, status, tier,"
        " last_message_at, created_at, group_key, queue_key, assignee)"
        " SELECT v.account_id, v.channel, coalesce(nullif(m.subject, ''), v.subject),"
        " v.contact_id, 'open', v.tier, m.sent_at, ?, v.group_key, 0, v.assignee"
        " FROM conversations v JOIN messages m ON m.id = ? WHERE v.id = ?",
        (at, message_id, source),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _kept_out(conn: sqlite3.Connection, source: int, target: int) -> bool:
    """Whether `source` holds a message kept out of `target` (its `refers_to`)."""
    row = conn.execute(
        "SELECT 1 FROM messages WHERE conversation_id = ? AND refers_to = ? LIMIT 1",
        (source, target),
    ).fetchone()
    return row is not None


def _move(conn: sqlite3.Connection, message_ids: list[int], target: int) -> None:
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(
            f"UPDATE messages SET conversation_id = ? WHERE id IN ({marks})", (target, *chunk)
        )
        conn.execute(
            f"UPDATE outbox SET conversation_id = ? WHERE message_id IN ({marks})",
            (target, *chunk),
        )


def _refs_of(conn: sqlite3.Connection, message_ids: list[int]) -> list[str]:
    marks = ",".join("?" * len(message_ids))
    rows = conn.execute(
        f"SELECT thread_ref FROM messages WHERE id IN ({marks}) AND thread_ref IS NOT NULL",
        message_ids,
    )
    return [str(r[0]) for r in rows]


def _remember(conn: sqlite3.Connection, moved: list[int], target: int) -> tuple[str, ...]:
    """Later mail pointing at the moved messages goes to the split-off conversation."""
    account = conn.execute(
        "SELECT account_id FROM conversations WHERE id = ?", (target,)
    ).fetchone()[0]
    refs = tuple(dict.fromkeys(_refs_of(conn, moved)))
    conn.executemany(
        "INSERT OR REPLACE INTO thread_splits (account_id, ref, conversation_id) VALUES (?,?,?)",
        [(account, ref, target) for ref in refs],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id) VALUES (?,?,?)",
        [(account, ref, target) for ref in refs],
    )
    return refs


def _move_links_back(conn: sqlite3.Connection, edit: Edit) -> None:
    conn.execute("DELETE FROM thread_links WHERE conversation_id = ?", (edit.target,))


def _take_links(
    conn: sqlite3.Connection, source: int, target: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Move the source's thread links to the target: later mail threads into the merged
    conversation only. Returns (refs new to the target, refs taken from the source)."""
    rows = conn.execute(
        "SELECT account_id, ref, ref NOT IN (SELECT ref FROM thread_links"
        " WHERE conversation_id = ?) FROM thread_links WHERE conversation_id = ?",
        (target, source),
    ).fetchall()
    conn.executemany(
        "INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id) VALUES (?,?,?)",
        [(r[0], r[1], target) for r in rows],
    )
    conn.execute("DELETE FROM thread_links WHERE conversation_id = ?", (source,))
    return tuple(str(r[1]) for r in rows if r[2]), tuple(str(r[1]) for r in rows)


def _derived(conn: sqlite3.Connection, conversation_id: int, policy: InboxPolicy) -> ConvState:
    """The state the inbox rules give a conversation made of its messages, in time order."""
    tier = conn.execute(
        "SELECT tier FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()[0]
    rows = conn.execute(
        "SELECT direction, sent_at FROM messages WHERE conversation_id = ?"
        " AND direction != 'note' ORDER BY sent_at, id",
        (conversation_id,),
    ).fetchall()
    state = ConvState(status="open", tier=str(tier), last_message_at=float(rows[0][1]))
    for direction, sent_at in rows:
        if direction == "in":
            rules.customer_wrote(state, float(sent_at), policy)
        else:
            rules.agent_replied(state, float(sent_at), policy, close=False)
    return state


def _shrink(conn: sqlite3.Connection, source: int, policy: InboxPolicy) -> None:
    """What the source waits on now follows its remaining messages; a closed or snoozed
    conversation stays so (the agent's decision), with its newest message updated."""
    state = load_state(conn, source)
    if state.status in ("closed", "snoozed"):
        row = conn.execute(
            "SELECT max(sent_at) FROM messages WHERE conversation_id = ?", (source,)
        ).fetchone()
        state.last_message_at = float(row[0])
        save_state(conn, source, state)
    else:
        derived = _derived(conn, source, policy)
        derived.unread = state.unread
        save_state(conn, source, derived)
