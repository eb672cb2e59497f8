"""Follow-ups by tag: one personalised reply to every conversation of a view, reviewed first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from console import canned
from storage.message_ids import queued_key
from storage.models import CannedReply, ConversationDetail
from storage.queue import View, cursor_of
from storage.store import Store


@dataclass(frozen=True)
class Rendered:
    conversation_id: int
    customer: str
    channel: str
    subject: str
    text: str


@dataclass(frozen=True)
class Blocked:
    conversation_id: int
    customer: str
    reason: str


def conversations_in(store: Store, view: View, page: int = 500) -> Iterator[int]:
    """Every conversation of a view, paged (views can be large)."""
    after = None
    while rows := store.page(view, after=after, limit=page):
        yield from (row.id for row in rows)
        after = cursor_of(rows[-1])


def render_batch(
    store: Store, ids: list[int], reply: CannedReply, agent_name: str, agent_email: str
) -> tuple[list[Rendered], list[Blocked]]:
    """Render the reply for each customer; any failure blocks the whole batch (listed)."""
    rendered, blocked = [], []
    for conversation_id in ids:
        detail = store.detail(conversation_id)
        try:
            values = canned.variables(detail, agent_name, agent_email)
            text = canned.render(reply.name, reply.body, values)
        except canned.TemplateProblem as exc:
            blocked.append(Blocked(conversation_id, detail.contact.name, str(exc)))
            continue
        rendered.append(_rendered(detail, text))
    return rendered, blocked


def _rendered(detail: ConversationDetail, text: str) -> Rendered:
    conv = detail.conversation
    return Rendered(conv.id, detail.contact.name, conv.channel, conv.subject, text)


def queue_batch(
    store: Store,
    rendered: list[Rendered],
    *,
    agent_name: str,
    agent_email: str,
    tag: str | None,
    close: bool,
) -> str:
    """Queue one reply per conversation through the outbox; returns the batch id. Each
    reply's Message-ID is the email connector's (`agent_email` is no longer used)."""
    batch = uuid.uuid4().hex[:12]
    for item in rendered:
        store.queue_reply(
            item.conversation_id,
            agent_name,
            item.text,
            remote_id=queued_key(),
            close=close,
            batch=batch,
            survey_at=canned.SURVEY_MARK,  # the reply's `{{ survey }}`, if it has one
        )
    if tag:
        store.tag([item.conversation_id for item in rendered], agent_name, tag)
    return batch
