"""Search with operators over the FTS5 index, returned as a queue view.

`from:alice tag:billing is:open channel:email assignee:me before:2026-01-31 refund "two words"`
Free words are AND-ed and matched as FTS5 strings (a trailing `*` makes a prefix), so customer
text typed into the box can never be FTS5 syntax.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime

from storage.models import STATUSES
from storage.queue import View

_FTS_IDS = (
    "SELECT m.conversation_id FROM messages m"
    " WHERE m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
)


class SearchError(ValueError):
    """The query cannot be understood; the message says which part and why."""


@dataclass
class _Query:
    words: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, clause: str, *params: object) -> None:
        self.where.append(clause)
        self.params.extend(params)


def parse(query: str, *, me: str | None = None) -> View:
    """Turn a search string into a view; raise SearchError on a bad operator or value."""
    parsed = _Query()
    tokens = _tokens(query)
    for token in tokens:
        name, sep, value = token.partition(":")
        if sep and name.lower() in _OPERATORS and value:
            _OPERATORS[name.lower()](parsed, value, me)
        else:
            parsed.words.append(token)
    if parsed.words:
        parsed.add(f"c.id IN ({_FTS_IDS})", fts_expression(parsed.words))
    where = " AND ".join(parsed.where) or "1"
    return View(f"search: {query}", where, tuple(parsed.params), "last_message_at", "desc")


def _tokens(query: str) -> list[str]:
    """Words and "quoted phrases"; an unclosed quote (mid-typing) closes at the end."""
    for attempt in (query, query + '"', query + "'"):
        try:
            return shlex.split(attempt)
        except ValueError:
            continue
    return query.split()


def fts_expression(words: list[str]) -> str:
    terms = []
    for word in words:
        prefix = word.endswith("*") and len(word) > 1
        core = word.rstrip("*") if prefix else word
        terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def _from(q: _Query, value: str, _me: str | None) -> None:
    like = f"%{value.lower()}%"
    q.add(
        "c.contact_id IN (SELECT contact_id FROM identities WHERE lower(address) LIKE ?"
        " OR lower(display_name) LIKE ? UNION SELECT id FROM contacts WHERE lower(name) LIKE ?)",
        like,
        like,
        like,
    )


def _tag(q: _Query, value: str, _me: str | None) -> None:
    q.add(
        "c.id IN (SELECT conversation_id FROM conversation_tags"
        " WHERE tag_id = (SELECT id FROM tags WHERE name = ?))",
        value,
    )


def _is(q: _Query, value: str, _me: str | None) -> None:
    if value not in STATUSES:
        raise SearchError(f"is:{value} — use one of {', '.join('is:' + s for s in STATUSES)}")
    q.add("c.status = ?", value)


def _channel(q: _Query, value: str, _me: str | None) -> None:
    if value not in ("email", "slack"):
        raise SearchError(f"channel:{value} — use channel:email or channel:slack")
    q.add("c.channel = ?", value)


def _assignee(q: _Query, value: str, me: str | None) -> None:
    if value == "none":
        q.add("c.assignee IS NULL")
        return
    q.add("c.assignee = ?", me if value == "me" else value)


def _date(value: str, operator: str) -> float:
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise SearchError(f"{operator}:{value} — write the date as YYYY-MM-DD") from exc
    return datetime(day.year, day.month, day.day).astimezone().timestamp()


def _before(q: _Query, value: str, _me: str | None) -> None:
    q.add("c.last_message_at < ?", _date(value, "before"))


def _after(q: _Query, value: str, _me: str | None) -> None:
    q.add("c.last_message_at >= ?", _date(value, "after"))


_OPERATORS = {
    "from": _from,
    "tag": _tag,
    "is": _is,
    "channel": _channel,
    "assignee": _assignee,
    "before": _before,
    "after": _after,
}


def check(conn: sqlite3.Connection, view: View) -> None:
    """Run the view once so an error surfaces as SearchError, never as an exception later."""
    try:
        conn.execute(f"SELECT 1 FROM conversations c WHERE {view.where} LIMIT 1", view.params)
    except sqlite3.OperationalError as exc:
        raise SearchError(f"search failed: {exc}") from exc
