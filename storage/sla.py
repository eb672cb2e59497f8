"""Business-hours arithmetic for SLA due times: pure functions over UTC epoch seconds.

A tier's clock runs only inside its business windows: chosen weekdays, one daily span of local
time in the tier's time zone, minus holidays (local dates). Seconds inside a window are real
elapsed seconds, so a window spanning a DST change lasts what the wall clock says it did, and
an instant that does not exist locally (the spring-forward gap) maps to the first one after.
`pauses` are intervals the clock stands still in besides the closed hours (snoozed or
waiting-on-the-customer time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# Guards a search that cannot end (e.g. every business day of the next decade a holiday).
MAX_CLOSED_DAYS = 366 * 10
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Interval = tuple[float, float]


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f'{name!r} is not a known time zone: use an IANA name such as "Europe/Paris"'
        ) from exc
    return name


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When a tier's SLA clock runs. The default is around the clock in UTC."""

    days: frozenset[int] = frozenset(range(7))  # 0 = Monday, as date.weekday()
    opens: int = 0  # minutes after local midnight
    closes: int = MINUTES_PER_DAY  # 1440 = the end of the day
    timezone: str = "UTC"
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("business days must be a non-empty set of weekdays 0-6")
        if not 0 <= self.opens < self.closes <= MINUTES_PER_DAY:
            raise ValueError("business hours must open before they close, within one day")
        check_timezone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances by key

    @property
    def always(self) -> bool:
        """Around the clock in UTC: plain addition gives the same answer, faster."""
        return self == ALWAYS


ALWAYS = BusinessHours()


def parse_days(names: Iterable[str]) -> frozenset[int]:
    """["mon", "tue"] → {0, 1}."""
    found = set()
    for name in names:
        key = name.strip().lower()[:3]
        if key not in WEEKDAYS:
            raise ValueError(f"{name!r} is not a weekday: use {', '.join(WEEKDAYS)}")
        found.add(WEEKDAYS.index(key))
    if not found:
        raise ValueError('no business days: list at least one, e.g. ["mon", "tue"]')
    return frozenset(found)


def parse_window(text: str) -> tuple[int, int]:
    """ "09:00-17:30" → (540, 1050) minutes; "24:00" is the end of the day."""
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f'{text!r} is not a span of hours: write e.g. "09:00-17:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    opens, closes = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or not 0 <= opens < closes <= MINUTES_PER_DAY:
        raise ValueError(
            f"{text!r}: the hours must open before they close within one day (00:00-24:00)"
        )
    return opens, closes


def _instant(day: date, minutes: int, zone: ZoneInfo) -> float:
    extra_days, minutes = divmod(minutes, MINUTES_PER_DAY)
    wall = time(minutes // 60, minutes % 60)
    return datetime.combine(day + timedelta(days=extra_days), wall, tzinfo=zone).timestamp()


def window(day: date, hours: BusinessHours) -> Interval | None:
    """The business window of one local date, as UTC instants; None on a closed day."""
    if day.weekday() not in hours.days or day in hours.holidays:
        return None
    start = _instant(day, hours.opens, hours.zone)
    end = _instant(day, hours.closes, hours.zone)
    # A window inside a DST gap can come out empty (or reversed): it has no business time.
    return (start, end) if end > start else None


def local_date(at: float, hours: BusinessHours) -> date:
    return datetime.fromtimestamp(at, hours.zone).date()


def windows_from(at: float, hours: BusinessHours) -> Iterator[Interval]:
    """Business windows in time order from `at` on, the first one clipped to start at `at`.

    A window closing exactly at `at` is still yielded (empty), so a zero budget added at
    closing time is due then, as the budget that ran out at closing was.
    """
    day, closed_days = local_date(at, hours), 0
    while closed_days < MAX_CLOSED_DAYS:
        found = window(day, hours)
        day += timedelta(days=1)
        if found is None or found[1] < at:
            closed_days += 1
            continue
        closed_days = 0
        yield max(found[0], at), found[1]
    raise ValueError("no business hours for years on end: check the days and holidays")


def merge(pauses: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals; empty ones dropped."""
    merged: list[Interval] = []
    for lo, hi in sorted(p for p in pauses if p[1] > p[0]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _subtract(lo: float, hi: float, pauses: Sequence[Interval]) -> Iterator[Interval]:
    """The parts of [lo, hi] outside the (merged) pauses."""
    for p_lo, p_hi in pauses:
        if p_hi <= lo:
            continue
        if p_lo >= hi:
            break
        if p_lo > lo:
            yield lo, p_lo
        lo = max(lo, p_hi)
        if lo >= hi:
            return
    yield lo, hi


def running(
    start: float, hours: BusinessHours, pauses: Iterable[Interval] = ()
) -> Iterator[Interval]:
    """The intervals from `start` on in which the SLA clock runs."""
    merged = merge(pauses)
    for lo, hi in windows_from(start, hours):
        yield from _subtract(lo, hi, merged)


def add_business_seconds(
    start: float,
    seconds: float,
    hours: BusinessHours = ALWAYS,
    pauses: Iterable[Interval] = (),
) -> float:
    """The instant at which `seconds` of running clock have passed since `start`.

    With no seconds to add, that is `start` itself if the clock runs then, else when it next
    starts. A budget that runs out exactly at closing time is due at closing, not next morning.
    """
    if seconds < 0:
        raise ValueError("a target cannot be negative")
    pauses = tuple(pauses)
    if hours.always and not pauses:
        return start + seconds
    remaining = seconds
    for lo, hi in running(start, hours, pauses):
        if remaining <= hi - lo:
            return lo + remaining
        remaining -= hi - lo
    raise AssertionError("unreachable: running() never ends without raising")


def business_seconds_between(
    start: float, end: float, hours: BusinessHours = ALWAYS, pauses: Iterable[Interval] = ()
) -> float:
    """How much running clock lies between two instants (0 if `end` is not after `start`)."""
    if end <= start:
        return 0.0
    total = 0.0
    for lo, hi in running(start, hours, pauses):
        if lo >= end:
            break
        total += min(hi, end) - lo
    return total


def in_business_hours(at: float, hours: BusinessHours) -> bool:
    """Whether `at` lies in a business window (its closing instant included)."""
    day = local_date(at, hours)
    for candidate in (day - timedelta(days=1), day):
        found = window(candidate, hours)
        if found is not None and found[0] <= at <= found[1]:
            return True
    return False
