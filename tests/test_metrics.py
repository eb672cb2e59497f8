"""Report metrics against a hand-computed inbox built through the store, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import metrics
from storage.metrics import Distribution, Period
from storage.models import Channel, IdentityRef
from storage.policy import SimplePolicy
from storage.sla import BusinessHours, parse_days
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR
T0 = 1_800_000_000.0  # Friday 15 January 2027, 08:00 UTC
NOW = T0 + 7 * DAY
WEEK = Period(T0, NOW)

POLICY = SimplePolicy(
    by_domain={"big.com": "advanced"},
    first_response={"standard": 4 * HOUR, "advanced": HOUR},
    next_response={"standard": 8 * HOUR, "advanced": 2 * HOUR},
    resolution={"standard": 14 * HOUR},
)


@dataclass
class Inbox:
    store: Store
    clock: FakeClock
    ids: dict[str, int]
    messages: dict[str, int]


def customer_writes(
    inbox: Inbox,
    name: str,
    remote: str,
    at: float,
    who: IdentityRef,
    *,
    parents: tuple[str, ...] = (),
    channel: Channel = "email",
    subject: str = "Help with my order",
) -> None:
    inbox.clock.now = at
    account = inbox.store.ensure_account(channel, "slack" if channel == "slack" else "imap")
    msg = email(account, remote, at, who=who, parents=parents, channel=channel, subject=subject)
    result = inbox.store.ingest([msg])[0]
    inbox.ids.setdefault(name, result.conversation_id)
    inbox.messages[remote] = result.message_id


def agent_replies(inbox: Inbox, name: str, at: float, *, close: bool = False) -> None:
    inbox.clock.now = at
    remote = f"<reply-{name}-{at}@x>"
    inbox.store.queue_reply(inbox.ids[name], "Sam", "Answer", remote_id=remote, close=close)


def close(inbox: Inbox, name: str, at: float) -> None:
    inbox.clock.now = at
    inbox.store.close_conversation(inbox.ids[name], "Sam")


ALICE = customer("alice@example.com", "Alice")
BOSS = customer("boss@big.com", "Big Boss")
CAROL = IdentityRef("slack", "U1", "Carol")
DAVE = customer("dave@example.com", "Dave")
ERIN = customer("erin@big.com", "Erin")
FRED = customer("fred@example.com", "Fred")


@pytest.fixture
def inbox(db_path: Path) -> Inbox:
    """Six conversations; the comments give what each contributes to the week's report."""
    clock = FakeClock(T0)
    box = Inbox(Store(db_path, clock=clock, policy=POLICY), clock, {}, {})
    # F: all before the week: counts nowhere.
    customer_writes(box, "F", "<f1@x>", T0 - 2 * DAY, FRED)
    agent_replies(box, "F", T0 - 2 * DAY + HOUR, close=True)
    # A (standard, billing): first 2h; next 10h (target 8h: breach); two replies, so no FCR;
    # resolved in 16h, of which 3h + 1h waiting on Alice: 12h < 14h target, no breach.
    customer_writes(box, "A", "<a1@x>", T0, ALICE)
    agent_replies(box, "A", T0 + 2 * HOUR)
    customer_writes(box, "A", "<a2@x>", T0 + 5 * HOUR, ALICE, parents=("<a1@x>",))
    agent_replies(box, "A", T0 + 15 * HOUR)
    close(box, "A", T0 + 16 * HOUR)
    # B (advanced, Kim's, billing + urgent): first 3h (target 1h: breach), closed with the
    # reply but reopened a day later (no FCR); next 1h; final close 1d 1h after it began.
    customer_writes(box, "B", "<b1@x>", T0 + HOUR, BOSS)
    agent_replies(box, "B", T0 + 4 * HOUR, close=True)
    customer_writes(box, "B", "<b2@x>", T0 + DAY, BOSS, parents=("<b1@x>",))
    agent_replies(box, "B", T0 + DAY + HOUR)
    close(box, "B", T0 + DAY + 2 * HOUR)
    # C (standard, Slack): first 30m, closed with that one reply: FCR; resolved in 30m.
    customer_writes(box, "C", "<c1@x>", T0 + 2 * DAY, CAROL, channel="slack")
    agent_replies(box, "C", T0 + 2 * DAY + 30 * MINUTE, close=True)
    # D (standard): never answered; due 4h after, so a running breach and the backlog.
    customer_writes(box, "D", "<d1@x>", T0 + 3 * DAY, DAVE)
    # E (advanced): snoozed 2h before the reply at 2h45m: 45m of clock < 1h target, no breach.
    customer_writes(box, "E", "<e1@x>", T0 + 4 * DAY, ERIN)
    box.clock.now = T0 + 4 * DAY + 30 * MINUTE
    box.store.snooze(box.ids["E"], "Sam", T0 + 4 * DAY + 150 * MINUTE)
    box.clock.now = T0 + 4 * DAY + 150 * MINUTE
    assert box.store.wake_due() == [box.ids["E"]]
    agent_replies(box, "E", T0 + 4 * DAY + 165 * MINUTE)
    box.store.assign(box.ids["B"], "Lead", "kim@example.com")
    box.store.tag([box.ids["A"], box.ids["B"]], "Sam", "billing")
    box.store.tag([box.ids["B"]], "Sam", "urgent")
    box.clock.now = NOW
    return box


