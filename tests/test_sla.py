"""Tiers and SLAs: business-hours arithmetic, the rules' SLA clock, tier config, check-ins."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.runner import run_once
from console.config import ConfigError, load_config
from storage import checkins, queue
from storage.aio import AsyncStore
from storage.policy import SimplePolicy
from storage.sla import (
    ALWAYS,
    BusinessHours,
    add_business_seconds,
    business_seconds_between,
    in_business_hours,
    parse_days,
    parse_window,
)
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

HOUR = 3600.0
DAY = 24 * HOUR
PARIS = "Europe/Paris"
OFFICE = BusinessHours(
    days=parse_days(["mon", "tue", "wed", "thu", "fri"]),
    opens=9 * 60,
    closes=17 * 60,
    timezone=PARIS,
    holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
)


def at(text: str, zone: str = PARIS) -> float:
    """'2026-03-27 16:00' in a zone, as epoch seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(epoch: float, zone: str = PARIS) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


# -- parsing -------------------------------------------------------------------------------------


def test_days_and_hours_parse_and_say_what_is_wrong() -> None:
    assert parse_days(["Mon", "tue", "sunday"]) == {0, 1, 6}
    assert parse_window("09:00-17:30") == (540, 1050)
    assert parse_window("00:00-24:00") == (0, 1440)
    with pytest.raises(ValueError, match="not a weekday"):
        parse_days(["mon", "funday"])
    with pytest.raises(ValueError, match="at least one"):
        parse_days([])
    with pytest.raises(ValueError, match="open before they close"):
        parse_window("17:00-09:00")
    with pytest.raises(ValueError, match='"09:00-17:00"'):
        parse_window("9 to 5")
    with pytest.raises(ValueError, match="IANA"):
        BusinessHours(timezone="Europe/Pariss")


# -- business-hours arithmetic -------------------------------------------------------------------


def test_friday_afternoon_rolls_over_the_weekend_and_the_dst_change() -> None:
    # Paris springs forward on Sunday 29 March 2026: Monday's 10:00 is CEST, not CET.
    due = add_business_seconds(at("2026-03-27 16:00"), 2 * HOUR, OFFICE)
    assert local(due) == "2026-03-30 10:00 CEST"
    assert due - at("2026-03-27 16:00") == 65 * HOUR  # not 66: the night of the change is short


def test_holidays_are_skipped_in_the_tiers_own_zone() -> None:
    # Thursday 24 December, 16:00; Friday the 25th is a holiday; the weekend follows.
    due = add_business_seconds(at("2026-12-24 16:00"), 2 * HOUR, OFFICE)
    assert local(due) == "2026-12-28 10:00 CET"


def test_before_opening_and_on_a_weekend_the_clock_waits_for_the_opening() -> None:
    assert local(add_business_seconds(at("2026-06-01 07:00"), HOUR, OFFICE)) == (
        "2026-06-01 10:00 CEST"
    )
    assert local(add_business_seconds(at("2026-06-06 11:00"), 0, OFFICE)) == (
        "2026-06-08 09:00 CEST"
    )


def test_a_budget_that_ends_at_closing_is_due_at_closing() -> None:
    assert local(add_business_seconds(at("2026-06-01 09:00"), 8 * HOUR, OFFICE)) == (
        "2026-06-01 17:00 CEST"
    )
    assert local(add_business_seconds(at("2026-06-01 09:00"), 8 * HOUR + 1, OFFICE)) == (
        "2026-06-02 09:00 CEST"
    )


def test_the_same_hours_in_another_zone_are_other_instants() -> None:
    new_york = replace(OFFICE, timezone="America/New_York", holidays=frozenset())
    start = at("2026-06-01 16:00", "America/New_York")  # 22:00 in Paris: closed there
    assert local(add_business_seconds(start, 2 * HOUR, new_york), "America/New_York") == (
        "2026-06-02 10:00 EDT"
    )
    assert local(add_business_seconds(start, 2 * HOUR, OFFICE)) == "2026-06-02 11:00 CEST"


