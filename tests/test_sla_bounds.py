"""Business-hours arithmetic at its edges: exact boundaries, DST gaps, pauses, long closures.

Every expected instant below is worked out by hand from a calendar (oracles, not the product's
own functions). The messages are the ones a config mistake shows the user, so they are checked
whole.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.sla import (
    MAX_CLOSED_DAYS,
    BusinessHours,
    add_business_seconds,
    business_seconds_between,
    in_business_hours,
    parse_days,
    parse_window,
)

HOUR = 3600.0
PARIS = "Europe/Paris"
WEEKDAYS_ONLY = frozenset(range(5))
# Monday to Friday, 09:00-17:00 in Paris; 1 June 2026 is a Monday (CEST, UTC+2).
OFFICE = BusinessHours(days=WEEKDAYS_ONLY, opens=9 * 60, closes=17 * 60, timezone=PARIS)


def at(text: str, zone: str = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def utc(text: str) -> float:
    return at(text, "UTC")


# -- parsing: the exact bounds and the whole message ----------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("09:30-17:00", (570, 1020)),  # 9 * 60 + 30: opening minutes count
        ("09:59-17:59", (599, 1079)),  # :59 is a minute like any other, on both sides
        ("00:00-00:01", (0, 1)),
    ],
)
def test_a_window_parses_to_minutes_after_midnight(text: str, minutes: tuple[int, int]) -> None:
    assert parse_window(text) == minutes


@pytest.mark.parametrize("text", ["09:60-17:00", "09:00-17:60", "09:00-09:00", "24:00-24:00"])
def test_impossible_minutes_and_empty_windows_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_window(text)
    assert str(caught.value) == (
        f"{text!r}: the hours must open before they close within one day (00:00-24:00)"
    )


def test_day_mistakes_list_the_fix_whole() -> None:
    with pytest.raises(ValueError) as caught:
        parse_days(["mon", "funday"])
    assert str(caught.value) == "'funday' is not a weekday: use mon, tue, wed, thu, fri, sat, sun"
    with pytest.raises(ValueError) as caught:
        parse_days([])
    assert str(caught.value) == 'no business days: list at least one, e.g. ["mon", "tue"]'


@pytest.mark.parametrize("days", [frozenset({7}), frozenset({0, 7}), frozenset({-1})])
def test_business_days_outside_the_week_are_refused(days: frozenset[int]) -> None:
    with pytest.raises(ValueError) as caught:
        BusinessHours(days=days)
    assert str(caught.value) == "business days must be a non-empty set of weekdays 0-6"


@pytest.mark.parametrize(("opens", "closes"), [(540, 540), (600, 540), (-1, 60), (0, 1441)])
def test_business_hours_that_never_open_are_refused(opens: int, closes: int) -> None:
    with pytest.raises(ValueError) as caught:
        BusinessHours(opens=opens, closes=closes)
    assert str(caught.value) == "business hours must open before they close, within one day"


def test_a_negative_target_is_refused_whole() -> None:
    with pytest.raises(ValueError) as caught:
        add_business_seconds(at("2026-06-01 10:00"), -1, OFFICE)
    assert str(caught.value) == "a target cannot be negative"


# -- boundaries of a window -----------------------------------------------------------------


def test_a_half_hour_opening_is_kept() -> None:
    half_past = BusinessHours(days=WEEKDAYS_ONLY, opens=9 * 60 + 30, closes=17 * 60, timezone=PARIS)
    # Monday 07:00, nothing to add: due when the office opens, 09:30 (not 09:00).
    assert add_business_seconds(at("2026-06-01 07:00"), 0, half_past) == at("2026-06-01 09:30")


def test_opening_and_closing_instants_are_business_hours_and_the_evening_is_not() -> None:
    assert in_business_hours(at("2026-06-01 09:00"), OFFICE)
    assert in_business_hours(at("2026-06-01 17:00"), OFFICE)
    assert not in_business_hours(at("2026-06-01 08:59:59"), OFFICE)
    assert not in_business_hours(at("2026-06-01 20:00"), OFFICE)
    assert not in_business_hours(at("2026-06-06 12:00"), OFFICE)  # a Saturday


def test_a_window_closing_at_midnight_still_holds_its_closing_instant() -> None:
    # 18:00-24:00 on Mondays only: Tuesday 00:00 is Monday's closing instant.
    evenings = BusinessHours(days=frozenset({0}), opens=18 * 60, closes=24 * 60, timezone=PARIS)
    assert in_business_hours(at("2026-06-02 00:00"), evenings)
    assert not in_business_hours(at("2026-06-02 00:00:01"), evenings)


def test_nothing_to_add_at_closing_time_is_due_at_closing() -> None:
    assert add_business_seconds(at("2026-06-01 17:00"), 0, OFFICE) == at("2026-06-01 17:00")
    # One second more waits for Tuesday's opening.
    assert add_business_seconds(at("2026-06-01 17:00"), 1, OFFICE) == at("2026-06-02 09:00:01")


# -- a window in the spring-forward gap (Paris, Sunday 29 March 2026, 02:00 -> 03:00) --------


def test_a_window_lost_in_the_dst_gap_has_no_business_time() -> None:
    # 02:00-03:00 local does not exist that night: 02:00 is read as 02:00 CET = 01:00 UTC, the
    # very instant 03:00 CEST is, so the window is empty. The next one is Monday's.
    lost = BusinessHours(opens=120, closes=180, timezone=PARIS)
    assert not in_business_hours(at("2026-03-29 03:00"), lost)
    assert add_business_seconds(at("2026-03-29 00:00"), 0, lost) == at("2026-03-30 02:00")


def test_a_window_reversed_by_the_dst_gap_has_no_business_time() -> None:
    # 02:30-03:00: 02:30 is read as 02:30 CET = 01:30 UTC, after 03:00 CEST = 01:00 UTC. Half an
    # hour of budget takes all of Monday's window, 02:30-03:00 CEST.
    reversed_window = BusinessHours(opens=150, closes=180, timezone=PARIS)
    assert add_business_seconds(at("2026-03-29 00:00"), 0, reversed_window) == at(
        "2026-03-30 02:30"
    )
    assert add_business_seconds(at("2026-03-29 00:00"), HOUR / 2, reversed_window) == at(
        "2026-03-30 03:00"
    )


# -- pauses ---------------------------------------------------------------------------------


def test_every_day_s_pause_stops_the_clock_not_only_the_first() -> None:
    # Snoozed 10:00-11:00 on Monday and again on Tuesday. From Monday 09:00, 10 business hours:
    # Monday gives 8 - 1 = 7 h (due 17:00); Tuesday 09:00-10:00 gives 1 h, the pause, then
    # 11:00 + the last 2 h = 13:00.
    pauses = [
        (at("2026-06-01 10:00"), at("2026-06-01 11:00")),
        (at("2026-06-02 10:00"), at("2026-06-02 11:00")),
    ]
    assert add_business_seconds(at("2026-06-01 09:00"), 10 * HOUR, OFFICE, pauses) == at(
        "2026-06-02 13:00"
    )


def test_nothing_to_add_while_paused_is_due_when_the_clock_restarts() -> None:
    # Snoozed from 10:00 to 11:00: the clock next runs at 11:00.
    snoozed = [(at("2026-06-01 10:00"), at("2026-06-01 11:00"))]
    assert add_business_seconds(at("2026-06-01 10:00"), 0, OFFICE, snoozed) == at(
        "2026-06-01 11:00"
    )
    # Snoozed until closing: the clock next runs when the office opens on Tuesday.
    to_closing = [(at("2026-06-01 16:00"), at("2026-06-01 17:00"))]
    assert add_business_seconds(at("2026-06-01 16:30"), 0, OFFICE, to_closing) == at(
        "2026-06-02 09:00"
    )


def test_paused_time_is_not_counted_between_two_instants() -> None:
    snoozed = [(at("2026-06-01 10:30"), at("2026-06-01 11:30"))]
    counted = business_seconds_between(
        at("2026-06-01 10:00"), at("2026-06-01 12:00"), OFFICE, snoozed
    )
    assert counted == HOUR  # 10:00-10:30 and 11:30-12:00


# -- long closures: the guard against a search that never ends ------------------------------

# Business hours 09:00-17:00 UTC every day; 5 January 2026 is a Monday.
D0 = date(2026, 1, 5)


def closed(first: date, days: int) -> frozenset[date]:
    return frozenset(first + timedelta(days=n) for n in range(days))


def reopening_after(days: int) -> float:
    """09:00 UTC on the day `days` after D0."""
    return utc(f"{D0 + timedelta(days=days)} 09:00")


def test_the_first_day_after_the_longest_allowed_closure_is_found() -> None:
    assert MAX_CLOSED_DAYS == 3660  # ten years of 366 days, as the guard says
    # D0 .. D0+3658 are holidays (3659 closed days): D0+3659 opens.
    hours = BusinessHours(opens=9 * 60, closes=17 * 60, holidays=closed(D0, 3659))
    assert add_business_seconds(utc(f"{D0} 08:00"), 0, hours) == reopening_after(3659)


def test_a_closure_as_long_as_the_guard_fails_with_the_fix() -> None:
    # D0 .. D0+3659 are holidays (3660 closed days): the search gives up, though D0+3660 opens.
    hours = BusinessHours(opens=9 * 60, closes=17 * 60, holidays=closed(D0, 3660))
    with pytest.raises(ValueError) as caught:
        add_business_seconds(utc(f"{D0} 08:00"), 0, hours)
    assert str(caught.value) == "no business hours for years on end: check the days and holidays"


def test_an_open_day_restarts_the_count_of_closed_days() -> None:
    # D0 opens; D0+1 .. D0+3659 are holidays (3659 closed days); D0+3660 opens. Nine business
    # hours from D0 09:00: eight on D0, the ninth on D0+3660.
    hours = BusinessHours(opens=9 * 60, closes=17 * 60, holidays=closed(D0 + timedelta(1), 3659))
    assert add_business_seconds(utc(f"{D0} 09:00"), 9 * HOUR, hours) == reopening_after(3660) + HOUR
