"""Search with operators over the FTS5 index, returned as a queue view.

`from:alice tag:billing is:open channel:email assignee:me before:2026-01-31 refund "two words"`
Free words are AND-ed and matched as FTS5 strings (a trailing `*` makes a prefix), so customer
text typed into the box can never be FTS5 syntax. Words search the newest `SEARCH_MESSAGES`
matching messages: see `_FTS_IDS`.
"""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime

from storage.models import STATUSES
from storage.queue import View

# Free words find the conversations of the newest SEARCH_MESSAGES matching messages. FTS5
# walks a doclist backwards by rowid (message ids grow as mail arrives) and stops at the
# limit, so a word in a million messages costs what a rare one does: ~2 ms for "the" over
# 2.7M messages, where the unbounded match took 1.2 s per query (the view runs it for the
# count and again for the page) and bm25 `ORDER BY rank` 2.6 s (bench/README.md). A word rarer
# than the limit is found in every message, as before.
SEARCH_MESSAGES = 2000
_FTS_IDS = (
    "SELECT m.conversation_id FROM messages m"
    " WHERE m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?"
    f" ORDER BY rowid DESC LIMIT {SEARCH_MESSAGES})"
)


class SearchError(ValueError):
    """The query cannot be understood; the message says which part and why."""


@dataclass
class _Query:
    words: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def add(self, clause: str, *params: object) -> None:
        self.where.append(clause)
        self.params.extend(params)


def parse(query: str, *, me: str | None = None) -> View:
    """Turn a search string into a view; raise SearchError on a bad operator or value."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: SQLite cannot take them
        raise SearchError("the search contains characters that are not text") from exc
    parsed = _Query()
    tokens = _tokens(query)
    for token in tokens:
        name, sep, value = token.partition(":")
        if sep and name.lower() in _OPERATORS and value:
            _OPERATORS[name.lower()](parsed, value, me)
        else:
            parsed.words.append(token)
    for tag in parsed.tags:
        parsed.add(_TAG_PROBE if parsed.words else _TAG_LIST, tag)
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
    """A substring of the contact's name, or of one of their addresses or display names."""
    if len(value) >= 3:
        # The trigram indexes (schema 0002) find a substring of 3+ characters, in any case,
        # without reading every contact; a quoted string is a literal for FTS5.
        literal = '"' + value.replace('"', '""') + '"'
        q.add(
            "c.contact_id IN (SELECT i.contact_id FROM identities i WHERE i.id IN"
            " (SELECT rowid FROM identities_fts WHERE identities_fts MATCH ?)"
            " UNION SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)",
            literal,
            literal,
        )
        return
    # Too short for trigrams: read them all. LIKE ignores ASCII case, as lower() would.
    like = f"%{value.lower()}%"
    q.add(
        "c.contact_id IN (SELECT contact_id FROM identities WHERE address LIKE ?"
        " OR display_name LIKE ? UNION SELECT id FROM contacts WHERE name LIKE ?)",
        like,
        like,
        like,
    )


# A tag alone lists its conversations; with words, whose matches are at most a few thousand,
# each of those is probed instead: otherwise SQLite may drive from the tag's list (a common
# tag: 100k conversations, ~70 ms a statement) rather than from the words'.
_TAG_LIST = (
    "c.id IN (SELECT conversation_id FROM conversation_tags"
    " WHERE tag_id = (SELECT id FROM tags WHERE name = ?))"
)
_TAG_PROBE = (
    "EXISTS (SELECT 1 FROM conversation_tags x WHERE x.conversation_id = c.id"
    " AND x.tag_id = (SELECT id FROM tags WHERE name = ?))"
)


def _tag(q: _Query, value: str, _me: str | None) -> None:
    q.tags.append(value)


def _is(q: _Query, value: str, _me: str | None) -> None:
    if value not in STATUSES:
        raise SearchError(f"is:{value} — use one of {', '.join('is:' + s for s in STATUSES)}")
    q.add("c.status = ?", value)


def _channel(q: _Query, value: str, _me: str | None) -> None:
    if value not in ("email", "slack"):
        raise SearchError(f"channel:{value} — use channel:email or channel:slack")
    # likelihood(): a hint that about half the conversations match, so a page walks the
    # recent-activity index and stops, rather than sorting every match (SQLite has no
    # statistics unless ANALYZE ran); counting still uses the channel index.
    q.add("likelihood(c.channel = ?, 0.5)", value)


def _assignee(q: _Query, value: str, me: str | None) -> None:
    # likelihood(): see _channel; an agent may well hold a fifth of all conversations.
    if value == "none":
        q.add("likelihood(c.assignee IS NULL, 0.5)")
        return
    q.add("likelihood(c.assignee = ?, 0.2)", me if value == "me" else value)


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
