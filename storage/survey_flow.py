"""What surveys do to a conversation: sent after a close or in a reply, skipped, withdrawn,
answered, each leaving its event (storage/surveys.py plans, tokens and answers them).

Every function runs in the caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import sqlite3

from storage import nps, surveys
from storage.policy import InboxPolicy
from storage.state import record_event
from storage.surveys import SurveyPolicy


def after_close(
    conn: sqlite3.Connection,
    conversation_id: int,
    actor: str,
    policy: SurveyPolicy | None,
    now: float,
) -> str | None:
    """Queue the survey a close calls for (see `Store.survey_after_close`); its token."""
    if policy is None:
        return None
    status = conn.execute(
        "SELECT status FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if status is None or status[0] != "closed":
        return None
    planned = surveys.plan(conn, conversation_id, policy, now)
    if planned is None:
        return None
    if isinstance(planned, str):
        detail: dict[str, object] = {"reason": planned}
        record_event(conn, conversation_id, now, actor, "survey_skipped", detail)
        return None
    token = surveys.queue(conn, planned, actor, now)
    detail = {"kind": planned.survey.scale}
    record_event(conn, conversation_id, now, actor, "survey_sent", detail)
    return token


def survey_in_reply(
    conn: sqlite3.Connection,
    conversation_id: int,
    message_id: int,
    author: str,
    now: float,
    survey: surveys.InReply,
) -> None:
    if survey.planned is not None:
        surveys.record(conn, survey.planned, survey.token, message_id, now)
        detail: dict[str, object] = {"kind": survey.planned.survey.scale, "in_reply": True}
        record_event(conn, conversation_id, now, author, "survey_sent", detail)
    elif survey.why_not is not None:
        detail = {"reason": survey.why_not, "in_reply": True}
        record_event(conn, conversation_id, now, author, "survey_skipped", detail)


def withdraw_surveys(
    conn: sqlite3.Connection, conversation_id: int, actor: str, why: str, now: float
) -> None:
    taken = surveys.withdraw(conn, conversation_id)
    if taken.withdrawn:
        detail: dict[str, object] = {"count": taken.withdrawn, "why": why}
        record_event(conn, conversation_id, now, actor, "survey_withdrawn", detail)


def withdraw_if_open(conn: sqlite3.Connection, conversation_id: int, now: float) -> None:
    """The customer wrote again before their survey went out: it is withdrawn."""
    row = conn.execute(
        "SELECT status FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if row is not None and row[0] != "closed":
        withdraw_surveys(conn, conversation_id, "customer", "the customer wrote again", now)


def note_answer(
    conn: sqlite3.Connection,
    conversation_id: int,
    policy: InboxPolicy,
    now: float,
) -> None:
    """A survey answer was recorded: noted on the conversation it asked about."""
    rating = surveys.latest_rating(conn, conversation_id)
    detail: dict[str, object] = (
        {}
        if rating is None
        else {"kind": rating.kind, "rating": rating.rating, "of": rating.scale_max}
    )
    record_event(conn, conversation_id, now, "customer", "survey_answered", detail)
    if rating is not None:  # an NPS detractor: back in their agent's queue
        nps.after_answer(conn, conversation_id, rating, policy, now)