def test_a_window_across_a_dst_change_counts_the_hours_that_really_passed() -> None:
    # 01:00-05:00 on 29 March 2026 in Paris lasts 3 real hours (02:00 jumps to 03:00).
    night = BusinessHours(opens=60, closes=300, timezone=PARIS)
    due = add_business_seconds(at("2026-03-29 01:00"), 4 * HOUR, night)
    assert local(due) == "2026-03-30 02:00 CEST"
    # ... and 01:00-05:00 on 25 October lasts 5 (03:00 falls back to 02:00).
    assert local(add_business_seconds(at("2026-10-25 01:00"), 4.5 * HOUR, night)) == (
        "2026-10-25 04:30 CET"
    )


def test_around_the_clock_in_a_zone_with_dst_is_plain_addition() -> None:
    local_24_7 = BusinessHours(timezone="America/New_York")
    start = at("2026-10-31 12:00", "America/New_York")  # the 25-hour day follows
    assert add_business_seconds(start, DAY, local_24_7) == start + DAY
    assert add_business_seconds(start, DAY, ALWAYS) == start + DAY


def test_pauses_stop_the_clock() -> None:
    start = at("2026-06-01 10:00")
    snoozed = (at("2026-06-01 10:30"), at("2026-06-01 11:30"))
    assert local(add_business_seconds(start, 2 * HOUR, OFFICE, [snoozed])) == (
        "2026-06-01 13:00 CEST"
    )
    # A pause over closed hours changes nothing; overlapping pauses count once.
    evening = (at("2026-06-01 18:00"), at("2026-06-02 08:00"))
    assert add_business_seconds(start, 8 * HOUR, OFFICE, [evening]) == add_business_seconds(
        start, 8 * HOUR, OFFICE
    )
    twice = [snoozed, (at("2026-06-01 11:00"), at("2026-06-01 12:00"))]
    assert local(add_business_seconds(start, HOUR, OFFICE, twice)) == "2026-06-01 12:30 CEST"


