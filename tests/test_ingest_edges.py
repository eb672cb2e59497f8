"""Ingest promises at their edges: a bare address learns its name, Slack subjects from the first
line (cut at 80 characters), a copy stored before fingerprints is not doubled, and when a late
message merges two conversations the later state wins and the earliest answer is kept.
Oracles by hand from the times below.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from storage.models import IdentityRef
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

T = 1_800_000_000.0


# -- names -------------------------------------------------------------------------------------


def test_a_contact_first_seen_as_a_bare_address_learns_its_name(store: Store) -> None:
    account = store.ensure_account("mail", "imap")
    bare = IdentityRef("email", "bob@example.com", "")
    first = store.ingest([email(account, "<b1@x>", T, who=bare)])[0].conversation_id
    assert store.detail(first).contact.name == "bob@example.com"

    named = IdentityRef("email", "bob@example.com", "Bob Stone")
    store.ingest([email(account, "<b2@x>", T + 60, who=named, subject="Again")])
    contact = store.detail(first).contact
    assert contact.name == "Bob Stone"
    assert contact.identities == (named,)

    # A name once known is kept: a later display name changes neither.
    other = IdentityRef("email", "bob@example.com", "Robert")
    store.ingest([email(account, "<b3@x>", T + 120, who=other, subject="Third")])
    assert store.detail(first).contact == contact


# -- Slack subjects ----------------------------------------------------------------------------


def slack_subject(store: Store, text: str) -> str:
    account = store.ensure_account("slack", "slack")
    who = IdentityRef("slack", "U1", "Carol")
    n = len(store.conn.execute("SELECT id FROM messages").fetchall())
    message = email(account, f"{n}.0001", T + n, who=who, channel="slack", subject="", text=text)
    conversation_id = store.ingest([message])[0].conversation_id
    return store.detail(conversation_id).conversation.subject


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("\n  \n  Where is my order?  \nSecond line", "Where is my order?"),
        ("x" * 80, "x" * 80),  # exactly the limit: whole
        ("x" * 81, "x" * 79 + "…"),  # one more: 79 characters and an ellipsis, 80 in all
        ("y" * 78 + " z" + "w" * 10, "y" * 78 + "…"),  # the cut lands on a space: dropped
        ("", ""),
        (" \n ", ""),
    ],
)
def test_a_slack_conversation_is_named_by_its_first_line(
    store: Store, text: str, subject: str
) -> None:
    assert slack_subject(store, text) == subject


# -- the message key ---------------------------------------------------------------------------


def test_a_copy_of_a_message_stored_without_a_fingerprint_is_not_doubled(store: Store) -> None:
    account = store.ensure_account("mail", "imap")
    old = email(account, "<m1@x>", T)  # stored before fingerprints were recorded
    first = store.ingest([old])[0]
    again = store.ingest([replace(old, fingerprint="f" * 40)])[0]
    assert (again.message_id, again.created) == (first.message_id, False)
    count = store.conn.execute("SELECT count(*) FROM messages WHERE account_id = ?", (account,))
    assert count.fetchone()[0] == 1


# -- merges ------------------------------------------------------------------------------------


@pytest.fixture
def two(db_path: Path, clock: FakeClock) -> tuple[Store, int]:
    """Alice's reply to <p@x> (never stored) formed conversation A at T-3000, her reply to <q@x>
    (never stored) conversation B at T-2000; nothing connects them yet."""
    store = Store(db_path, clock=clock)
    account = store.ensure_account("mail", "imap")
    alice = customer()
    a = email(account, "<r1@x>", T - 3000, who=alice, parents=("<p@x>",), subject="Build")
    b = email(account, "<r2@x>", T - 2000, who=alice, parents=("<q@x>",), subject="Other")
    store.ingest([a, b])
    return store, account


def conversation_of(store: Store, remote_id: str) -> int:
    row = store.conn.execute(
        "SELECT conversation_id FROM messages WHERE remote_id = ?", (remote_id,)
    )
    return int(row.fetchone()[0])


def late_q(store: Store, account: int) -> int:
    """<q@x> itself arrives late (sent T-5000, before both), replying to <p@x>: it connects A
    (through <p@x>) and B (which replied to it); a late message changes no status itself."""
    late = email(account, "<q@x>", T - 5000, parents=("<p@x>",), subject="Build")
    return store.ingest([late])[0].conversation_id


def test_merging_keeps_the_later_conversation_s_state_and_the_first_answer(
    two: tuple[Store, int], clock: FakeClock
) -> None:
    store, account = two
    a, b = conversation_of(store, "<r1@x>"), conversation_of(store, "<r2@x>")
    clock.now = T - 1000
    store.queue_reply(a, "Sam", "On it", remote_id="<ans@x>")  # A: answered, later than B
    clock.now = T

    merged = late_q(store, account)
    detail = store.detail(merged)
    state = detail.conversation
    assert merged in (a, b) and {conversation_of(store, r) for r in ("<r1@x>", "<r2@x>")} == {
        merged
    }
    assert (state.status, state.first_response_at, state.last_message_at) == (
        "pending",
        T - 1000,
        T - 1000,
    )
    [event] = [e for e in detail.events if e.kind == "merged"]
    assert (event.actor, event.detail["why"]) == ("threading", "<q@x> connects both threads")


def test_merging_the_other_way_round_keeps_the_later_state_too(
    two: tuple[Store, int], clock: FakeClock
) -> None:
    store, account = two
    b = conversation_of(store, "<r2@x>")
    clock.now = T - 1000
    store.queue_reply(b, "Sam", "On it", remote_id="<ans@x>")  # B: answered, later than A
    clock.now = T

    state = store.detail(late_q(store, account)).conversation
    assert (state.status, state.first_response_at, state.last_message_at) == (
        "pending",
        T - 1000,
        T - 1000,
    )