def dist(count: int, median: float | None = None, p90: float | None = None) -> Distribution:
    return Distribution(count, median, p90)


def test_totals_for_the_week(inbox: Inbox) -> None:
    report = metrics.report(inbox.store.conn, WEEK, "all", POLICY, NOW)
    total = report.total
    assert (total.key, total.conversations, total.messages_in) == ("all", 5, 7)
    # first responses: C 30m, A 2h, E 2h45m, B 3h; nearest rank: 2nd and 4th of 4
    assert total.first_response == dist(4, 2 * HOUR, 3 * HOUR)
    assert total.next_response == dist(2, HOUR, 10 * HOUR)  # B 1h, A 10h
    assert total.resolution == dist(3, 16 * HOUR, DAY + HOUR)  # C 30m, A 16h, B 1d 1h
    assert (total.fcr_resolved, total.fcr_total, total.fcr_rate) == (1, 3, pytest.approx(1 / 3))
    assert total.breaches == 3  # B first, A next, D first (still running)
    assert total.backlog == 1  # D
    assert report.slices == [total]


def test_by_tier(inbox: Inbox) -> None:
    report = metrics.report(inbox.store.conn, WEEK, "tier", POLICY, NOW)
    advanced, standard = report.slices
    assert advanced == metrics.SliceMetrics(
        "advanced",
        conversations=2,
        messages_in=3,
        first_response=dist(2, 165 * MINUTE, 3 * HOUR),
        next_response=dist(1, HOUR, HOUR),
        resolution=dist(1, DAY + HOUR, DAY + HOUR),
        fcr_resolved=0,
        fcr_total=1,
        breaches=1,
        backlog=0,
    )
    assert standard == metrics.SliceMetrics(
        "standard",
        conversations=3,
        messages_in=4,
        first_response=dist(2, 30 * MINUTE, 2 * HOUR),
        next_response=dist(1, 10 * HOUR, 10 * HOUR),
        resolution=dist(2, 30 * MINUTE, 16 * HOUR),
        fcr_resolved=1,
        fcr_total=2,
        breaches=2,
        backlog=1,
    )


def test_by_channel_agent_and_tag(inbox: Inbox) -> None:
    conn = inbox.store.conn

    def by(dimension: metrics.Dimension) -> dict[str, tuple[int, int]]:
        report = metrics.report(conn, WEEK, dimension, POLICY, NOW)
        return {s.key: (s.conversations, s.breaches) for s in report.slices}

    assert by("channel") == {"email": (4, 3), "slack": (1, 0)}
    assert by("agent") == {"(unassigned)": (4, 2), "kim@example.com": (1, 1)}
    # a conversation counts under each of its tags
    assert by("tag") == {"(untagged)": (3, 1), "billing": (2, 2), "urgent": (1, 1)}


def test_breaches_are_traced_to_the_message_that_started_the_wait(inbox: Inbox) -> None:
    found = metrics.breaches(inbox.store.conn, WEEK, POLICY, NOW)
    assert [(b.conversation_id, b.kind, b.message_id, b.due_at, b.ended_at) for b in found] == [
        (inbox.ids["B"], "first", inbox.messages["<b1@x>"], T0 + 2 * HOUR, T0 + 4 * HOUR),
        (inbox.ids["A"], "next", inbox.messages["<a2@x>"], T0 + 13 * HOUR, T0 + 15 * HOUR),
        (inbox.ids["D"], "first", inbox.messages["<d1@x>"], T0 + 3 * DAY + 4 * HOUR, None),
    ]
    assert found[0].contact == "Big Boss" and found[0].tier == "advanced"


def test_a_period_counts_only_what_started_in_it(inbox: Inbox) -> None:
    first_day = Period(T0, T0 + DAY - 1)
    total = metrics.report(inbox.store.conn, first_day, "all", POLICY, NOW).total
    assert (total.conversations, total.messages_in) == (2, 3)  # A, B; a1, a2, b1
    assert total.first_response == dist(2, 2 * HOUR, 3 * HOUR)
    assert total.resolution == dist(1, 16 * HOUR, 16 * HOUR)  # A; B closed for good later
    assert total.fcr_total == 2  # A's and B's first closes
    before = Period(T0 - 3 * DAY, T0 - 1)
    assert metrics.report(inbox.store.conn, before, "all", POLICY, NOW).total.conversations == 1