# Instants from 2025 to 2028: several DST changes and both holidays in range.
instants = st.floats(min_value=at("2025-01-01 00:00"), max_value=at("2028-01-01 00:00"))
# Whole milliseconds: a budget of 1e-300 s is absorbed by float addition (a + b == a), which
# says nothing about business hours.
budgets = st.integers(0, int(30 * DAY * 1000)).map(lambda ms: ms / 1000)
zones = st.sampled_from(["UTC", PARIS, "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])


@st.composite
def business_hours(draw: st.DrawFn) -> BusinessHours:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    opens = draw(st.integers(0, 23 * 60 - 1))
    closes = draw(st.integers(min(opens + 120, 24 * 60), 24 * 60))
    return BusinessHours(days, opens, closes, draw(zones), OFFICE.holidays)


@settings(max_examples=300, deadline=None)
@given(business_hours(), instants, budgets.filter(lambda s: s > 0))
def test_due_time_is_always_inside_business_hours(
    hours: BusinessHours, start: float, seconds: float
) -> None:
    due = add_business_seconds(start, seconds, hours)
    assert in_business_hours(due, hours)
    assert due >= start


@settings(max_examples=300, deadline=None)
@given(business_hours(), instants, budgets, budgets)
def test_due_time_grows_with_the_budget_and_budgets_add_up(
    hours: BusinessHours, start: float, a: float, b: float
) -> None:
    first = add_business_seconds(start, a, hours)
    both = add_business_seconds(start, a + b, hours)
    assert first <= both
    assert add_business_seconds(first, b, hours) == pytest.approx(both, abs=1e-3)


@settings(max_examples=300, deadline=None)
@given(business_hours(), instants, instants, budgets)
def test_a_later_start_is_never_due_earlier(
    hours: BusinessHours, one: float, other: float, seconds: float
) -> None:
    early, late = sorted((one, other))
    assert add_business_seconds(early, seconds, hours) <= add_business_seconds(late, seconds, hours)


@settings(max_examples=300, deadline=None)
@given(business_hours(), instants, budgets)
def test_counting_business_seconds_back_gives_the_budget(
    hours: BusinessHours, start: float, seconds: float
) -> None:
    due = add_business_seconds(start, seconds, hours)
    assert business_seconds_between(start, due, hours) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(zones, instants, budgets)
def test_every_hour_of_every_day_is_wall_clock_addition(
    zone: str, start: float, seconds: float
) -> None:
    hours = BusinessHours(timezone=zone)
    assert add_business_seconds(start, seconds, hours) == pytest.approx(start + seconds, abs=1e-3)


# -- the SLA clock in the store's rules -----------------------------------------------------------

OFFICE_POLICY = SimplePolicy(
    by_domain={"bigcustomer.com": "advanced"},
    first_response={"standard": 4 * HOUR, "advanced": HOUR},
    next_response={"standard": 8 * HOUR, "advanced": 2 * HOUR},
    hours={"standard": OFFICE, "advanced": OFFICE},
)


@pytest.fixture
def office(db_path: Path) -> tuple[Store, FakeClock]:
    clock = FakeClock(at("2026-03-27 15:00"))  # a Friday afternoon in Paris
    return Store(db_path, clock=clock, policy=OFFICE_POLICY), clock


def test_first_response_due_time_counts_business_hours(office: tuple[Store, FakeClock]) -> None:
    store, clock = office
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    due = store.detail(cid).conversation.sla_due_at
    assert due is not None and local(due) == "2026-03-30 11:00 CEST"  # 2h Friday, 2h Monday


def test_pending_time_does_not_count_and_next_response_targets_apply(
    office: tuple[Store, FakeClock],
) -> None:
    store, clock = office
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    clock.advance(HOUR)
    store.queue_reply(cid, "Sam", "On it", remote_id="<r1@x>")
    pending = store.detail(cid).conversation
    assert pending.status == "pending" and pending.sla_due_at is None
    clock.now = at("2026-03-31 10:00")  # the customer answers days later
    store.ingest([email(account, "<b@x>", clock.now, parents=("<r1@x>",))])
    reopened = store.detail(cid).conversation
    assert reopened.waiting_since == clock.now  # the clock restarts from their new message
    assert reopened.sla_due_at is not None
    # next response: 8 business hours from Tuesday 10:00 is Wednesday 10:00
    assert local(reopened.sla_due_at) == "2026-04-01 10:00 CEST"


def test_the_queue_orders_by_business_hours_due_time(office: tuple[Store, FakeClock]) -> None:
    store, clock = office
    account = store.ensure_account("mail", "imap")
    boss = customer("boss@bigcustomer.com", "Big Boss")
    standard = store.ingest([email(account, "<s@x>", clock.now)])[0].conversation_id
    clock.advance(HOUR)
    advanced = store.ingest([email(account, "<v@x>", clock.now, who=boss, subject="Down")])[0]
    rows = store.page(queue.needs_reply())
    assert [r.id for r in rows] == [advanced.conversation_id, standard]


def test_snoozed_time_does_not_count_against_the_live_sla(
    office: tuple[Store, FakeClock],
) -> None:
    store, clock = office
    clock.now = at("2026-06-01 10:00")
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    before = store.detail(cid).conversation.sla_due_at
    store.snooze(cid, "Sam", clock.now + HOUR)
    clock.advance(HOUR)
    store.wake_due()
    after = store.detail(cid).conversation.sla_due_at
    assert before is not None and after == before + HOUR


# -- tier configuration -----------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


TIERS = """
[tiers.standard]
default = true
first_response = "4h"
next_response = "1d"
resolution = "3d"
business_days = ["mon", "tue", "wed", "thu", "fri"]
business_hours = "09:00-17:00"
timezone = "Europe/Paris"
holidays = ["2026-12-25", 2027-01-01]

[tiers.advanced]
first_response = "1h"
checkin_every = "30d"
"""


def test_tier_business_hours_and_check_ins_come_from_the_config(tmp_path: Path) -> None:
    policy = load_config(write_config(tmp_path, TIERS)).policy()
    assert policy.hours["standard"] == OFFICE
    assert policy.hours["advanced"] == ALWAYS  # default: around the clock in UTC
    assert policy.resolution == {"standard": 3 * DAY}
    assert policy.checkin_every == {"advanced": 30 * DAY}
    assert policy.due_at("standard", "first", at("2026-03-27 16:00")) == at("2026-03-30 12:00")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('timezone = "Mars/Olympus"', 'IANA name such as "Europe/Paris"'),
        ('business_hours = "9-5"', '"09:00-17:00"'),
        ('business_days = ["mon", "caturday"]', "not a weekday"),
        ('checkin_every = "monthly"', '"30m"'),
        ('holidays = ["25/12/2026"]', "date"),
    ],
)
def test_tier_mistakes_name_the_key_and_the_fix(tmp_path: Path, line: str, expected: str) -> None:
    path = write_config(tmp_path, f"[tiers.vip]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    key = line.split(" ", 1)[0]
    assert f"tiers.vip.{key}" in str(caught.value) and expected in str(caught.value)


# -- check-ins ----------------------------------------------------------------------------------

CHECKIN_POLICY = SimplePolicy(
    by_domain={"bigcustomer.com": "advanced"}, checkin_every={"advanced": 30 * DAY}
)
BOSS = customer("boss@bigcustomer.com", "Big Boss")


@pytest.fixture
def key_account(db_path: Path, clock: FakeClock) -> tuple[Store, int]:
    """A key account whose last conversation (assigned to Kim) was 31 days ago."""
    store = Store(db_path, clock=clock, policy=CHECKIN_POLICY)
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now - 31 * DAY, who=BOSS)])[0]
    store.assign(cid.conversation_id, "Lead", "kim@example.com")
    store.close_conversation(cid.conversation_id, "Kim")
    store.ingest([email(account, "<b@x>", clock.now - 2 * DAY)])  # a basic customer, recently
    return store, account


