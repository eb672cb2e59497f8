"""Search with operators over the FTS5 index, returned as a queue view.

Grammar (Gmail-like): terms are AND-ed; `a OR b` joins two terms; `-term` or `NOT term` negates
one; `"two words"` is a phrase; `op:value` (or `op:"a value"`) is an operator from `_OPERATORS`:
`from: tag: is: channel: assignee: before: after: subject: has:attachment msgid:`. Tags ignore
case; `msgid:` takes an email Message-ID with or without its angle brackets;
`assignee:` takes `me`, `none`, an agent's email, name or first name. Free words are matched as
FTS5 strings (a trailing `*` makes a prefix), so text typed into the box is never FTS5 syntax.
Words search the newest `SEARCH_MESSAGES` matching messages (see `_FTS_IDS`), so a negated
common word excludes only the conversations of those. An unknown operator, a missing value or
a dangling `OR`/`NOT` raises SearchError naming it and its column (1-based); an unclosed quote
(mid-typing) closes at the end.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from storage.models import STATUSES
from storage.queue import View, tag_driven

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
    agents: Sequence[tuple[str, str]] = ()

    def add(self, clause: str, *params: object) -> None:
        self.where.append(clause)
        self.params.extend(params)


@dataclass(frozen=True)
class _Token:
    column: int  # 1-based, where the token starts
    negated: bool
    operator: str | None
    value: str
    quoted: bool

    @property
    def keyword(self) -> str | None:
        plain = not (self.quoted or self.negated or self.operator)
        return self.value if plain and self.value in ("OR", "NOT") else None


def parse(query: str, *, me: str | None = None, agents: Sequence[tuple[str, str]] = ()) -> View:
    """Turn a search string into a view; raise SearchError on a bad operator or value.

    `agents` are (name, email) pairs, for `assignee:` by name."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: SQLite cannot take them
        raise SearchError("the search contains characters that are not text") from exc
    terms = _terms(_tokens(query))
    top = _Query(agents=agents)
    singles = [term[0] for term in terms if len(term) == 1 and not term[0].negated]
    top.words = [t.value for t in singles if t.operator is None]
    rest, driving_tag = _Query(), None  # the clauses but one `tag:` term's, which may drive
    for term in terms:
        if len(term) == 1 and not term[0].negated and term[0].operator is None:
            continue  # a plain word: merged into one FTS expression below
        clauses = [_clause(token, top, me, probe=bool(top.words)) for token in term]
        params = [p for _, clause_params in clauses for p in clause_params]
        top.add(_either(clauses), *params)
        if driving_tag is None and term[0].operator == "tag" and _alone(term):
            driving_tag = term[0].value
        else:
            rest.add(_either(clauses), *params)
    if top.words:
        top.add(f"c.id IN ({_FTS_IDS})", fts_expression(top.words))
    where = " AND ".join(top.where) or "1"
    view = View(f"search: {query}", where, tuple(top.params), "last_message_at", "desc")
    if driving_tag is None or top.words:  # words drive better (a few thousand matches at most)
        return view
    return tag_driven(view, driving_tag, " AND ".join(rest.where) or "1", tuple(rest.params))


def _alone(term: list[_Token]) -> bool:
    """One token, not negated: the view requires it."""
    return len(term) == 1 and not term[0].negated


def _either(clauses: list[tuple[str, list[object]]]) -> str:
    if len(clauses) == 1:
        return clauses[0][0]
    return "(" + " OR ".join(sql for sql, _ in clauses) + ")"


def _clause(token: _Token, top: _Query, me: str | None, *, probe: bool) -> tuple[str, list[object]]:
    """One token as (SQL, params): an operator's clauses AND-ed, or a word; NOT when negated."""
    sub = _Query(agents=top.agents)
    if token.operator is None:
        sub.add(f"c.id IN ({_FTS_IDS})", fts_expression([token.value]))
    else:
        _OPERATORS[token.operator](sub, token.value, me)
    for tag in sub.tags:
        sub.add(_TAG_PROBE if probe else _TAG_LIST, tag)
    sql = " AND ".join(sub.where) or "1"
    return (f"NOT ({sql})" if token.negated else f"({sql})"), sub.params


def _terms(tokens: list[_Token]) -> list[list[_Token]]:
    """Group tokens into AND-ed terms, each a list of OR-ed tokens; NOT folds into its token."""
    terms: list[list[_Token]] = []
    pending_or: _Token | None = None
    pending_not: _Token | None = None
    for token in tokens:
        if token.keyword == "OR":
            if pending_or or pending_not or not terms:
                raise SearchError(f"OR at column {token.column} needs a term before it")
            pending_or = token
        elif token.keyword == "NOT":
            if pending_not:
                raise SearchError(f"NOT at column {token.column} follows another NOT")
            pending_not = token
        else:
            if pending_not:
                token = _Token(
                    token.column, not token.negated, token.operator, token.value, token.quoted
                )
            if pending_or:
                terms[-1].append(token)
            else:
                terms.append([token])
            pending_or = pending_not = None
    dangling = pending_or or pending_not
    if dangling:
        raise SearchError(f"{dangling.value} at column {dangling.column} needs a term after it")
    return terms


def _tokens(query: str) -> list[_Token]:
    """Scan words, "quoted phrases", -negations and op:values, each with its column."""
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        start = i
        negated = query[i] == "-" and i + 1 < n and not query[i + 1].isspace()
        i += negated
        operator, i = _operator_at(query, i)
        value, quoted, i = _value_at(query, i)
        if operator is not None:
            _check_operator(operator, value, start + 1)
        elif quoted and not value.strip():
            continue  # an empty phrase: nothing to look for
        tokens.append(_Token(start + 1, negated, operator, value, quoted))
    return tokens


