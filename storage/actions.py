"""What agents do to conversations: close, reopen, snooze, wake, assign, tag, note.

Each change applies a rule (storage/rules.py) to the conversation's state and records the
events it produced. Every function runs in the caller's transaction (storage/store.py opens
it) and takes the time as `now`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from storage import library, rules, survey_flow
from storage.db import scalar
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state
from storage.surveys import SurveyPolicy


def change(
    conn: sqlite3.Connection,
    conversation_id: int,
    actor: str,
    rule: Callable[[ConvState], list[str]],
    now: float,
    detail: dict[str, object] | None = None,
) -> list[str]:
    """Apply a rule to one conversation and record what it did."""
    state = load_state(conn, conversation_id)
    events = rule(state)
    save_state(conn, conversation_id, state)
    for kind in events:
        record_event(conn, conversation_id, now, actor, kind, detail)
    return events


def close(
    conn: sqlite3.Connection,
    conversation_id: int,
    actor: str,
    policy: InboxPolicy,
    survey_policy: SurveyPolicy | None,
    now: float,
) -> list[str]:
    """Close, then queue the survey the close calls for (`survey_policy` None: none)."""
    events = change(
        conn, conversation_id, actor, lambda s: rules.close_conversation(s, now, policy), now
    )
    if "closed" in events:
        survey_flow.after_close(conn, conversation_id, actor, survey_policy, now)
    return events


def reopen(
    conn: sqlite3.Connection, conversation_id: int, actor: str, policy: InboxPolicy, now: float
) -> list[str]:
    """Reopen; a survey of the close not sent yet is withdrawn (nothing is resolved)."""
    events = change(conn, conversation_id, actor, lambda s: rules.reopen(s, policy), now)
    if "reopened" in events:
        survey_flow.withdraw_surveys(conn, conversation_id, actor, "reopened", now)
    return events


def snooze(
    conn: sqlite3.Connection,
    conversation_id: int,
    actor: str,
    until: float,
    *,
    wake_on_reply: bool,
    note: str | None,
    policy: InboxPolicy,
    now: float,
) -> list[str]:
    if until <= now:
        raise ValueError("the snooze time is in the past")
    return change(
        conn,
        conversation_id,
        actor,
        lambda s: rules.snooze(s, until, policy, wake_on_reply=wake_on_reply, note=note, at=now),
        now,
        {"until": until, "wake_on_reply": wake_on_reply, "note": note},
    )


def wake_due(conn: sqlite3.Connection, policy: InboxPolicy, now: float) -> list[int]:
    """Wake every snoozed conversation whose time has come; return their ids."""
    due = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= ?",
            (now,),
        )
    ]
    for conversation_id in due:
        change(conn, conversation_id, "snooze", lambda s: rules.wake(s, now, policy), now)
    return due


def mark_read(conn: sqlite3.Connection, conversation_id: int) -> None:
    conn.execute(
        "UPDATE conversations SET unread = 0 WHERE id = ? AND unread = 1", (conversation_id,)
    )


def assign(
    conn: sqlite3.Connection, conversation_id: int, actor: str, assignee: str | None, now: float
) -> None:
    conn.execute("UPDATE conversations SET assignee = ? WHERE id = ?", (assignee, conversation_id))
    record_event(conn, conversation_id, now, actor, "assigned", {"to": assignee})


def tag(
    conn: sqlite3.Connection,
    conversation_ids: Iterable[int],
    actor: str,
    name: str,
    on: bool,
    now: float,
) -> None:
    tag_id = library.ensure_tag(conn, name)
    for conversation_id in conversation_ids:
        library.set_tag(conn, conversation_id, tag_id, on)
        kind = "tagged" if on else "untagged"
        record_event(conn, conversation_id, now, actor, kind, {"tag": name})


def add_note(
    conn: sqlite3.Connection, conversation_id: int, author: str, text: str, now: float
) -> int:
    """An internal note: in the thread, never sent, changes no status."""
    account_id = scalar(
        conn, "SELECT account_id FROM conversations WHERE id = ?", (conversation_id,)
    )
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, account_id, remote_id, direction,"
        " author_name, sent_at, text, thread_reason, created_at)"
        " VALUES (?, ?, ?, 'note', ?, ?, ?, 'internal note', ?)",
        (conversation_id, account_id, f"note:{now}:{conversation_id}", author, now, text, now),
    )
    record_event(conn, conversation_id, now, author, "note", {})
    assert cursor.lastrowid is not None
    return cursor.lastrowid