def test_daily_volume_by_channel_and_the_sparkline_series(inbox: Inbox) -> None:
    rows = metrics.daily(inbox.store.conn, WEEK, "channel", POLICY, NOW)
    assert [(r.day, r.key, r.conversations, r.first_response_median) for r in rows] == [
        ("2027-01-15", "email", 2, 2 * HOUR),
        ("2027-01-16", "email", 0, None),  # B's second message: a message, no new conversation
        ("2027-01-17", "slack", 1, 30 * MINUTE),
        ("2027-01-18", "email", 1, None),
        ("2027-01-19", "email", 1, 165 * MINUTE),
    ]
    assert WEEK.days()[0] == "2027-01-15" and len(WEEK.days()) == 8
    assert metrics.series(rows, WEEK, lambda r: r.conversations) == [2, 0, 1, 1, 1, 0, 0, 0]


def test_at_risk_lists_live_due_times_most_urgent_first(inbox: Inbox) -> None:
    store, clock = inbox.store, inbox.clock
    account = store.ensure_account("email", "imap")
    clock.now = NOW - 30 * MINUTE
    store.ingest([email(account, "<g@x>", clock.now, who=customer("gina@big.com", "Gina"))])
    clock.now = NOW
    store.ingest([email(account, "<h@x>", NOW, who=customer("hal@example.com", "Hal"))])
    risky = metrics.at_risk(store.conn, NOW, horizon=HOUR)
    assert [(r.contact, r.due_at) for r in risky] == [
        ("Dave", T0 + 3 * DAY + 4 * HOUR),  # overdue for days
        ("Gina", NOW + 30 * MINUTE),  # advanced: 1h
    ]  # Hal, standard, is due in 4h: beyond the horizon


def test_fcr_counts_a_reopen_only_within_the_window(db_path: Path) -> None:
    clock = FakeClock(T0)
    box = Inbox(Store(db_path, clock=clock, policy=POLICY), clock, {}, {})
    customer_writes(box, "late", "<l1@x>", T0, ALICE)
    agent_replies(box, "late", T0 + HOUR, close=True)
    customer_writes(box, "late", "<l2@x>", T0 + 8 * DAY, ALICE, parents=("<l1@x>",))
    customer_writes(box, "agent", "<g1@x>", T0, DAVE, subject="Other")
    agent_replies(box, "agent", T0 + HOUR, close=True)
    box.clock.now = T0 + 2 * DAY
    box.store.reopen(box.ids["agent"], "Sam")  # an agent reopening counts too
    now = T0 + 10 * DAY

    def fcr(days: float) -> tuple[int, int]:
        total = metrics.report(box.store.conn, Period(T0, now), "all", POLICY, now, fcr_days=days)
        return total.total.fcr_resolved, total.total.fcr_total

    assert fcr(7) == (1, 2)  # "late" came back after 8 days: a new contact, still FCR
    assert fcr(9) == (0, 2)
    assert fcr(1) == (2, 2)


def test_breaches_count_business_hours(db_path: Path) -> None:
    office = BusinessHours(parse_days(["mon", "tue", "wed", "thu", "fri"]), 540, 1020, "UTC")
    policy = SimplePolicy(first_response={"standard": 4 * HOUR}, hours={"standard": office})
    clock = FakeClock(T0)
    box = Inbox(Store(db_path, clock=clock, policy=policy), clock, {}, {})
    friday_evening = T0 + 10 * HOUR  # Friday 18:00 UTC
    customer_writes(box, "X", "<x@x>", friday_evening, ALICE)
    agent_replies(box, "X", friday_evening + 2 * DAY + 15 * HOUR + 30 * MINUTE)  # Mon 09:30
    now = T0 + 4 * DAY
    week = Period(T0, now)
    assert metrics.report(box.store.conn, week, "all", policy, now).total.breaches == 0
    total = metrics.report(box.store.conn, week, "all", POLICY, now).total  # around the clock
    assert total.breaches == 1
    assert total.first_response == dist(1, 2 * DAY + 15.5 * HOUR, 2 * DAY + 15.5 * HOUR)


def test_an_empty_store_reports_zeros(store: Store) -> None:
    report = metrics.report(store.conn, WEEK, "tier", POLICY, NOW)
    assert report.total == metrics.SliceMetrics("all") and report.slices == []
    assert report.total.fcr_rate is None