def _operator_at(query: str, i: int) -> tuple[str | None, int]:
    j = i
    while j < len(query) and (query[j].isascii() and (query[j].isalpha() or query[j] == "_")):
        j += 1
    if j > i and j < len(query) and query[j] == ":":
        return query[i:j].lower(), j + 1
    return None, i


def _value_at(query: str, i: int) -> tuple[str, bool, int]:
    if i < len(query) and query[i] in "\"'":
        end = query.find(query[i], i + 1)
        end = len(query) if end < 0 else end
        return query[i + 1 : end], True, end + 1
    j = i
    while j < len(query) and not query[j].isspace():
        j += 1
    return query[i:j], False, j


def _check_operator(operator: str, value: str, column: int) -> None:
    if operator not in _OPERATORS:
        known = " ".join(name + ":" for name in _OPERATORS)
        raise SearchError(
            f"unknown operator {operator}: at column {column} — use one of {known},"
            ' or quote it ("...") to search the text'
        )
    if not value.strip():
        raise SearchError(f"{operator}: at column {column} needs a value")


def fts_expression(words: list[str]) -> str:
    terms = []
    for word in words:
        prefix = word.endswith("*") and len(word) > 1
        core = word.rstrip("*") if prefix else word
        terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


_LIKE_SPECIAL = re.compile(r"[%_\\]")  # LIKE's wildcards, and the escape character chosen


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
    # Too short for trigrams: read them all. LIKE ignores ASCII case; the value's own % and _
    # are escaped, so they are characters to find, not wildcards.
    like = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", value) + "%"
    q.add(
        "c.contact_id IN (SELECT contact_id FROM identities WHERE address LIKE ? ESCAPE '\\'"
        " OR display_name LIKE ? ESCAPE '\\'"
        " UNION SELECT id FROM contacts WHERE name LIKE ? ESCAPE '\\')",
        like,
        like,
        like,
    )


# A tag alone lists its conversations; with words, whose matches are at most a few thousand,
# each of those is probed instead: otherwise SQLite may drive from the tag's list (a common
# tag: 100k conversations, ~70 ms a statement) rather than from the words'.
# Tag names ignore case: `tag:BILLING` is `tag:billing` (the tags table is small; NOCASE reads it).
_TAG_IDS = "SELECT id FROM tags WHERE name = ? COLLATE NOCASE"
_TAG_LIST = f"c.id IN (SELECT conversation_id FROM conversation_tags WHERE tag_id IN ({_TAG_IDS}))"
_TAG_PROBE = (
    "EXISTS (SELECT 1 FROM conversation_tags x WHERE x.conversation_id = c.id"
    f" AND x.tag_id IN ({_TAG_IDS}))"
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
    q.add("likelihood(c.assignee = ?, 0.2)", me if value == "me" else _agent_email(q, value))


def _agent_email(q: _Query, value: str) -> str:
    """An agent's email from their email, full name or first name, in any case."""
    wanted = value.casefold()
    for name, email in q.agents:
        if wanted in (email.casefold(), name.casefold(), _first_name(name).casefold()):
            return email
    if "@" in value or not q.agents:
        return value
    known = ", ".join(_first_name(name) or email for name, email in q.agents)
    raise SearchError(f"assignee:{value} — no agent of that name or email (agents: {known})")


def _first_name(name: str) -> str:
    """The first word of an agent's name; "" when the name is blank."""
    words = name.split()
    return words[0] if words else ""


def _subject(q: _Query, value: str, _me: str | None) -> None:
    """Words (or a "phrase") in a message's subject: an FTS5 column filter."""
    q.add(f"c.id IN ({_FTS_IDS})", "subject : " + fts_expression([value]))


_HAS = {
    "attachment": "EXISTS (SELECT 1 FROM messages m JOIN attachments a ON a.message_id = m.id"
    " WHERE m.conversation_id = c.id)",
}


def _has(q: _Query, value: str, _me: str | None) -> None:
    if value.lower() not in _HAS:
        raise SearchError(f"has:{value} — use {' '.join('has:' + h for h in _HAS)}")
    q.add(_HAS[value.lower()])


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


def _msgid(q: _Query, value: str, _me: str | None) -> None:
    """The conversation holding the message with this email Message-ID.

    Email messages are stored under their Message-ID (`<id@host>`, as connectors/email/mime
    normalises it, and as our replies are queued). `account_id IN (accounts)` lets SQLite
    probe the (account_id, remote_id) unique index once per account: a handful of lookups.
    """
    inner = value.strip().removeprefix("<").removesuffix(">").strip()
    if not inner or any(c in inner for c in "<> "):
        raise SearchError(f"msgid:{value} — write a Message-ID, e.g. msgid:<abc@example.com>")
    q.add(
        "c.id IN (SELECT m.conversation_id FROM messages m"
        " WHERE m.account_id IN (SELECT id FROM accounts) AND m.remote_id = ?)",
        f"<{inner}>",
    )


_OPERATORS = {
    "from": _from,
    "tag": _tag,
    "is": _is,
    "channel": _channel,
    "assignee": _assignee,
    "before": _before,
    "after": _after,
    "subject": _subject,
    "has": _has,
    "msgid": _msgid,
}


def check(conn: sqlite3.Connection, view: View) -> None:
    """Run the view once so an error surfaces as SearchError, never as an exception later."""
    try:
        conn.execute(f"SELECT 1 FROM conversations c WHERE {view.where} LIMIT 1", view.params)
    except sqlite3.OperationalError as exc:
        raise SearchError(f"search failed: {exc}") from exc
