"""Short human durations for the queue columns."""

from __future__ import annotations


def short_duration(seconds: float) -> str:
    """'45s', '12m', '3h 05m', '4d 2h', '6w'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    if days < 14:
        return f"{days}d {hours}h"
    return f"{days // 7}w"


def due_label(due_at: float | None, now: float) -> tuple[str, str]:
    """('in 2h 10m' | 'over 3h' | '', urgency): urgency is 'overdue', 'soon' or ''."""
    if due_at is None:
        return "", ""
    left = due_at - now
    if left < 0:
        return f"over {short_duration(-left)}", "overdue"
    return f"in {short_duration(left)}", "soon" if left < 3600 else ""
