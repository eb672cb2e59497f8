"""A batch from a channel, filed in one transaction: survey answers taken out, messages
ingested (storage/ingest.py), the checkpoint saved, a first sync's history closed.

Every function runs in the caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage import accounts, actions, survey_flow, surveys
from storage.history import HISTORY_ACTOR, settled
from storage.ingest import ingest_one
from storage.models import InboundMessage, IngestResult
from storage.policy import InboxPolicy
from storage.state import record_event

Checkpoint = tuple[int, str, dict[str, object]]  # account id, scope, state


def ingest(
    conn: sqlite3.Connection,
    messages: Sequence[InboundMessage],
    checkpoint: Checkpoint | None,
    policy: InboxPolicy,
    now: float,
) -> list[IngestResult]:
    """Store messages (idempotent on account + remote id) and the checkpoint."""
    results = [ingest_one(conn, m, policy, now) for m in messages]
    if checkpoint is not None:
        accounts.save_checkpoint(conn, *checkpoint, now)
    return results


def ingest_mail(
    conn: sqlite3.Connection,
    messages: Sequence[InboundMessage],
    checkpoint: Checkpoint | None,
    policy: InboxPolicy,
    now: float,
) -> list[IngestResult]:
    """`ingest`, with survey answers taken out first (see `Store.ingest_mail`)."""
    results: list[IngestResult] = []
    for message in messages:
        answer = surveys.take_answer(conn, message, now)
        if answer.outcome in ("recorded", "duplicate"):
            if answer.outcome == "recorded" and answer.survey_conversation is not None:
                survey_flow.note_answer(conn, answer.survey_conversation, policy, now)
            continue
        result = ingest_one(conn, message, policy, now)
        results.append(result)
        if message.direction == "in" and result.created:  # a new message
            survey_flow.withdraw_if_open(conn, result.conversation_id, now)
        if answer.outcome == "ignored":
            detail: dict[str, object] = {
                "reason": answer.reason,
                "survey_conversation": answer.survey_conversation,
            }
            record_event(conn, result.conversation_id, now, "sync", "survey_answer_ignored", detail)
    if checkpoint is not None:
        accounts.save_checkpoint(conn, *checkpoint, now)
    return results


def ingest_history(
    conn: sqlite3.Connection,
    messages: Sequence[InboundMessage],
    checkpoint: Checkpoint,
    horizon: float,
    policy: InboxPolicy,
    now: float,
) -> list[IngestResult]:
    """`ingest_mail` during a first sync, closing the conversations that are history."""
    results = ingest_mail(conn, messages, checkpoint, policy, now)
    touched = [r.conversation_id for r in results if r.created]
    for conversation_id in settled(conn, touched, horizon):
        actions.close(conn, conversation_id, HISTORY_ACTOR, policy, None, now)
    return results
