"""The rules of the inbox (DESIGN.md section 4) as pure functions over a conversation's state.

Each function changes a `ConvState` in place and returns the events to record, so the rules can
be tested without a database and the store applies them identically everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Status
from storage.policy import InboxPolicy, ResponseKind

# queue_key bands: woken conversations first, then by SLA due time, then longest waiting, then
# the rest by recency. Epoch seconds are ~1.8e9, so the bands never overlap.
_WOKEN_BAND = -1e10
_WAITING_BAND = 1e10
_OTHER_BAND = 2e10


@dataclass(slots=True)
class ConvState:
    status: Status
    tier: str
    last_message_at: float
    waiting_since: float | None = None
    first_response_at: float | None = None
    closed_at: float | None = None
    snoozed_until: float | None = None
    wake_on_reply: bool = True
    snooze_note: str | None = None
    woken_at: float | None = None
    sla_due_at: float | None = None
    unread: bool = True
    snoozed_at: float | None = None


def queue_key(state: ConvState) -> float:
    """Ascending order of the needs-reply queue."""
    if state.woken_at is not None:
        return _WOKEN_BAND + state.woken_at
    if state.sla_due_at is not None:
        return state.sla_due_at
    if state.waiting_since is not None:
        return _WAITING_BAND + state.waiting_since
    return _OTHER_BAND - state.last_message_at


def refresh_sla(state: ConvState, policy: InboxPolicy) -> None:
    """The SLA clock runs only while the customer waits on an open conversation."""
    if state.status != "open" or state.waiting_since is None:
        state.sla_due_at = None
        return
    kind: ResponseKind = "first" if state.first_response_at is None else "next"
    state.sla_due_at = policy.due_at(state.tier, kind, state.waiting_since)


def customer_wrote(state: ConvState, at: float, policy: InboxPolicy) -> list[str]:
    """A customer message: reopen, wake if asked to, start the waiting clock."""
    events: list[str] = []
    if state.status == "closed":
        events.append("reopened")
        state.closed_at = None
    elif state.status == "snoozed":
        if not state.wake_on_reply:
            _touch(state, at, policy, waiting=True)
            return []
        events.append("woken")
        state.woken_at = at
        state.snoozed_until = None
        _end_snooze(state, at)
    state.status = "open"
    _touch(state, at, policy, waiting=True)
    return events


def agent_replied(state: ConvState, at: float, policy: InboxPolicy, *, close: bool) -> list[str]:
    """An agent reply: first response once, clock stopped, pending (or closed)."""
    if state.first_response_at is None:
        state.first_response_at = at
    state.waiting_since = None
    state.woken_at = None
    state.snoozed_until = None
    state.snoozed_at = None
    events: list[str] = []
    if close:
        events = close_conversation(state, at, policy)
    else:
        state.status = "pending"
    _touch(state, at, policy, waiting=False)
    return events


def _touch(state: ConvState, at: float, policy: InboxPolicy, *, waiting: bool) -> None:
    state.last_message_at = max(state.last_message_at, at)
    if waiting:
        state.unread = True
        if state.waiting_since is None:
            state.waiting_since = at
    refresh_sla(state, policy)


def close_conversation(state: ConvState, at: float, policy: InboxPolicy) -> list[str]:
    if state.status == "closed":
        return []
    state.status = "closed"
    state.closed_at = at
    state.woken_at = None
    state.snoozed_until = None
    state.snoozed_at = None
    # Closed without a reply: nobody waits any more; a later message starts a new wait.
    state.waiting_since = None
    refresh_sla(state, policy)
    return ["closed"]


def reopen(state: ConvState, policy: InboxPolicy) -> list[str]:
    if state.status == "open":
        return []
    state.status = "open"
    state.closed_at = None
    state.snoozed_until = None
    refresh_sla(state, policy)
    return ["reopened"]


def snooze(
    state: ConvState,
    until: float,
    policy: InboxPolicy,
    *,
    wake_on_reply: bool = True,
    note: str | None = None,
    at: float | None = None,
) -> list[str]:
    if state.status != "snoozed":
        state.snoozed_at = at
    state.status = "snoozed"
    state.snoozed_until = until
    state.wake_on_reply = wake_on_reply
    state.snooze_note = note
    state.woken_at = None
    refresh_sla(state, policy)
    return ["snoozed"]


def wake(state: ConvState, at: float, policy: InboxPolicy) -> list[str]:
    """The snooze time came: back to open, at the top of the queue, marked as woken."""
    if state.status != "snoozed":
        return []
    state.status = "open"
    state.snoozed_until = None
    state.woken_at = at
    _end_snooze(state, at)
    refresh_sla(state, policy)
    return ["woken"]


def _end_snooze(state: ConvState, at: float) -> None:
    """Snoozed time does not count against the SLA: move the waiting clock past it."""
    if state.snoozed_at is not None and state.waiting_since is not None:
        paused = max(0.0, at - state.snoozed_at)
        state.waiting_since = min(state.waiting_since + paused, at)
    state.snoozed_at = None
