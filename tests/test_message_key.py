"""The message key (issue 15): a copy of one message is stored once; a different message that
reuses its Message-ID is kept, noted, and still threads by that Message-ID; re-syncs add
nothing, whatever the order the copies arrive in.

Raw RFC 5322 mail written here goes through the connector's mapping and the real store.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from storage.store import Store
from tests.test_membership import Mailbox, raw

SHARED = "<1234@tracker.example>"
# A bug tracker sends one notification per watcher with one Message-ID, different content.
FOR_ALICE = raw(SHARED, "Tracker <bugs@tracker.example>", subject="[Bug 7] crash on start")
FOR_BOB = raw(
    SHARED,
    "Tracker <bugs@tracker.example>",
    subject="[Bug 8] wrong total",
    date="Tue, 03 Mar 2026 09:30:00 +0000",
    body="A different bug entirely.",
)
REPLY = raw(
    "<r1@tracker.example>",
    "Tracker <bugs@tracker.example>",
    subject="Re: [Bug 7] crash on start",
    in_reply_to=SHARED,
    date="Wed, 04 Mar 2026 09:30:00 +0000",
)


def _rows(store: Store) -> list[tuple[str, str, str]]:
    rows = store.conn.execute(
        "SELECT remote_id, thread_ref, subject FROM messages ORDER BY subject"
    ).fetchall()
    return [tuple(r) for r in rows]


def test_a_copy_of_the_same_message_is_stored_once(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(FOR_ALICE)
    # The same message again: a second folder, a UIDVALIDITY re-sync, a re-encoded copy.
    box.deliver(FOR_ALICE, folder="Archive")
    box.deliver(FOR_ALICE.replace(b"\r\n", b"\n"))

    assert _rows(store) == [(SHARED, SHARED, "[Bug 7] crash on start")]


def test_a_different_message_reusing_the_message_id_is_kept_and_noted(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(FOR_ALICE)
    box.deliver(FOR_BOB)

    rows = _rows(store)
    assert [(r[1], r[2]) for r in rows] == [
        (SHARED, "[Bug 7] crash on start"),
        (SHARED, "[Bug 8] wrong total"),
    ]
    assert rows[0][0] == SHARED and rows[1][0] != SHARED
    first = box.row(SHARED)["id"]
    problems = box.row(rows[1][0])["problems"]
    assert f"another message (#{first}) has the same Message-ID {SHARED}" in problems


def test_re_syncs_in_any_order_keep_exactly_the_two_messages(tmp_path: Path) -> None:
    for n, order in enumerate(itertools.permutations([FOR_ALICE, FOR_BOB, FOR_ALICE, FOR_BOB])):
        store = Store(tmp_path / f"{n}.db")
        try:
            box = Mailbox(store)
            box.deliver(*order)
            box.deliver(*reversed(order))  # a full re-sync after a UIDVALIDITY change
            subjects = sorted(r[2] for r in _rows(store))
            assert subjects == ["[Bug 7] crash on start", "[Bug 8] wrong total"], order
        finally:
            store.close()


def test_the_message_id_still_drives_threading(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(FOR_ALICE)
    box.deliver(REPLY)

    assert box.conversation_of("<r1@tracker.example>") == box.conversation_of(SHARED)
    assert box.row("<r1@tracker.example>")["thread_reason"] == f"refers to {SHARED}"
