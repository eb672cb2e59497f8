"""The search grammar on a real store: each operator with a case that matches and one that does
not, negation, OR, phrases, and errors that name the part and its column. Oracles by hand from
the three conversations below."""

from __future__ import annotations

from dataclasses import replace

import pytest

from storage import search
from storage.models import AttachmentIn
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

AGENTS = (("Kim Lee", "kim@x.test"), ("Sam Rivera", "sam@x.test"))


@pytest.fixture
def three(store: Store, clock: FakeClock) -> Store:
    """Alice: invoice, tag Billing, Kim, an attachment. Bob: refund. Carol: login, urgent, Sam."""
    account = store.ensure_account("mail", "imap")
    alice = email(account, "<a@x>", clock.now, subject="Invoice wrong", text="my invoice is wrong")
    alice = replace(alice, attachments=(AttachmentIn("a.pdf", "application/pdf", 10),))
    bob = email(
        account,
        "<b@x>",
        clock.now + 1,
        who=customer("bob@example.com", "Bob Builder"),
        subject="Refund request",
        text="refund please, the invoice was paid",
    )
    carol = email(
        account,
        "<c@x>",
        clock.now + 2,
        who=customer("carol@example.com", "Carol Danvers"),
        subject="Login trouble",
        text="cannot log in, two factor fails",
    )
    ids = [r.conversation_id for r in store.ingest([alice, bob, carol])]
    store.tag([ids[0]], "Sam", "Billing")
    store.tag([ids[2]], "Sam", "urgent")
    store.assign(ids[0], "Sam", "kim@x.test")
    store.assign(ids[2], "Sam", "sam@x.test")
    return store


def found(store: Store, query: str) -> set[str]:
    view = search.parse(query, me="sam@x.test", agents=AGENTS)
    search.check(store.conn, view)
    return {r.contact_name.split()[0] for r in store.page(view, limit=50)}


CASES = [
    # (query, expected first names) — a matching and a non-matching case per operator
    ("-tag:billing", {"Bob", "Carol"}),
    ("-tag:nosuchtag", {"Alice", "Bob", "Carol"}),
    ("NOT invoice", {"Carol"}),
    ("NOT login", {"Alice", "Bob"}),
    ("refund OR login", {"Bob", "Carol"}),
    ("refund OR nothinghere", {"Bob"}),
    ("tag:urgent OR has:attachment", {"Alice", "Carol"}),
    ("tag:BILLING", {"Alice"}),
    ("tag:Urgent", {"Carol"}),
    ('"two factor"', {"Carol"}),
    ('"factor two"', set()),
    ("subject:invoice", {"Alice"}),
    ("subject:paid", set()),
    ('subject:"login trouble"', {"Carol"}),
    ("has:attachment", {"Alice"}),
    ("-has:attachment", {"Bob", "Carol"}),
    ("assignee:kim", {"Alice"}),
    ("assignee:Kim", {"Alice"}),
    ('assignee:"sam rivera"', {"Carol"}),
    ("assignee:KIM@X.TEST", {"Alice"}),
    ("assignee:me", {"Carol"}),
    ("assignee:none", {"Bob"}),
    ("invoice -from:alice", {"Bob"}),
    ("invoice", {"Alice", "Bob"}),
    ("NOT tag:urgent is:open", {"Alice", "Bob"}),
    ("-refund -login", {"Alice"}),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_operator_finds_exactly_its_conversations(
    three: Store, query: str, expected: set[str]
) -> None:
    assert found(three, query) == expected


ERRORS = [
    ("foo:bar", "unknown operator foo: at column 1"),
    ("refund subjekt:x", "unknown operator subjekt: at column 8"),
    ("OR refund", "OR at column 1 needs a term before it"),
    ("refund OR", "OR at column 8 needs a term after it"),
    ("refund NOT", "NOT at column 8 needs a term after it"),
    ("a OR OR b", "OR at column 6"),
    ("tag:", "tag: at column 1 needs a value"),
    ("has:bananas", "has:attachment"),
    ("assignee:zed", "no agent"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_bad_query_names_the_part_and_where(three: Store, query: str, message: str) -> None:
    with pytest.raises(search.SearchError) as err:
        search.parse(query, agents=AGENTS)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
