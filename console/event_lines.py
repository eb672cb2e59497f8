"""What happened in a conversation, as one readable line of the thread.

Contract: `EVENT_TEXT` names every event kind the thread shows (kinds not in it, such as
`replied` and `note`, are shown as their messages instead); `event_line(event)` is the line:
"· <actor> <what happened><detail> · <local time>", dim italic, built as Rich `Text` from
cleaned strings (event details may quote customer or admin text: never markup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.text import Text

from console.render import local_time
from storage.models import Event
from storage.sanitize import clean_line

EVENT_TEXT: Mapping[str, str] = {
    "closed": "closed the conversation",
    "reopened": "reopened the conversation",
    "snoozed": "snoozed the conversation",
    "woken": "woke the conversation",
    "assigned": "assigned the conversation",
    "tagged": "added a tag",
    "untagged": "removed a tag",
    "cancelled": "cancelled a queued follow-up reply",
    "reply_resent": "sent a reply again after an uncertain attempt (it may arrive twice)",
    "reply_taken_back": "took back a reply before it went out (undo send)",
    "reply_to_channel": "posted a held reply in the channel (its question was deleted)",
    "reply_as_dm": "sent a held reply to the customer as a direct message (its question was"
    " deleted)",
    "survey_sent": "sent a satisfaction survey",
    "survey_skipped": "sent no satisfaction survey",
    "survey_answered": "answered the satisfaction survey",
    "survey_answer_ignored": "ignored a survey answer",
    "split": "split the conversation",
    "merged": "merged another conversation into this one",
    "merged_into": "merged this conversation into another",
    "undone": "undid a change",
    "contact_merged": "merged the contact with another",
    "checkin": "raised a check-in",
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _count(detail: Mapping[str, object]) -> int:
    messages = detail.get("messages")
    return len(messages) if isinstance(messages, list) else 0


def _tag(d: Mapping[str, object]) -> str:
    return f" {d.get('tag', '')}"


def _assigned(d: Mapping[str, object]) -> str:
    return f" to {d.get('to') or 'nobody'}"


def _reason(d: Mapping[str, object]) -> str:
    return f": {d['reason']}" if d.get("reason") else ""


def _survey_kind(d: Mapping[str, object]) -> str:
    return f" ({str(d['kind']).upper()})" if d.get("kind") else ""


def _rating(d: Mapping[str, object]) -> str:
    if d.get("rating") is None:
        return ""
    return f": {d['rating']} of {d.get('of', '?')}{_survey_kind(d)}"


def _split(d: Mapping[str, object]) -> str:
    return f": {_plural(_count(d), 'message')} moved from #{d.get('from')} to #{d.get('into')}"


def _merged(d: Mapping[str, object]) -> str:
    return f": {_plural(_count(d), 'message')} came from #{d.get('from')}"


def _merged_into(d: Mapping[str, object]) -> str:
    return f": {_plural(_count(d), 'message')} moved to #{d.get('into')}"


def _undone(d: Mapping[str, object]) -> str:
    return f" ({d['action']})" if d.get("action") else ""


def _contact(d: Mapping[str, object]) -> str:
    return f" (#{d.get('from')} into #{d.get('into')})"


_DETAIL: Mapping[str, Callable[[Mapping[str, object]], str]] = {
    "tagged": _tag,
    "untagged": _tag,
    "assigned": _assigned,
    "survey_sent": _survey_kind,
    "survey_skipped": _reason,
    "survey_answered": _rating,
    "survey_answer_ignored": _reason,
    "split": _split,
    "merged": _merged,
    "merged_into": _merged_into,
    "undone": _undone,
    "contact_merged": _contact,
}


def shown(event: Event) -> bool:
    """Whether the thread shows this event as a line."""
    return event.kind in EVENT_TEXT


def event_line(event: Event) -> Text:
    """The event as the thread shows it (KeyError for a kind the thread does not show)."""
    describe = _DETAIL.get(event.kind)
    detail = describe(event.detail) if describe else ""
    line = f"· {event.actor} {EVENT_TEXT[event.kind]}{detail} · {local_time(event.at)}"
    return Text(clean_line(line), style="dim italic")
