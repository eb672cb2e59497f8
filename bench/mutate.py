"""`make mutate`: mutation testing of the modules that carry the product's promises.

For each module below, mutmut (3.x) mutates that module only and runs the test files that
claim to check it; a mutant is *killed* when a test fails (or times out) on it. The report,
bench/mutation.json, gives per module: mutants, killed, survived, "no tests" (mutated code that
none of the selected tests even runs), the kill rate, and every surviving mutant with its diff.

Survivors listed in EQUIVALENT are mutants no test can kill because the program behaves the
same (each with the reason); they are reported apart and left out of `kill_rate_excluding_
equivalent`. An entry applies only while the mutant's diff still contains its `needle`, so a
changed module cannot hide a real survivor behind a stale name.

Each module runs in a scratch copy of the project (mutmut writes `mutants/` next to the
`pyproject.toml` it reads), so the working tree is never touched. Slow (minutes per module on
2 cores): not in CI. Run it before resolving an issue that touches these modules:

    make mutate                         # every module
    make mutate MODULES="rules search"  # some
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "mutation.json"
COPY = (
    "storage",
    "connectors",
    "console",
    "tests",
    "pyproject.toml",
    "config.example.toml",
    "slack-app-manifest.yml",
)
RUN_TIMEOUT = 3 * 3600


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]


TARGETS: dict[str, Target] = {
    "rules": Target(
        "storage/rules.py",
        ("tests/test_rules.py", "tests/test_store.py", "tests/test_sla.py"),
    ),
    "ingest": Target(
        "storage/ingest.py",
        (
            "tests/test_ingest_edges.py",
            "tests/test_store.py",
            "tests/test_store_promises.py",
            "tests/test_mail_corpus.py",
            "tests/test_jwz_threading.py",
            "tests/test_message_key.py",
            "tests/test_membership.py",
            "tests/test_thread_edits.py",
        ),
    ),
    "queue": Target(
        "storage/queue.py",
        (
            "tests/test_queue_views.py",
            "tests/test_store.py",
            "tests/test_store_promises.py",
            "tests/test_tag_order.py",
        ),
    ),
    "search": Target(
        "storage/search.py",
        ("tests/test_search_grammar.py", "tests/test_search_operators.py"),
    ),
    "sla": Target(
        "storage/sla.py",
        ("tests/test_sla.py", "tests/test_sla_bounds.py", "tests/test_metrics.py"),
    ),
    "metrics": Target(
        "storage/metrics.py", ("tests/test_metrics.py", "tests/test_store_promises.py")
    ),
    "sanitize": Target("storage/sanitize.py", ("tests/test_sanitize.py",)),
    "email_outbox": Target(
        "connectors/email/outbox.py", ("tests/test_smtp.py", "tests/test_followup_delivery.py")
    ),
    "slack_outbox": Target("connectors/slack/outbox.py", ("tests/test_slack_connector.py",)),
    "outbox": Target(
        "connectors/outbox.py",
        (
            "tests/test_delivery.py",
            "tests/test_slack_delivery.py",
            "tests/test_smtp.py",
            "tests/test_kill_sync.py",
        ),
    ),
    "imap_sync": Target(
        "connectors/email/sync.py", ("tests/test_imap.py", "tests/test_connector_promises.py")
    ),
    "slack_live": Target(
        "connectors/slack/live.py",
        (
            "tests/test_slack_real.py",
            "tests/test_slack_connector.py",
            "tests/test_connector_promises.py",
        ),
    ),
    "config": Target(
        "console/config.py",
        (
            "tests/test_config_reading.py",
            "tests/test_config.py",
            "tests/test_cli.py",
            "tests/test_connector_promises.py",
            "tests/test_check_config.py",
            "tests/test_survey_config.py",
            "tests/test_sla.py",
        ),
    ),
}


@dataclass(frozen=True)
class Equivalent:
    needle: str  # a line of the mutant's diff, so the entry goes stale when the code changes
    reason: str


_POLICY_UNUSED = (
    "refresh_sla returns before reading the policy whenever the status is not open, and here "
    "it is closed, pending or snoozed: no policy, same state"
)
_SQL_CASE = "SQL keywords and identifiers, and FTS5 column names, ignore case in SQLite: same query"
_CODEC = 'Python\'s codec names ignore case: "UTF-8" is "utf-8"'
_ORDER = 'a View is ascending only when its order is exactly "asc": any other value is "desc"'
_PLAN = (
    "_TAG_PROBE and _TAG_LIST select the same conversations (the choice is the query plan,"
    " for speed: bench/README.md), so results cannot tell them apart"
)
_ONE_CLAUSE = (
    "an operator or a word adds exactly one clause, so the join has one item and no separator,"
    " and is never empty"
)
_FALSY = '"" and None are both false, and these variables are only tested for truth'
_FOLDED = (
    "a token rebuilt by NOT-folding is never asked for its column or its quoting again:"
    " keywords are read from incoming tokens only"
)
_FIND = "str.find from i + 1 >= 1 returns -1 or at least 1, never 0"
_STAR = (
    "FTS5's unicode61 tokenizer drops '*' inside a quoted string: '\"refun*\"*' is"
    " '\"refun\"*', and '\"*\"' and '\"\"' both hold no token"
)
_CONTACT_NAME = (
    "a contact's name is always the display name, or else the address, of its first identity"
    " (storage/ingest.py sets it so at creation, and renames it only to that identity's"
    " display name), which the identities clauses already search: no store the product"
    " writes tells the contacts clause's parameter apart"
)
_SPLIT_BOUND = (
    "maxsplit only bounds the time (the rest of the text is then cleaned by translate): the"
    " cleaned text is the same, so only a timing, which bench/ measures, could tell"
)
_LAST_PIECE = (
    "with exactly _MATCH_LIMIT pieces every match was split out, so the last piece holds no"
    " match: translating it removes nothing the next pass would not (lone controls)"
)
_ASCII_INVISIBLE = "the invisible characters are all non-ASCII: on ASCII text the search finds none"
_ONE_HAS = "_HAS has one entry, so the join has one item and no separator"
_TAG_INDEX = (
    "the tag's index and the view's own where select the same rows in the same order (the"
    " choice is the query plan, for speed at 1M rows: bench/README.md), so results cannot tell"
)
_ROW_KEYS = "sqlite3.Row looks columns up by name ignoring case: r['ID'] is r['id']"
_UNIT_SEP = (
    "these differ only for a tag name or colour holding \\x1f, the separator itself, and then"
    " every variant mis-splits it: there is no right answer to pin"
)
_KEY_NOT_NULL = (
    "sort_key is never NULL in a view's rows (queue_key and last_message_at are NOT NULL, and"
    " every snoozed row has snoozed_until: storage/rules.py snooze), so the fallback never runs"
)
_LIMIT_PASSED = "the only caller, Store.page / page_at, always passes limit (its own default is 50)"
_NOCTTY = (
    "os.O_NOCTTY exists on every POSIX system, so getattr's default is never used; and the"
    " flag only matters for a terminal, which is then refused as a device anyway"
)
_SEEN_SET = (
    "_seen is an OrderedDict used as an ordered set: the values are never read, and"
    " popitem(last=None) pops the oldest as last=False does (None is false)"
)
_CAP = "30 * 2**7 already exceeds RETRY_MAX (3600 s): capping the exponent at 16 or 17 is the same"
_WARM = (
    "warm only starts the pool early, while we connect (latency); __call__ creates it on first"
    " use anyway, so every batch is parsed the same"
)
_UNREACHABLE = "running() ends only by raising ValueError (windows_from): the line never runs"
_PAUSE_BEFORE = (
    "a pause ending exactly at lo starts before it (merge drops empty pauses): it yields"
    " nothing and leaves lo as it was, as skipping it does"
)
_PAUSE_AFTER = (
    "a pause starting exactly at hi yields (lo, hi) and then returns (lo >= hi), as breaking"
    " out and yielding (lo, hi) does"
)
_ZERO_SPAN = "end == start: the first interval starts at or after end, so nothing is added: 0.0"
_ADDS_ZERO = "lo == end adds min(hi, end) - lo == 0, and the next interval starts later: breaks"
_EMPTY_PAUSE = (
    "an empty pause (lo == hi) only cuts a running interval in two at one instant: the same"
    " running seconds, and a budget ending there is due at that instant either way"
)
_TOUCHING = (
    "two touching pauses left unmerged: _subtract moves lo to the first's end, which is the"
    " second's start, so p_lo > lo is false and nothing is yielded between them"
)
EQUIVALENT: dict[str, Equivalent] = {
    "storage.search.x__after__mutmut_6": Equivalent(
        'q.add("C.LAST_MESSAGE_AT >= ?", _date(value, "after"))', _SQL_CASE
    ),
    "storage.search.x__before__mutmut_6": Equivalent(
        'q.add("C.LAST_MESSAGE_AT < ?", _date(value, "before"))', _SQL_CASE
    ),
    "storage.search.x__assignee__mutmut_6": Equivalent(
        'q.add("likelihood(c.assignee is null, 0.5)")', _SQL_CASE
    ),
    "storage.search.x__assignee__mutmut_7": Equivalent(
        'q.add("LIKELIHOOD(C.ASSIGNEE IS NULL, 0.5)")', _SQL_CASE
    ),
    "storage.search.x__assignee__mutmut_13": Equivalent(
        'q.add("LIKELIHOOD(C.ASSIGNEE = ?, 0.2)", me if value == "me" else _agent_email(q, value))',
        _SQL_CASE,
    ),
    "storage.search.x__channel__mutmut_12": Equivalent(
        'q.add("LIKELIHOOD(C.CHANNEL = ?, 0.5)", value)', _SQL_CASE
    ),
    "storage.search.x__is__mutmut_13": Equivalent('q.add("C.STATUS = ?", value)', _SQL_CASE),
    "storage.search.x__subject__mutmut_7": Equivalent(
        'q.add(f"c.id IN ({_FTS_IDS})", "SUBJECT : " + fts_expression([value]))', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_21": Equivalent(
        '"c.contact_id in (select i.contact_id from identities i where i.id in"', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_22": Equivalent(
        '"C.CONTACT_ID IN (SELECT I.CONTACT_ID FROM IDENTITIES I WHERE I.ID IN"', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_24": Equivalent(
        '" (select rowid from identities_fts where identities_fts match ?)"', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_25": Equivalent(
        '" (SELECT ROWID FROM IDENTITIES_FTS WHERE IDENTITIES_FTS MATCH ?)"', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_27": Equivalent(
        '" union select rowid from contacts_fts where contacts_fts match ?)",', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_28": Equivalent(
        '" UNION SELECT ROWID FROM CONTACTS_FTS WHERE CONTACTS_FTS MATCH ?)",', _SQL_CASE
    ),
    "storage.search.x__from__mutmut_48": Equivalent(
        "\"c.contact_id in (select contact_id from identities where address like ? escape '\\\\'\"",
        _SQL_CASE,
    ),
    "storage.search.x__from__mutmut_49": Equivalent(
        "\"C.CONTACT_ID IN (SELECT CONTACT_ID FROM IDENTITIES WHERE ADDRESS LIKE ? ESCAPE '\\\\'\"",
        _SQL_CASE,
    ),
    "storage.search.x__from__mutmut_51": Equivalent(
        "\" or display_name like ? escape '\\\\'\"", _SQL_CASE
    ),
    "storage.search.x__from__mutmut_52": Equivalent(
        "\" OR DISPLAY_NAME LIKE ? ESCAPE '\\\\'\"", _SQL_CASE
    ),
    "storage.search.x__from__mutmut_54": Equivalent(
        "\" union select id from contacts where name like ? escape '\\\\')\",", _SQL_CASE
    ),
    "storage.search.x__from__mutmut_55": Equivalent(
        "\" UNION SELECT ID FROM CONTACTS WHERE NAME LIKE ? ESCAPE '\\\\')\",", _SQL_CASE
    ),
    "storage.search.x__msgid__mutmut_19": Equivalent(
        '"c.id in (select m.conversation_id from messages m"', _SQL_CASE
    ),
    "storage.search.x__msgid__mutmut_20": Equivalent(
        '"C.ID IN (SELECT M.CONVERSATION_ID FROM MESSAGES M"', _SQL_CASE
    ),
    "storage.search.x__msgid__mutmut_22": Equivalent(
        '" where m.account_id in (select id from accounts) and m.remote_id = ?)",', _SQL_CASE
    ),
    "storage.search.x__msgid__mutmut_23": Equivalent(
        '" WHERE M.ACCOUNT_ID IN (SELECT ID FROM ACCOUNTS) AND M.REMOTE_ID = ?)",', _SQL_CASE
    ),
    # The third `like` (contacts.name) made None. The diff line alone ("None,") is the same for
    # the three parameters: the two others are killed (tests/test_search_operators.py).
    "storage.search.x__from__mutmut_42": Equivalent("None,", _CONTACT_NAME),
    "storage.search.x__has__mutmut_5": Equivalent(
        "'XX XX'.join('has:' + h for h in _HAS)", _ONE_HAS
    ),
    "storage.search.x_fts_expression__mutmut_6": Equivalent(
        'prefix = word.endswith("*") and len(word) >= 1', _STAR
    ),
    "storage.search.x__clause__mutmut_25": Equivalent(
        'sql = " and ".join(sub.where) or "1"', _SQL_CASE
    ),
    "storage.search.x__either__mutmut_10": Equivalent(
        'return "(" + " or ".join(sql for sql, _ in clauses) + ")"', _SQL_CASE
    ),
    "storage.search.x_parse__mutmut_53": Equivalent(
        'where = " and ".join(top.where) or "1"', _SQL_CASE
    ),
    "storage.search.x_parse__mutmut_67": Equivalent(
        'return View(f"search: {query}", where, tuple(top.params), "LAST_MESSAGE_AT", "desc")',
        _SQL_CASE,
    ),
    "storage.search.x_parse__mutmut_3": Equivalent('query.encode("UTF-8")', _CODEC),
    "storage.search.x_parse__mutmut_59": Equivalent(
        'return View(f"search: {query}", where, tuple(top.params), "last_message_at", None)', _ORDER
    ),
    "storage.search.x_parse__mutmut_68": Equivalent(
        'return View(f"search: {query}", where, tuple(top.params), "last_message_at", "XXdescXX")',
        _ORDER,
    ),
    "storage.search.x_parse__mutmut_69": Equivalent(
        'return View(f"search: {query}", where, tuple(top.params), "last_message_at", "DESC")',
        _ORDER,
    ),
    "storage.search.x_parse__mutmut_34": Equivalent(
        "clauses = [_clause(token, top, me, probe=None) for token in term]", _PLAN
    ),
    "storage.search.x_parse__mutmut_39": Equivalent(
        "clauses = [_clause(token, top, me, probe=bool(None)) for token in term]", _PLAN
    ),
    "storage.search.x__clause__mutmut_19": Equivalent(
        "sub.add(_TAG_PROBE if (probe) and False else _TAG_LIST, tag)", _PLAN
    ),
    "storage.search.x__clause__mutmut_20": Equivalent(
        "sub.add(_TAG_PROBE if (probe) or True else _TAG_LIST, tag)", _PLAN
    ),
    "storage.search.x__clause__mutmut_24": Equivalent(
        'sql = "XX AND XX".join(sub.where) or "1"', _ONE_CLAUSE
    ),
    "storage.search.x__clause__mutmut_26": Equivalent(
        'sql = " AND ".join(sub.where) or "XX1XX"', _ONE_CLAUSE
    ),
    "storage.search.x__terms__mutmut_2": Equivalent('pending_or: _Token | None = ""', _FALSY),
    "storage.search.x__terms__mutmut_3": Equivalent('pending_not: _Token | None = ""', _FALSY),
    "storage.search.x__terms__mutmut_33": Equivalent('pending_or = pending_not = ""', _FALSY),
    "storage.search.x__terms__mutmut_18": Equivalent(
        "None, not token.negated, token.operator, token.value, token.quoted", _FOLDED
    ),
    "storage.search.x__terms__mutmut_22": Equivalent(
        "token.column, not token.negated, token.operator, token.value, None", _FOLDED
    ),
    "storage.search.x__value_at__mutmut_16": Equivalent(
        "end = len(query) if end <= 0 else end", _FIND
    ),
    "storage.search.x__value_at__mutmut_17": Equivalent(
        "end = len(query) if end < 1 else end", _FIND
    ),
    "storage.search.x_fts_expression__mutmut_9": Equivalent(
        'core = word.rstrip("*") if (prefix) and False else word', _STAR
    ),
    "storage.search.x_fts_expression__mutmut_10": Equivalent(
        'core = word.rstrip("*") if (prefix) or True else word', _STAR
    ),
    "storage.search.x_fts_expression__mutmut_11": Equivalent(
        "core = word.rstrip(None) if prefix else word", _STAR
    ),
    "storage.search.x_fts_expression__mutmut_12": Equivalent(
        'core = word.lstrip("*") if prefix else word', _STAR
    ),
    "storage.sanitize.x__remove__mutmut_5": Equivalent("pieces = pattern.split(s, )", _SPLIT_BOUND),
    "storage.sanitize.x__remove__mutmut_7": Equivalent(
        "if len(pieces) >= _MATCH_LIMIT:", _LAST_PIECE
    ),
    "storage.sanitize.x_clean_line__mutmut_3": Equivalent(
        "if not s.isascii() or _INVISIBLE.search(s):", _ASCII_INVISIBLE
    ),
    "storage.sla.x__subtract__mutmut_1": Equivalent("if p_hi < lo:", _PAUSE_BEFORE),
    "storage.sla.x__subtract__mutmut_3": Equivalent("if p_lo > hi:", _PAUSE_AFTER),
    "storage.sla.x_add_business_seconds__mutmut_24": Equivalent(
        "raise AssertionError(None)", _UNREACHABLE
    ),
    "storage.sla.x_add_business_seconds__mutmut_25": Equivalent(
        'raise AssertionError("XXunreachable', _UNREACHABLE
    ),
    "storage.sla.x_add_business_seconds__mutmut_26": Equivalent(
        'raise AssertionError("UNREACHABLE', _UNREACHABLE
    ),
    "storage.sla.x_business_seconds_between__mutmut_1": Equivalent("if end < start:", _ZERO_SPAN),
    "storage.sla.x_business_seconds_between__mutmut_11": Equivalent("if lo > end:", _ADDS_ZERO),
    "storage.sla.x_merge__mutmut_4": Equivalent("if p[1] >= p[0]", _EMPTY_PAUSE),
    "storage.sla.x_merge__mutmut_7": Equivalent("lo < merged[-1][1]", _TOUCHING),
    "storage.queue.x__plan__mutmut_13": Equivalent('"C.ID")', _SQL_CASE),
    "storage.queue.x__plan__mutmut_14": Equivalent("driven = None", _TAG_INDEX),
    "storage.queue.x__plan__mutmut_24": Equivalent(
        '"select id from tags where name = ? collate nocase limit 2"', _SQL_CASE
    ),
    "storage.queue.x__plan__mutmut_25": Equivalent(
        '"SELECT ID FROM TAGS WHERE NAME = ? COLLATE NOCASE LIMIT 2"', _SQL_CASE
    ),
    "storage.queue.x__plan__mutmut_30": Equivalent('source = "CONVERSATION_TAGS CT"', _SQL_CASE),
    "storage.queue.x__plan__mutmut_32": Equivalent(
        'if driven.rest != "XX1XX":',
        _TAG_INDEX + " (every link has its conversation: ON DELETE CASCADE)",
    ),
    "storage.queue.x__plan__mutmut_36": Equivalent(
        '" join conversations c on c.id = ct.conversation_id"', _SQL_CASE
    ),
    "storage.queue.x__plan__mutmut_37": Equivalent(
        '" JOIN CONVERSATIONS C ON C.ID = CT.CONVERSATION_ID"', _SQL_CASE
    ),
    "storage.queue.x__plan__mutmut_53": Equivalent('"CT.LAST_MESSAGE_AT"', _SQL_CASE),
    "storage.queue.x__plan__mutmut_55": Equivalent('"CT.CONVERSATION_ID"', _SQL_CASE),
    "storage.queue.x__rows__mutmut_5": Equivalent(
        'direction = "asc" if ascending else "DESC"', _SQL_CASE
    ),
    "storage.queue.x__rows__mutmut_7": Equivalent(
        'direction = "ASC" if ascending else "desc"', _SQL_CASE
    ),
    "storage.queue.x__tags__mutmut_6": Equivalent('item.split("\\x1f", )', _UNIT_SEP),
    "storage.queue.x__tags__mutmut_7": Equivalent('item.rsplit("\\x1f", 1)', _UNIT_SEP),
    "storage.queue.x__tags__mutmut_9": Equivalent('item.split("\\x1f", 2)', _UNIT_SEP),
    "storage.queue.x_by_status__mutmut_15": Equivalent('key="SNOOZED_UNTIL"', _SQL_CASE),
    "storage.queue.x_by_status__mutmut_20": Equivalent(
        'key="last_message_at", order=None)', _ORDER
    ),
    "storage.queue.x_by_status__mutmut_27": Equivalent('"C.STATUS = ?"', _SQL_CASE),
    "storage.queue.x_by_status__mutmut_29": Equivalent('key="LAST_MESSAGE_AT"', _SQL_CASE),
    "storage.queue.x_by_status__mutmut_30": Equivalent('order="XXdescXX"', _ORDER),
    "storage.queue.x_by_status__mutmut_31": Equivalent('order="DESC"', _ORDER),
    "storage.queue.x_by_tag__mutmut_4": Equivalent(
        '"c.id in (select conversation_id from conversation_tags where tag_id in ("', _SQL_CASE
    ),
    "storage.queue.x_by_tag__mutmut_5": Equivalent(
        '"C.ID IN (SELECT CONVERSATION_ID FROM CONVERSATION_TAGS WHERE TAG_ID IN ("', _SQL_CASE
    ),
    "storage.queue.x_by_tag__mutmut_7": Equivalent(
        '"select id from tags where name = ? collate nocase))"', _SQL_CASE
    ),
    "storage.queue.x_by_tag__mutmut_8": Equivalent(
        '"SELECT ID FROM TAGS WHERE NAME = ? COLLATE NOCASE))"', _SQL_CASE
    ),
    "storage.queue.x_by_tag__mutmut_10": Equivalent('order="desc"), None)', _TAG_INDEX),
    "storage.queue.x_tag_driven__mutmut_10": Equivalent(
        "return replace(view, driven=None)", _TAG_INDEX
    ),
    "storage.queue.x_tag_driven__mutmut_12": Equivalent("return replace(view, )", _TAG_INDEX),
    "storage.queue.x_tag_driven__mutmut_13": Equivalent(
        "driven=TagDriven(None, rest, params", _TAG_INDEX
    ),
    "storage.queue.x_tag_driven__mutmut_16": Equivalent(
        "driven=TagDriven(tag, rest, params, None)", _TAG_INDEX
    ),
    "storage.queue.x_cursor_of__mutmut_6": Equivalent(
        "if (row.sort_key is not None) or True else 0.0", _KEY_NOT_NULL
    ),
    "storage.queue.x_cursor_of__mutmut_8": Equivalent(
        "if row.sort_key is not None else 1.0", _KEY_NOT_NULL
    ),
    "storage.queue.x_mine__mutmut_10": Equivalent(
        "\"c.assignee = ? and c.status = 'open'\"", _SQL_CASE
    ),
    "storage.queue.x_unassigned__mutmut_8": Equivalent(
        "\"c.assignee is null and c.status = 'open'\"", _SQL_CASE
    ),
    "storage.queue.x_by_channel__mutmut_8": Equivalent(
        "\"c.channel = ? and c.status = 'open'\"", _SQL_CASE
    ),
    "storage.queue.x_by_ids__mutmut_12": Equivalent('key="LAST_MESSAGE_AT"', _SQL_CASE),
    "storage.queue.x_by_ids__mutmut_5": Equivalent('key="last_message_at", order=None)', _ORDER),
    "storage.queue.x_by_ids__mutmut_10": Equivalent('key="last_message_at", )', _ORDER),
    "storage.queue.x_by_ids__mutmut_13": Equivalent('order="XXdescXX"', _ORDER),
    "storage.queue.x_by_ids__mutmut_14": Equivalent('order="DESC"', _ORDER),
    "storage.queue.x_page__mutmut_1": Equivalent("limit: int = 51,", _LIMIT_PASSED),
    "storage.queue.x_page_at__mutmut_1": Equivalent("limit: int = 51)", _LIMIT_PASSED),
    **{
        f"storage.queue.x__queue_row__mutmut_{n}": Equivalent(f'r["{column}"]', _ROW_KEYS)
        for n, column in (
            (32, "ID"),
            (34, "CHANNEL"),
            (36, "CONTACT_NAME"),
            (38, "TIER"),
            (40, "SUBJECT"),
            (43, "TAGS"),
            (45, "STATUS"),
            (47, "ASSIGNEE"),
            (49, "WAITING_SINCE"),
            (51, "SLA_DUE_AT"),
            (53, "LAST_MESSAGE_AT"),
            (56, "UNREAD"),
            (59, "WOKEN"),
            (61, "QUEUE_KEY"),
            (63, "SORT_KEY"),
        )
    },
    "storage.ingest.x__merge__mutmut_16": Equivalent(
        '"select min(created_at) from conversations where id in (?, ?)"', _SQL_CASE
    ),
    "storage.ingest.x__merge__mutmut_17": Equivalent(
        '"SELECT MIN(CREATED_AT) FROM CONVERSATIONS WHERE ID IN (?, ?)"', _SQL_CASE
    ),
    "storage.ingest.x__merge__mutmut_55": Equivalent(
        '"update conversations set created_at = ? where id = ?"', _SQL_CASE
    ),
    "storage.ingest.x__merge__mutmut_56": Equivalent(
        '"UPDATE CONVERSATIONS SET CREATED_AT = ? WHERE ID = ?"', _SQL_CASE
    ),
    "storage.ingest.x__same_message__mutmut_3": Equivalent('row["FINGERPRINT"]', _ROW_KEYS),
    "storage.ingest.x__same_message__mutmut_7": Equivalent('row["DELIVERY"]', _ROW_KEYS),
    "storage.ingest.x__learn_name__mutmut_6": Equivalent(
        '"update identities set display_name = ? where id = ?"', _SQL_CASE
    ),
    "storage.ingest.x__learn_name__mutmut_7": Equivalent(
        '"UPDATE IDENTITIES SET DISPLAY_NAME = ? WHERE ID = ?"', _SQL_CASE
    ),
    "storage.ingest.x__learn_name__mutmut_13": Equivalent(
        '"update contacts set name = ? where id = ? and name = "', _SQL_CASE
    ),
    "storage.ingest.x__learn_name__mutmut_14": Equivalent(
        '"UPDATE CONTACTS SET NAME = ? WHERE ID = ? AND NAME = "', _SQL_CASE
    ),
    "storage.ingest.x__learn_name__mutmut_16": Equivalent(
        '"(select address from identities where id = ?)"', _SQL_CASE
    ),
    "storage.ingest.x__learn_name__mutmut_17": Equivalent(
        '"(SELECT ADDRESS FROM IDENTITIES WHERE ID = ?)"', _SQL_CASE
    ),
    "console.config.x_read_config_text__mutmut_10": Equivalent(
        'getattr(os, "O_NOCTTY", None)', _NOCTTY
    ),
    "console.config.x_read_config_text__mutmut_13": Equivalent(
        'getattr(os, "O_NOCTTY", )', _NOCTTY
    ),
    "console.config.x_read_config_text__mutmut_14": Equivalent(
        'getattr(os, "XXO_NOCTTYXX", 0)', _NOCTTY
    ),
    "console.config.x_read_config_text__mutmut_15": Equivalent(
        'getattr(os, "o_noctty", 0)', _NOCTTY
    ),
    "console.config.x_read_config_text__mutmut_16": Equivalent(
        'getattr(os, "O_NOCTTY", 1)', _NOCTTY
    ),
    "connectors.slack.live.xǁEventInboxǁ_accept__mutmut_24": Equivalent(
        'self._seen[event_id] = ""', _SEEN_SET
    ),
    "connectors.slack.live.xǁEventInboxǁ_accept__mutmut_26": Equivalent(
        "self._seen.popitem(last=None)", _SEEN_SET
    ),
    "connectors.outbox.x_retry_delay__mutmut_13": Equivalent("min(attempts, 17)", _CAP),
    "connectors.email.sync.xǁProcessParserǁwarm__mutmut_1": Equivalent(
        "if self._pool is not None:", _WARM
    ),
    "storage.rules.x_customer_wrote__mutmut_15": Equivalent(
        "_touch(state, at, None, waiting=True)", _POLICY_UNUSED + " (snoozed)"
    ),
    "storage.rules.x_agent_replied__mutmut_11": Equivalent(
        "close_conversation(state, at, None)", _POLICY_UNUSED + " (closed)"
    ),
    "storage.rules.x_agent_replied__mutmut_20": Equivalent(
        "_touch(state, at, None, waiting=False)", _POLICY_UNUSED + " (pending or closed)"
    ),
    "storage.rules.x_agent_replied__mutmut_21": Equivalent(
        "_touch(state, at, policy, waiting=None)", "waiting is only tested for truth: None is False"
    ),
    "storage.rules.x_close_conversation__mutmut_13": Equivalent(
        "refresh_sla(state, None)", _POLICY_UNUSED + " (closed)"
    ),
    "storage.rules.x_snooze__mutmut_14": Equivalent(
        "refresh_sla(state, None)", _POLICY_UNUSED + " (snoozed)"
    ),
}


def mutmut_config(target: Target) -> str:
    """The [tool.mutmut] table for one module: all packages copied (imports), one mutated."""
    tests = ", ".join(json.dumps(t) for t in target.tests)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["storage", "connectors", "console"]\n'
        'also_copy = ["config.example.toml", "slack-app-manifest.yml"]\n'
        f"only_mutate = [{json.dumps(target.module)}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", "--timeout", "300"]\n'
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
    )


def scratch_copy(target: Target, into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)
    with (into / "pyproject.toml").open("a", encoding="utf-8") as config:
        config.write(mutmut_config(target))


def mutmut(args: list[str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mutmut {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


_RESULT = re.compile(r"^\s*(\S+): (.+)$")


def statuses(cwd: Path) -> dict[str, str]:
    found = {}
    for line in mutmut(["results", "--all", "true"], cwd).splitlines():
        match = _RESULT.match(line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def diff_of(name: str, cwd: Path) -> list[str]:
    shown = mutmut(["show", name], cwd).splitlines()
    return [
        line
        for line in shown
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    ]


def run_one(name: str, target: Target) -> dict[str, object]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"frontdesk-mutate-{name}-") as scratch:
        cwd = Path(scratch)
        scratch_copy(target, cwd)
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run"],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        found = statuses(cwd)
        survivors = {m: diff_of(m, cwd) for m, s in found.items() if s in ("survived", "no tests")}
    killed = sum(s in ("killed", "timeout") for s in found.values())
    equivalent, survived = {}, []
    for mutant, diff in sorted(survivors.items()):
        known = EQUIVALENT.get(mutant)
        if known and any(known.needle in line for line in diff):
            equivalent[mutant] = {"diff": diff, "reason": known.reason}
        else:
            survived.append({"mutant": mutant, "status": found[mutant], "diff": diff})
    total = len(found)
    counted = total - len(equivalent)
    return {
        "module": target.module,
        "tests": list(target.tests),
        "mutants": total,
        "killed": killed,
        "survived": sum(s == "survived" for s in found.values()),
        "no_tests": sum(s == "no tests" for s in found.values()),
        "by_status": dict(Counter(found.values())),
        "kill_rate": round(killed / total, 3) if total else None,
        "kill_rate_excluding_equivalent": round(killed / counted, 3) if counted else None,
        "equivalent": equivalent,
        "surviving": survived,
        "seconds": round(time.monotonic() - started),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {' '.join(TARGETS)}")
    names = parser.parse_args().modules or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}: use some of {' '.join(TARGETS)}")
    report = json.loads(REPORT.read_text(encoding="utf-8")) if REPORT.exists() else {}
    report.setdefault("modules", {})
    for name in names:
        print(f"mutating {TARGETS[name].module} ...", flush=True)
        result = run_one(name, TARGETS[name])
        report["modules"][name] = result
        print(
            f"  {result['killed']}/{result['mutants']} killed ({result['kill_rate']}),"
            f" {len(result['equivalent'])} equivalent,"  # type: ignore[arg-type]
            f" {len(result['surviving'])} surviving, {result['seconds']} s",  # type: ignore[arg-type]
            flush=True,
        )
        REPORT.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
