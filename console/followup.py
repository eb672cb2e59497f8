"""Follow-ups by tag: one personalised reply to every customer of a view, reviewed first.

- One reply per contact per batch: of a contact's conversations in the batch, the most recent
  (last message, then the newest id) gets it; the others are named on it (`left_out`), never
  sent a second copy.
- The review lets the agent untick recipients; only the ticked are queued.
- The collision check runs at send too: a customer (or colleague) who wrote in one of the
  conversations since the batch was rendered is shown before anything is queued
  (`written_since`).
- `queue_batch` snapshots every conversation first (status, SLA clock, tags), so cancelling the
  batch (`Store.cancel_follow_up`) puts each conversation whose reply had not gone out back
  exactly as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from console import canned
from storage.message_ids import queued_key
from storage.models import CannedReply, ConversationDetail, Message
from storage.queue import View, cursor_of
from storage.store import Store
from storage.undo import Snapshot


@dataclass(frozen=True)
class Rendered:
    conversation_id: int
    customer: str
    channel: str
    subject: str
    text: str
    left_out: tuple[int, ...] = ()  # the contact's other conversations in the batch
    seen: int = 0  # the conversation's newest message id when rendered (collision check)


@dataclass(frozen=True)
class Batch:
    """A queued batch: its id (outbox `batch`) and the conversations as they were before."""

    id: str
    snapshot: Snapshot


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
    """Render the reply once per customer (`one_per_contact`); any failure blocks the whole
    batch (listed)."""
    rendered, blocked = [], []
    for detail, left_out in one_per_contact([store.detail(c) for c in ids]):
        conversation_id = detail.conversation.id
        try:
            values = canned.variables(detail, agent_name, agent_email)
            text = canned.render(reply.name, reply.body, values)
        except canned.TemplateProblem as exc:
            blocked.append(Blocked(conversation_id, detail.contact.name, str(exc)))
            continue
        rendered.append(_rendered(detail, text, left_out))
    return rendered, blocked


def one_per_contact(
    details: list[ConversationDetail],
) -> list[tuple[ConversationDetail, tuple[int, ...]]]:
    """Each contact's most recent conversation, with the ids of its others, in first-seen
    order of the contacts."""
    chosen: dict[int, ConversationDetail] = {}
    others: dict[int, list[int]] = {}
    for detail in details:
        contact = detail.contact.id
        best = chosen.get(contact)
        if best is None:
            chosen[contact], others[contact] = detail, []
        elif _recency(detail) > _recency(best):
            others[contact].append(best.conversation.id)
            chosen[contact] = detail
        else:
            others[contact].append(detail.conversation.id)
    return [(chosen[c], tuple(sorted(others[c]))) for c in chosen]


def _recency(detail: ConversationDetail) -> tuple[float, int]:
    return detail.conversation.last_message_at, detail.conversation.id


def _rendered(detail: ConversationDetail, text: str, left_out: tuple[int, ...]) -> Rendered:
    conv = detail.conversation
    seen = max((m.id for m in detail.messages), default=0)
    return Rendered(conv.id, detail.contact.name, conv.channel, conv.subject, text, left_out, seen)


def written_since(store: Store, rendered: list[Rendered]) -> list[tuple[Rendered, list[Message]]]:
    """The batch's conversations where someone wrote after it was rendered, with what."""
    found = []
    for item in rendered:
        newer = store.messages_after(item.conversation_id, item.seen)
        if newer:
            found.append((item, newer))
    return found


def queue_batch(
    store: Store,
    rendered: list[Rendered],
    *,
    agent_name: str,
    agent_email: str,
    tag: str | None,
    close: bool,
) -> Batch:
    """Queue one reply per conversation through the outbox, after a snapshot of each
    conversation (what cancelling the batch restores). Each reply's Message-ID is the email
    connector's (`agent_email` is no longer used)."""
    batch = uuid.uuid4().hex[:12]
    snapshot = store.snapshot("follow-up", [item.conversation_id for item in rendered])
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
    return Batch(batch, snapshot)
