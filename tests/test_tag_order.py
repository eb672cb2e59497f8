"""`tag:` lists a tag's conversations newest activity first from the tag's own index (migration
0012): the order follows new messages, tagging, untagging and closing, a tag differing only in
case is still found, and a store from before 0012 is backfilled. Oracles by hand from the
times below."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import search
from storage.db import _statements, migrations
from storage.queue import by_tag, cursor_of
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

NAMES = ("Ann", "Ben", "Cat", "Dan", "Eve")


@pytest.fixture
def five(store: Store, clock: FakeClock) -> list[int]:
    """Ann..Eve wrote at now+0..now+4 minutes; Ann, Cat and Eve are tagged billing."""
    account = store.ensure_account("mail", "imap")
    mails = [
        email(
            account,
            f"<{name}@x>",
            clock.now + 60 * i,
            who=customer(f"{name.lower()}@example.com", name),
            subject=f"Question {i}",
        )
        for i, name in enumerate(NAMES)
    ]
    ids = [r.conversation_id for r in store.ingest(mails)]
    store.tag([ids[0], ids[2], ids[4]], "Sam", "billing")
    return ids


def listed(store: Store, query: str) -> list[str]:
    """The view's rows walked one page of one row at a time (each page stops at its limit, so
    a stale index order shows), checked against one page of all and the count."""
    view = search.parse(query, me="sam@x.test")
    search.check(store.conn, view)
    walked = store.page(view, limit=1)
    while walked and (more := store.page(view, after=cursor_of(walked[-1]), limit=1)):
        walked += more
    assert [r.id for r in store.page(view, limit=50)] == [r.id for r in walked]
    assert store.count(view) == len(walked)
    return [r.contact_name for r in walked]


def test_a_tag_lists_its_conversations_newest_first(store: Store, five: list[int]) -> None:
    assert listed(store, "tag:billing") == ["Eve", "Cat", "Ann"]
    assert listed(store, "tag:BILLING") == ["Eve", "Cat", "Ann"]
    assert listed(store, "tag:nosuch") == []


def test_a_new_message_moves_the_conversation_to_the_top(
    store: Store, clock: FakeClock, five: list[int]
) -> None:
    account = store.ensure_account("mail", "imap")
    later = email(
        account,
        "<ann-again@x>",
        clock.now + 600,
        who=customer("ann@example.com", "Ann"),
        subject="Re: Question 0",
        parents=("<Ann@x>",),
    )
    assert store.ingest([later])[0].conversation_id == five[0]
    assert listed(store, "tag:billing") == ["Ann", "Eve", "Cat"]


def test_tagging_untagging_and_other_clauses(store: Store, five: list[int]) -> None:
    store.tag([five[1]], "Sam", "billing")  # Ben, at now+1 min: between Cat and Ann
    assert listed(store, "tag:billing") == ["Eve", "Cat", "Ben", "Ann"]
    store.tag([five[4]], "Sam", "billing", on=False)
    assert listed(store, "tag:billing") == ["Cat", "Ben", "Ann"]
    store.close_conversation(five[2], "Sam")
    assert listed(store, "tag:billing is:open") == ["Ben", "Ann"]
    assert listed(store, "is:open tag:billing") == ["Ben", "Ann"]
    assert listed(store, "tag:billing -is:open") == ["Cat"]
    store.tag([five[3]], "Sam", "vip")
    store.tag([five[2]], "Sam", "vip")
    assert listed(store, "tag:vip tag:billing") == ["Cat"]
    assert listed(store, "tag:billing OR tag:vip") == ["Dan", "Cat", "Ben", "Ann"]


def test_keyset_pages_and_jumps_walk_the_same_order(store: Store, five: list[int]) -> None:
    view = search.parse("tag:billing")
    first = store.page(view, limit=2)
    rest = store.page(view, after=cursor_of(first[-1]), limit=2)
    assert [r.contact_name for r in first + rest] == ["Eve", "Cat", "Ann"]
    back = store.page(view, before=cursor_of(rest[0]), limit=2)
    assert [r.contact_name for r in back] == ["Eve", "Cat"]
    assert [r.contact_name for r in store.page_at(view, -1, 5)] == ["Ann"]
    assert [r.contact_name for r in store.page_at(view, 1, 1)] == ["Cat"]
    assert [r.contact_name for r in store.page(by_tag("billing"), limit=9)] == ["Eve", "Cat", "Ann"]


def test_two_tags_differing_in_case_are_both_found(store: Store, five: list[int]) -> None:
    store.tag([five[3]], "Sam", "Billing")  # Dan: another tag, same name but for case
    assert listed(store, "tag:billing") == ["Eve", "Dan", "Cat", "Ann"]


def test_a_view_narrowed_after_parsing_keeps_its_narrowing(store: Store, five: list[int]) -> None:
    """`frontdesk list QUERY --view NAME` joins two wheres with dataclasses.replace."""
    from dataclasses import replace

    view = search.parse("tag:billing")
    narrowed = replace(view, where=f"({view.where}) AND c.contact_id IS NULL")
    assert store.page(narrowed, limit=9) == [] and store.count(narrowed) == 0


def test_a_store_from_before_the_tag_index_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in migrations():
        if number <= 11:
            for statement in _statements(script):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 11")
    conn.executescript(
        """
        INSERT INTO accounts VALUES (1, 'mail', 'imap', 0);
        INSERT INTO contacts (id, name, created_at) VALUES (1, 'Old', 0), (2, 'New', 0),
                                                         (3, 'Mid', 0);
        INSERT INTO conversations (id, account_id, channel, subject, contact_id, status,
            last_message_at, created_at, group_key, queue_key)
            VALUES (1, 1, 'email', 'a', 1, 'open', 100, 100, 'a', 0),
                   (2, 1, 'email', 'b', 2, 'open', 300, 100, 'b', 0),
                   (3, 1, 'email', 'c', 3, 'open', 200, 100, 'c', 0);
        INSERT INTO tags (id, name, color) VALUES (1, 'billing', 'cyan');
        INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (1, 1), (2, 1), (3, 1);
        """
    )
    conn.close()
    store = Store(path)
    try:
        assert listed(store, "tag:billing") == ["New", "Mid", "Old"]
    finally:
        store.close()
