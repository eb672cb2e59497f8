"""The inbox rules as pure functions (storage/rules.py), against values computed by hand.

Written from the surviving mutants of `make mutate` on storage/rules.py: each test names the
state a rule must leave behind, field by field (None is None, not merely falsy).
"""

from __future__ import annotations

from storage import rules
from storage.policy import SimplePolicy
from storage.rules import ConvState

HOUR = 3600.0
POLICY = SimplePolicy(first_response={"standard": HOUR}, next_response={"standard": 2 * HOUR})


def state(status: str = "open", **fields: object) -> ConvState:
    return ConvState(status=status, tier="standard", last_message_at=0.0, **fields)  # type: ignore[arg-type]


def test_queue_key_bands_and_orders_within_them() -> None:
    assert rules.queue_key(state(woken_at=5.0)) == -1e10 + 5.0
    assert rules.queue_key(state(woken_at=5.0)) < rules.queue_key(state(woken_at=9.0))
    assert rules.queue_key(state(sla_due_at=7.0)) == 7.0
    assert rules.queue_key(state(waiting_since=3.0)) == 1e10 + 3.0
    newer, older = state(), state()
    newer.last_message_at, older.last_message_at = 200.0, 100.0
    assert rules.queue_key(newer) == 2e10 - 200.0
    assert rules.queue_key(newer) < rules.queue_key(older)  # the rest: most recent first


def test_the_sla_clock_runs_only_for_an_open_conversation_with_a_waiting_customer() -> None:
    pending = state("pending", waiting_since=100.0, sla_due_at=999.0)
    rules.refresh_sla(pending, POLICY)
    assert pending.sla_due_at is None
    waiting = state("open", waiting_since=100.0)
    rules.refresh_sla(waiting, POLICY)
    assert waiting.sla_due_at == 100.0 + HOUR  # first response: 1 h
    waiting.first_response_at = 50.0
    rules.refresh_sla(waiting, POLICY)
    assert waiting.sla_due_at == 100.0 + 2 * HOUR  # next response: 2 h


def test_a_customer_writing_to_a_closed_conversation_reopens_it() -> None:
    s = state("closed", closed_at=50.0)
    assert rules.customer_wrote(s, 100.0, POLICY) == ["reopened"]
    assert (s.status, s.closed_at, s.waiting_since, s.sla_due_at) == ("open", None, 100.0, 3700.0)
    assert s.last_message_at == 100.0 and s.unread is True


def test_a_customer_writing_to_a_snooze_without_wake_on_reply_leaves_it_snoozed() -> None:
    s = state("snoozed", snoozed_until=900.0, wake_on_reply=False, unread=False, snoozed_at=10.0)
    assert rules.customer_wrote(s, 100.0, POLICY) == []
    assert (s.status, s.snoozed_until, s.woken_at) == ("snoozed", 900.0, None)
    assert (s.waiting_since, s.unread, s.last_message_at) == (100.0, True, 100.0)
    assert s.sla_due_at is None  # snoozed: no clock


def test_a_customer_writing_to_a_snooze_with_wake_on_reply_wakes_it() -> None:
    s = state("snoozed", snoozed_until=900.0, snoozed_at=40.0, waiting_since=20.0)
    assert rules.customer_wrote(s, 100.0, POLICY) == ["woken"]
    assert (s.status, s.snoozed_until, s.snoozed_at, s.woken_at) == ("open", None, None, 100.0)
    # waited from 20; snoozed 40..100 does not count: 20 + 60 = 80
    assert s.waiting_since == 80.0 and s.sla_due_at == 80.0 + HOUR


def test_an_agent_reply_stops_the_clock_and_pends_or_closes() -> None:
    s = state("snoozed", waiting_since=10.0, woken_at=5.0, snoozed_until=900.0, snoozed_at=8.0)
    assert rules.agent_replied(s, 100.0, POLICY, close=False) == []
    assert (s.status, s.first_response_at, s.waiting_since, s.woken_at) == (
        "pending",
        100.0,
        None,
        None,
    )
    assert (s.snoozed_until, s.snoozed_at, s.sla_due_at) == (None, None, None)
    assert rules.agent_replied(s, 200.0, POLICY, close=True) == ["closed"]
    assert (s.status, s.closed_at, s.first_response_at, s.last_message_at) == (
        "closed",
        200.0,
        100.0,
        200.0,
    )


def test_closing_twice_records_one_close() -> None:
    s = state("open", waiting_since=10.0, snoozed_until=5.0, snoozed_at=4.0, woken_at=3.0)
    assert rules.close_conversation(s, 100.0, POLICY) == ["closed"]
    assert (s.status, s.closed_at, s.waiting_since, s.sla_due_at) == ("closed", 100.0, None, None)
    assert (s.snoozed_until, s.snoozed_at, s.woken_at) == (None, None, None)
    assert rules.close_conversation(s, 200.0, POLICY) == []
    assert s.closed_at == 100.0


def test_reopen() -> None:
    s = state("closed", closed_at=50.0, snoozed_until=70.0, waiting_since=10.0)
    assert rules.reopen(s, POLICY) == ["reopened"]
    assert (s.status, s.closed_at, s.snoozed_until, s.sla_due_at) == (
        "open",
        None,
        None,
        10.0 + HOUR,
    )
    assert rules.reopen(s, POLICY) == []
    assert s.status == "open"


def test_snooze_keeps_when_it_began_and_wakes_on_reply_by_default() -> None:
    s = state("open", waiting_since=10.0, woken_at=3.0)
    assert rules.snooze(s, 900.0, POLICY, at=100.0) == ["snoozed"]
    assert (s.status, s.snoozed_until, s.snoozed_at, s.wake_on_reply) == (
        "snoozed",
        900.0,
        100.0,
        True,
    )
    assert (s.woken_at, s.sla_due_at, s.snooze_note) == (None, None, None)
    assert rules.snooze(s, 1200.0, POLICY, wake_on_reply=False, note="n", at=300.0) == ["snoozed"]
    assert (s.snoozed_until, s.snoozed_at, s.wake_on_reply, s.snooze_note) == (
        1200.0,
        100.0,  # re-snoozing does not restart the pause
        False,
        "n",
    )


def test_wake_moves_the_waiting_clock_past_the_snooze() -> None:
    s = state("snoozed", snoozed_until=500.0, snoozed_at=200.0, waiting_since=100.0)
    assert rules.wake(s, 500.0, POLICY) == ["woken"]
    # waited 100..200, snoozed 200..500: the clock reads as if waiting since 400
    assert (s.status, s.snoozed_until, s.snoozed_at, s.woken_at) == ("open", None, None, 500.0)
    assert s.waiting_since == 400.0 and s.sla_due_at == 400.0 + HOUR
    assert rules.wake(s, 600.0, POLICY) == []  # not snoozed: nothing


def test_a_snooze_woken_at_once_moves_no_clock_and_one_without_a_waiter_starts_none() -> None:
    s = state("snoozed", snoozed_until=500.0, snoozed_at=200.0, waiting_since=100.0)
    rules.wake(s, 200.0, POLICY)
    assert s.waiting_since == 100.0
    idle = state("snoozed", snoozed_until=500.0, snoozed_at=200.0)
    rules.wake(idle, 500.0, POLICY)
    assert (idle.waiting_since, idle.snoozed_at, idle.sla_due_at) == (None, None, None)
