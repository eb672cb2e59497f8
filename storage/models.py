"""Typed records going in and out of the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Channel = Literal["email", "slack"]
Direction = Literal["in", "out", "note"]
Status = Literal["open", "pending", "snoozed", "closed"]
IdentityKind = Literal["email", "slack"]
STATUSES: tuple[Status, ...] = ("open", "pending", "snoozed", "closed")


@dataclass(frozen=True, slots=True)
class IdentityRef:
    """An address a person uses: `email:alice@x.com`, `slack:U123`."""

    kind: IdentityKind
    address: str
    display_name: str = ""

    def key(self) -> str:
        return f"{self.kind}:{self.address}"


@dataclass(frozen=True, slots=True)
class AttachmentIn:
    filename: str
    content_type: str
    size: int
    remote_ref: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as a connector hands it to the store (in either direction).

    Threading is decided in the store from what the connector computed: `parent_refs` are the
    `thread_ref`s this message points at (email In-Reply-To/References newest first, a Slack
    thread parent), `group_key` the fallback key (normalised subject, Slack channel) used with
    `group_window` seconds.
    """

    account_id: int
    remote_id: str
    channel: Channel
    direction: Direction
    author: IdentityRef
    customer: IdentityRef
    sent_at: float
    text: str
    subject: str = ""
    thread_ref: str | None = None
    parent_refs: tuple[str, ...] = ()
    group_key: str = ""
    group_window: float = 0.0
    html: str | None = None
    quote_offset: int | None = None
    headers: dict[str, object] = field(default_factory=dict)
    attachments: tuple[AttachmentIn, ...] = ()
    problems: tuple[str, ...] = ()
    # Email membership (storage/threads.py): the addresses on From/To/Cc other than ours, and
    # "list:<List-Id>" for list mail; whether the sender is one of our agents.
    participants: tuple[str, ...] = ()
    from_agent: bool = False
    # Equal for copies of one message (Message-ID, sender, subject, Date); "" = remote_id alone
    # identifies the message (Slack).
    fingerprint: str = ""
    spoofing: str | None = None  # why the From looks forged, shown in the thread


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int
    conversation_id: int
    created: bool
    thread_reason: str


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One line of the queue: enough to paint it, nothing more."""

    id: int
    channel: Channel
    contact_name: str
    tier: str
    subject: str
    tags: tuple[tuple[str, str], ...]  # (name, colour)
    status: Status
    assignee: str | None
    waiting_since: float | None
    sla_due_at: float | None
    last_message_at: float
    unread: bool
    woken: bool
    queue_key: float
    sort_key: float | None = None  # the view's order column, for keyset paging


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    account_id: int
    channel: Channel
    subject: str
    contact_id: int
    status: Status
    assignee: str | None
    snoozed_until: float | None
    wake_on_reply: bool
    snooze_note: str | None
    woken_at: float | None
    waiting_since: float | None
    first_response_at: float | None
    closed_at: float | None
    last_message_at: float
    created_at: float
    tier: str
    sla_due_at: float | None
    unread: bool
    group_key: str
    queue_key: float


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    direction: Direction
    author_name: str
    author_address: str | None
    sent_at: float
    subject: str
    text: str
    quote_offset: int | None
    thread_reason: str
    delivery: str | None
    deleted: bool
    problems: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    refers_to: int | None = None  # the conversation it pointed at but was kept out of
    spoofing: str | None = None  # why its From looks forged


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    actor: str
    kind: str
    detail: dict[str, object]


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    tier: str
    identities: tuple[IdentityRef, ...]


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A past conversation in the context panel."""

    id: int
    channel: Channel
    subject: str
    status: Status
    last_message_at: float


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    conversation: Conversation
    contact: Contact
    messages: tuple[Message, ...]
    events: tuple[Event, ...]
    tags: tuple[tuple[str, str], ...]
    others: tuple[ConversationSummary, ...]
    rating: Rating | None = None  # the customer's latest survey answer (storage/surveys.py)


@dataclass(frozen=True, slots=True)
class Rating:
    """A survey answer: `rating` on a scale of 1 to `scale_max` (`kind` csat 5, ces 7)."""

    kind: str
    rating: int
    scale_max: int
    comment: str | None  # the rest of the answering mail, as the customer wrote it
    answered_at: float


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    conversation_id: int
    account_id: int
    message_id: int
    body: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_by: str
    outcome: str | None = None  # 'uncertain' | 'held' (storage/delivery.py)
    resends: int = 0
    top_level: int = 0  # Slack: post in the channel, not in the thread (the agent's choice)
    as_dm: int = 0  # Slack: send to the customer as a DM (a held reply; storage/held_replies.py)


@dataclass(frozen=True, slots=True)
class CannedReply:
    id: int
    name: str
    shortcut: str | None
    folder: str
    body: str
    source: str
