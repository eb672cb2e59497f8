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
    # nothing but plain words
    ("invoice", {"Alice", "Bob", "Dan"}),
    ("", ALL),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_operator_finds_exactly_its_conversations(
    four: Store, query: str, expected: set[str]
) -> None:
    assert found(four, query) == expected