def test_a_quiet_key_account_gets_one_check_in_for_its_agent(
    key_account: tuple[Store, int], clock: FakeClock
) -> None:
    store, _ = key_account
    created = store.raise_checkins()
    assert len(created) == 1 and store.raise_checkins() == []  # idempotent
    detail = store.detail(created[0])
    assert detail.conversation.status == "open"
    assert detail.conversation.assignee == "kim@example.com"
    assert detail.contact.name == "Big Boss" and detail.conversation.tier == "advanced"
    assert detail.tags == (("check-in", "green"),)
    assert [m.direction for m in detail.messages] == ["note"]
    assert "31 days" in detail.messages[0].text
    assert [e.kind for e in detail.events] == ["checkin", "assigned"]
    mine = store.page(queue.mine("kim@example.com"))
    assert [r.id for r in mine] == created


def test_the_next_check_in_comes_an_interval_after_the_last(
    key_account: tuple[Store, int], clock: FakeClock
) -> None:
    store, _ = key_account
    [first] = store.raise_checkins()
    store.close_conversation(first, "Kim")
    clock.advance(29 * DAY)
    assert store.raise_checkins() == []
    clock.advance(2 * DAY)
    assert len(store.raise_checkins()) == 1


def test_an_open_check_in_is_never_doubled_and_contact_resets_the_clock(
    key_account: tuple[Store, int], clock: FakeClock
) -> None:
    store, account = key_account
    [first] = store.raise_checkins()
    clock.advance(40 * DAY)  # nobody acted on it: still one open check-in
    assert store.raise_checkins() == []
    due = checkins.upcoming(store.conn, CHECKIN_POLICY.checkin_every, clock.now)
    assert [(d.name, d.open_checkin) for d in due] == [("Big Boss", first)]
    store.close_conversation(first, "Kim")
    store.ingest([email(account, "<c@x>", clock.now, who=BOSS, subject="Hello again")])
    assert store.raise_checkins() == []
    assert checkins.upcoming(store.conn, CHECKIN_POLICY.checkin_every, clock.now + 29 * DAY) == []


def test_the_runner_pass_raises_check_ins(db_path: Path, clock: FakeClock) -> None:
    setup = Store(db_path, clock=clock, policy=CHECKIN_POLICY)
    account = setup.ensure_account("mail", "imap")
    setup.ingest([email(account, "<a@x>", clock.now - 45 * DAY, who=BOSS)])
    setup.close()

    async def one_pass() -> list[str]:
        astore = AsyncStore(lambda: Store(db_path, clock=clock, policy=CHECKIN_POLICY))
        try:
            return await run_once(astore, [])
        finally:
            await astore.aclose()

    assert asyncio.run(one_pass()) == []
    store = Store(db_path, clock=clock)
    assert store.page(queue.by_tag("check-in"))[0].subject == "Check-in: Big Boss"
    store.close()
