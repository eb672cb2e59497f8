"""Every search operator on real results, table-driven: a case that finds exactly its
conversations and one that finds none it should not. The four conversations and the expected
sets are written by hand (dates in UTC: conftest pins TZ=UTC); no oracle calls the parser.

Mutants each table row kills (issue 22): `tag:` dropped when there are free words; `from:`
matching names only (no addresses or domains); `before:`/`after:` swapped or off by a day;
`assignee:me` not replaced by the agent; `is:`/`channel:` ignored; negation or OR lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage import search
from storage.models import IdentityRef
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

ME = "sam@x.test"
AGENTS = (("Kim Lee", "kim@x.test"), ("Sam Rivera", ME))


def _at(day: int) -> float:
    return datetime(2026, 3, day, 10, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def four(store: Store, clock: FakeClock) -> Store:
    """Alice (acme.example, 2 March 10:00, "invoice", tag billing, Sam's, open);
    Bob (globex.example, 5 March, "invoice" too, no tag, closed);
    Dan (Slack, 7 March, "invoice on slack", open); Carol (acme.example, 10 March, "login",
    tag urgent, Kim's, open)."""
    mail = store.ensure_account("mail", "imap")
    slack = store.ensure_account("team", "slack")
    messages = [
        email(
            mail,
            "<a@x>",
            _at(2),
            who=customer("alice@acme.example", "Alice Liddell"),
            subject="Invoice wrong",
            text="my invoice is wrong",
        ),
        email(
            mail,
            "<b@x>",
            _at(5),
            who=customer("bob@globex.example", "Bob Builder"),
            subject="Refund request",
            text="refund please, the invoice was paid",
        ),
        email(
            slack,
            "1772877600.000100",
            _at(7),
            who=IdentityRef("slack", "U0DAN", "Dan Brown"),
            subject="Question",
            text="an invoice question on slack",
            channel="slack",
        ),
        email(
            mail,
            "<c@x>",
            _at(10),
            who=customer("carol@acme.example", "Carol Danvers"),
            subject="Login trouble",
            text="cannot log in",
        ),
    ]
    clock.now = _at(11)
    alice, bob, _dan, carol = (r.conversation_id for r in store.ingest(messages))
    store.tag([alice], "Sam", "billing")
    store.tag([carol], "Sam", "urgent")
    store.assign(alice, "Sam", ME)
    store.assign(carol, "Sam", "kim@x.test")
    store.close_conversation(bob, "Sam")
    return store


def found(store: Store, query: str) -> set[str]:
    view = search.parse(query, me=ME, agents=AGENTS)
    search.check(store.conn, view)
    rows = store.page(view, limit=50)
    assert len(rows) == store.count(view)
    return {r.contact_name.split()[0] for r in rows}


ALL = {"Alice", "Bob", "Dan", "Carol"}

CASES = [
    # tag: with free words (the words narrow the tag's list, the tag narrows the words')
    ("tag:billing invoice", {"Alice"}),
    ("invoice tag:billing", {"Alice"}),
    ("tag:billing login", set()),
    ("tag:urgent invoice", set()),
    # from: by name, by address, by domain, by a short piece (< 3 characters)
    ("from:carol", {"Carol"}),
    ("from:alice@acme.example", {"Alice"}),
    ("from:acme.example", {"Alice", "Carol"}),
    ("from:globex", {"Bob"}),
    ("from:U0DAN", {"Dan"}),
    ("from:initech.example", set()),
    ("from:bob@acme.example", set()),
    # before: is strictly before that day's midnight; after: from that midnight on
    ("before:2026-03-06", {"Alice", "Bob"}),
    ("before:2026-03-02", set()),
    ("before:2026-03-03", {"Alice"}),
    ("after:2026-03-06", {"Dan", "Carol"}),
    ("after:2026-03-10", {"Carol"}),
    ("after:2026-03-11", set()),
    ("after:2026-03-04 before:2026-03-08", {"Bob", "Dan"}),
    # assignee:me is the agent at the keyboard
    ("assignee:me", {"Alice"}),
    ("assignee:me tag:urgent", set()),
    ("assignee:kim", {"Carol"}),
    ("assignee:none", {"Bob", "Dan"}),
    # is:
    ("is:closed", {"Bob"}),
    ("is:open", {"Alice", "Dan", "Carol"}),
    ("is:snoozed", set()),
    # channel:
    ("channel:slack", {"Dan"}),
    ("channel:email", {"Alice", "Bob", "Carol"}),
    ("channel:slack login", set()),
    # negation, of an operator and of a word
    ("-from:acme.example", {"Bob", "Dan"}),
    ("-channel:email", {"Dan"}),
    ("NOT is:open", {"Bob"}),
    ("invoice -tag:billing", {"Bob", "Dan"}),
    ("-invoice", {"Carol"}),
    ("-is:closed -is:open", set()),
    # OR, of operators and of words
    ("channel:slack OR tag:urgent", {"Dan", "Carol"}),
    ("from:globex OR from:initech.example", {"Bob"}),
    ("refund OR login", {"Bob", "Carol"}),
    ("is:snoozed OR from:initech.example", set()),
    # from: below three characters (no trigram index: LIKE), and the LIKE wildcards
    ("from:al", {"Alice"}),
    ("from:AL", {"Alice"}),
    ("from:zz", set()),
    ("from:c_r", set()),  # a literal "c_r", not "c, any character, r" (which finds Carol)
    ("from:'ab\"c'", set()),  # a quote inside a value is a literal for FTS5
    # msgid: an email Message-ID, with or without its angle brackets; Slack ids are not ones
    ("msgid:<a@x>", {"Alice"}),
    ("msgid:b@x", {"Bob"}),
    ('msgid:" <c@x> "', {"Carol"}),
    ("-msgid:<a@x>", {"Bob", "Dan", "Carol"}),
    ("msgid:<a@x> OR msgid:c@x", {"Alice", "Carol"}),
    ("msgid:<x@a>", set()),
    ("msgid:<XY-1@X>", set()),  # any letters: a well-formed id nobody sent
    ("msgid:1772877600.000100", set()),
    # nothing but plain words, phrases, prefixes
    ("invoice", {"Alice", "Bob", "Dan"}),
    ("my invoice", {"Alice"}),
    ('"my invoice" "is wrong"', {"Alice"}),
    ('"is wrong', {"Alice"}),  # an unclosed quote closes at the end
    ('"" refund', {"Bob"}),  # an empty phrase looks for nothing
    ('"" "is wrong"', {"Alice"}),
    ('"" tag:billing', {"Alice"}),  # the empty phrase ends at its second quote
    ('"is wrong" "my invoice"', {"Alice"}),  # each phrase ends at its own closing quote
    ('"refund"-invoice', set()),  # a phrase, then a negated word
    ('"OR"', set()),  # quoted: a word, not the keyword
    ('"NOT" invoice', set()),
    ("refun", set()),
    ("refun*", {"Bob"}),
    ("m*", {"Alice"}),  # a one-letter prefix ("my")
    ('my"invoice', {"Alice"}),  # a quote inside a word separates two words of a phrase
    ("invoicX*", set()),
    ('invoice"s', set()),  # a quote inside a word is part of it
    ("Xinvoice", set()),
    (":invoice", {"Alice", "Bob", "Dan"}),  # no operator name: a word
    ("invoice -", {"Alice", "Bob", "Dan"}),  # a trailing "-" negates nothing
    ("invoice -a", {"Alice", "Bob", "Dan"}),
    ("", ALL),
    # assignee: an address that is no agent's is still searched
    ("assignee:zed@x.test", set()),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_operator_finds_exactly_its_conversations(
    four: Store, query: str, expected: set[str]
) -> None:
    assert found(four, query) == expected


def test_results_come_newest_first_and_the_view_is_named_after_the_query(four: Store) -> None:
    view = search.parse("invoice", me=ME, agents=AGENTS)
    assert view.name == "search: invoice"
    names = [r.contact_name.split()[0] for r in four.page(view, limit=50)]
    assert names == ["Dan", "Bob", "Alice"]  # 7, 5 and 2 March


ERRORS = [
    ("is:sleeping", "is:sleeping — use one of is:open, is:pending, is:snoozed, is:closed"),
    ("channel:fax", "channel:fax — use channel:email or channel:slack"),
    ("before:2026-13-01", "before:2026-13-01 — write the date as YYYY-MM-DD"),
    ("after:soon", "after:soon — write the date as YYYY-MM-DD"),
    ("a NOT NOT b", "NOT at column 7 follows another NOT"),
    (
        "my_op:x",
        "unknown operator my_op: at column 1 — use one of from: tag: is: channel: assignee:"
        ' before: after: subject: has: msgid:, or quote it ("...") to search the text',
    ),
    ("has:kids", "has:kids — use has:attachment"),
    ("assignee:zed", "assignee:zed — no agent of that name or email (agents: Kim, Sam)"),
    ("\ud800x", "the search contains characters that are not text"),
    ("msgid:<>", "msgid:<> — write a Message-ID, e.g. msgid:<abc@example.com>"),
    ('msgid:"<a b@x>"', "msgid:<a b@x> — write a Message-ID, e.g. msgid:<abc@example.com>"),
    ("msgid:<<a@x>>", "msgid:<<a@x>> — write a Message-ID, e.g. msgid:<abc@example.com>"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_a_bad_query_says_exactly_what_and_how(query: str, message: str) -> None:
    with pytest.raises(search.SearchError) as err:
        search.parse(query, me=ME, agents=AGENTS)
    assert str(err.value) == message


def test_an_agent_without_a_name_is_found_by_email() -> None:
    view = search.parse("assignee:x@y.test", agents=(("", "x@y.test"),))
    assert view.params == ("x@y.test",)


def test_a_query_the_database_refuses_is_a_search_error(four: Store) -> None:
    view = search.parse("\x00", me=ME, agents=AGENTS)
    with pytest.raises(search.SearchError, match=r"^search failed: "):
        search.check(four.conn, view)


@pytest.fixture
def wildcards(store: Store, clock: FakeClock) -> Store:
    """Addresses and names holding LIKE's wildcards and its escape character, a double quote,
    non-ASCII letters; and a display name that is not the contact's name."""
    mail = store.ensure_account("mail", "imap")
    people = [
        ("o_k@x.test", "Oscar Kay"),
        ("ook@x.test", "Otto Ook"),
        ("50%@x.test", "Pat Percent"),
        ("bs@x.test", "B\\S Ltd"),
        ("q@x.test", 'Quinn "Q" Adams'),
        ("ez@x.test", "Émile Zola"),
    ]
    store.ingest(
        [
            email(mail, f"<{n}@x>", clock.now + n, who=customer(address, name))
            for n, (address, name) in enumerate(people)
        ]
    )
    # Pat is also on Slack as "Jo Wu": a display name that is neither an address nor a name.
    pat = store.contact_of(customer("50%@x.test"))
    assert pat is not None
    store.add_identity(pat, IdentityRef("slack", "U0PAT", "Jo Wu"))
    return store


WILDCARD_CASES = [
    # A piece below three characters is read with LIKE: its % and _ are characters to find.
    ("from:o_", {"Oscar"}),  # as a wildcard, "o_" is also in "ook" and "Otto"
    ("from:_k", {"Oscar"}),  # as a wildcard, "ok" in "ook" and "Kay" ("_k" -> " K")
    ("from:%@", {"Pat"}),  # as a wildcard: every address has an "@"
    ("from:_", {"Oscar"}),
    ("from:%", {"Pat"}),
    ("from:\\", {"B\\S"}),  # the escape character itself
    ("from:\\%", set()),  # a backslash then a percent sign: in nobody's address
    ("from:ok", {"Otto"}),
    # by a display name alone, short (LIKE) and long (trigrams)
    ("from:wu", {"Pat"}),
    ("from:'jo wu'", {"Pat"}),
    # three characters and more ignore case beyond ASCII too (the trigram index folds it)
    ("from:éMI", {"Émile"}),
    ("from:ÉMILE", {"Émile"}),
    # a double quote in a name is a character to find
    ("from:'\"q\"'", {"Quinn"}),
    # three characters and more go through the trigram index: literal as well
    ("from:o_k", {"Oscar"}),
    ("from:50%", {"Pat"}),
    ("from:0%@", {"Pat"}),
]


@pytest.mark.parametrize(("query", "expected"), WILDCARD_CASES)
def test_from_finds_a_piece_as_written(wildcards: Store, query: str, expected: set[str]) -> None:
    assert found(wildcards, query) == expected


# An agent configured with a blank name (an email only) is listed, and found, by that email.
BLANK_NAMED = (("", "x@y.test"), (" ", "kim@x.test"), ("Sam Rivera", ME))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("assignee:kim@x.test", {"Carol"}),
        ("assignee:sam", {"Alice"}),
        ("assignee:x@y.test", set()),
    ],
)
def test_agents_with_blank_names_are_found_by_email(
    four: Store, query: str, expected: set[str]
) -> None:
    view = search.parse(query, me=ME, agents=BLANK_NAMED)
    assert {r.contact_name.split()[0] for r in four.page(view, limit=50)} == expected


def test_an_unknown_agent_lists_blank_named_agents_by_email() -> None:
    with pytest.raises(search.SearchError) as err:
        search.parse("assignee:zed", agents=BLANK_NAMED)
    assert str(err.value) == (
        "assignee:zed — no agent of that name or email (agents: x@y.test, kim@x.test, Sam)"
    )
