"""When to wake a snoozed conversation: presets and free text, always in local time."""

from __future__ import annotations

from datetime import datetime, timedelta


class WhenError(ValueError):
    """The text is not a time we can use; the message says why."""


def _local(now: float) -> datetime:
    return datetime.fromtimestamp(now).astimezone()


def _at(day: datetime, hour: int) -> datetime:
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def presets(now: float) -> list[tuple[str, float]]:
    """Later today (3 h), tomorrow 9:00, next Monday 9:00, next week (+7 days, 9:00)."""
    here = _local(now)
    monday = here + timedelta(days=(7 - here.weekday()) or 7)
    return [
        ("Later today (in 3 hours)", (here + timedelta(hours=3)).timestamp()),
        ("Tomorrow 9:00", _at(here + timedelta(days=1), 9).timestamp()),
        ("Next Monday 9:00", _at(monday, 9).timestamp()),
        ("Next week (7 days, 9:00)", _at(here + timedelta(days=7), 9).timestamp()),
    ]


def parse_when(text: str, now: float) -> float:
    """'tomorrow 9am', 'in 3 days', 'friday 14:00', '2026-12-01 10:00' → epoch seconds."""
    import dateparser  # slow to import: only when someone snoozes

    text = text.strip()
    if not text:
        raise WhenError("type a time, e.g. “tomorrow 9am”, “in 3 days” or “2026-12-01 10:00”")
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": _local(now).replace(tzinfo=None),
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": _local(now).tzname() or "UTC",
    }
    parsed = dateparser.parse(text, settings=settings)
    if parsed is None:
        raise WhenError(f"“{text}” is not a time I understand")
    if (parsed.hour, parsed.minute) == (0, 0) and not _names_midnight(text):
        parsed = parsed.replace(hour=9)  # a day without a time means the start of work
    when = float(parsed.timestamp())
    if when <= now:
        raise WhenError(f"{describe(when)} is in the past")
    return when


def _names_midnight(text: str) -> bool:
    return "midnight" in text.lower() or "00:00" in text or "0:00" in text


def describe(when: float) -> str:
    return _local(when).strftime("%A %d %B %Y, %H:%M %Z")
