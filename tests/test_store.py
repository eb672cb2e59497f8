"""The store without any UI: migrations, idempotent ingest, inbox rules, paging, search."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import queue, search
from storage.db import connect, migrations, schema_version
from storage.policy import SimplePolicy
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

HOUR = 3600.0


def test_migrations_bring_a_new_file_to_the_latest_version(db_path: Path) -> None:
    conn = connect(db_path)
    assert schema_version(conn) == migrations()[-1][0]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def test_reopening_a_migrated_store_keeps_its_data(db_path: Path, clock: FakeClock) -> None:
    first = Store(db_path, clock=clock)
    account = first.ensure_account("mail", "imap")
    first.ingest([email(account, "<a@x>", clock.now)])
    first.close()
    second = Store(db_path, clock=clock)
    assert second.stats()["messages"] == 1
    second.close()


def test_ingest_is_idempotent_on_account_and_remote_id(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    msg = email(account, "<a@x>", clock.now)
    first = store.ingest([msg])[0]
    again = store.ingest([msg, msg])
    assert first.created and not any(r.created for r in again)
    assert {r.message_id for r in again} == {first.message_id}
    assert store.stats()["messages"] == 1


def test_same_remote_id_on_two_accounts_is_two_messages(store: Store, clock: FakeClock) -> None:
    a = store.ensure_account("mail-a", "imap")
    b = store.ensure_account("mail-b", "imap")
    store.ingest([email(a, "<a@x>", clock.now), email(b, "<a@x>", clock.now)])
    assert store.stats()["messages"] == 2


def test_reply_threads_into_its_parent_and_records_why(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    first = store.ingest([email(account, "<a@x>", clock.now)])[0]
    reply = store.ingest([email(account, "<b@x>", clock.now + 60, parents=("<a@x>",))])[0]
    assert reply.conversation_id == first.conversation_id
    assert reply.thread_reason == "refers to <a@x>"
    assert first.thread_reason == "new conversation"


def test_subject_fallback_joins_only_within_the_window(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    first = store.ingest([email(account, "<a@x>", clock.now, group_window=HOUR)])[0]
    near = store.ingest([email(account, "<b@x>", clock.now + 600, group_window=HOUR)])[0]
    far = store.ingest([email(account, "<c@x>", clock.now + 5 * HOUR, group_window=HOUR)])[0]
    assert near.conversation_id == first.conversation_id
    assert far.conversation_id != first.conversation_id


def test_checkpoint_commits_with_the_messages(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", clock.now)], checkpoint=(account, "INBOX", {"uid": 7}))
    assert store.checkpoint(account, "INBOX") == {"uid": 7}
    broken = email(account, "<b@x>", clock.now)
    with pytest.raises(sqlite3.IntegrityError):
        store.ingest(
            [broken, email(99, "<c@x>", clock.now)], checkpoint=(account, "INBOX", {"uid": 9})
        )
    assert store.checkpoint(account, "INBOX") == {"uid": 7}
    assert store.stats()["messages"] == 1


def test_customer_message_opens_and_starts_the_clock(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    result = store.ingest([email(account, "<a@x>", clock.now)])[0]
    conv = store.detail(result.conversation_id).conversation
    assert conv.status == "open"
    assert conv.waiting_since == clock.now
    assert conv.unread


def test_agent_reply_sets_first_response_once_and_goes_pending(
    store: Store, clock: FakeClock
) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    clock.advance(600)
    store.queue_reply(cid, "Sam", "On it!", remote_id="<r1@us>")
    conv = store.detail(cid).conversation
    assert (conv.status, conv.first_response_at, conv.waiting_since) == ("pending", clock.now, None)
    first = clock.now
    clock.advance(600)
    store.ingest([email(account, "<b@x>", clock.now, parents=("<r1@us>",))])
    clock.advance(600)
    store.queue_reply(cid, "Sam", "Done.", remote_id="<r2@us>", close=True)
    conv = store.detail(cid).conversation
    assert conv.first_response_at == first
    assert conv.status == "closed"
    assert [i.body for i in store.due_outbox()] == ["On it!", "Done."]


def test_customer_message_reopens_a_closed_conversation(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    store.close_conversation(cid, "Sam")
    clock.advance(60)
    store.ingest([email(account, "<b@x>", clock.now, parents=("<a@x>",))])
    detail = store.detail(cid)
    assert detail.conversation.status == "open"
    assert [e.kind for e in detail.events] == ["closed", "reopened"]


def test_snooze_wakes_on_reply_by_default(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    store.snooze(cid, "Sam", clock.now + 24 * HOUR, note="waiting for the parcel")
    clock.advance(HOUR)
    store.ingest([email(account, "<b@x>", clock.now, parents=("<a@x>",))])
    conv = store.detail(cid).conversation
    assert conv.status == "open" and conv.woken_at == clock.now


def test_snooze_without_wake_on_reply_stays_snoozed(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    store.snooze(cid, "Sam", clock.now + 24 * HOUR, wake_on_reply=False)
    clock.advance(HOUR)
    store.ingest([email(account, "<b@x>", clock.now, parents=("<a@x>",))])
    assert store.detail(cid).conversation.status == "snoozed"


def test_due_snooze_wakes_to_the_top_of_the_queue(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    older = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    clock.advance(60)
    bob = customer("bob@example.com", "Bob")
    snoozed = store.ingest([email(account, "<b@x>", clock.now, who=bob)])[0].conversation_id
    store.snooze(snoozed, "Sam", clock.now + HOUR, note="call back")
    assert store.wake_due() == []
    clock.advance(HOUR)
    assert store.wake_due() == [snoozed]
    rows = store.page(queue.needs_reply())
    assert [r.id for r in rows] == [snoozed, older]
    assert rows[0].woken
    assert store.detail(snoozed).conversation.snooze_note == "call back"


def test_snooze_in_the_past_is_refused(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    with pytest.raises(ValueError, match="past"):
        store.snooze(cid, "Sam", clock.now - 1)


def test_sla_due_orders_the_needs_reply_view(db_path: Path, clock: FakeClock) -> None:
    policy = SimplePolicy(
        by_domain={"bigco.com": "advanced"},
        first_response={"advanced": HOUR, "standard": 8 * HOUR},
    )
    store = Store(db_path, clock=clock, policy=policy)
    account = store.ensure_account("mail", "imap")
    standard = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    clock.advance(600)
    key = customer("ceo@bigco.com", "Key Account")
    advanced = store.ingest([email(account, "<b@x>", clock.now, who=key)])[0].conversation_id
    rows = store.page(queue.needs_reply())
    assert [(r.id, r.tier) for r in rows] == [(advanced, "advanced"), (standard, "standard")]
    assert rows[0].sla_due_at == clock.now + HOUR
    store.close()


def _fill(store: Store, clock: FakeClock, n: int) -> list[int]:
    account = store.ensure_account("mail", "imap")
    msgs = []
    for i in range(n):
        who = customer(f"c{i}@example.com", f"Customer {i}")
        msgs.append(email(account, f"<{i}@x>", clock.now + i, who=who, subject=f"Order {i}"))
    return [r.conversation_id for r in store.ingest(msgs)]


def test_keyset_pages_walk_the_whole_view_both_ways(store: Store, clock: FakeClock) -> None:
    ids = _fill(store, clock, 230)
    view = queue.needs_reply()
    seen, after = [], None
    while page := store.page(view, after=after, limit=50):
        seen += [r.id for r in page]
        after = queue.cursor_of(page[-1])
    assert seen == ids  # longest waiting first
    back = store.page(view, before=queue.cursor_of(store.page_at(view, 100, 1)[0]), limit=50)
    assert [r.id for r in back] == ids[50:100]
    assert store.count(view) == 230


def test_views_by_status_tag_and_assignee(store: Store, clock: FakeClock) -> None:
    ids = _fill(store, clock, 5)
    store.close_conversation(ids[0], "Sam")
    store.tag([ids[1], ids[2]], "Sam", "billing")
    store.assign(ids[3], "Sam", "sam@x")
    assert [r.id for r in store.page(queue.by_status("closed"))] == [ids[0]]
    assert sorted(r.id for r in store.page(queue.by_tag("billing"))) == [ids[1], ids[2]]
    assert [r.id for r in store.page(queue.mine("sam@x"))] == [ids[3]]
    assert [r.id for r in store.page(queue.unassigned())] == [ids[1], ids[2], ids[4]]
    assert store.page(queue.by_tag("billing"))[0].tags == (("billing", "cyan"),)


def test_search_free_text_and_operators(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    bob = customer("bob@example.com", "Bob Builder")
    store.ingest(
        [
            email(account, "<1@x>", clock.now, text="My invoice is wrong", subject="Invoice"),
            email(account, "<2@x>", clock.now + 1, who=bob, text="refund please", subject="Money"),
        ]
    )

    def found(q: str) -> list[str]:
        view = search.parse(q, me="sam@x")
        search.check(store.conn, view)
        return [r.contact_name for r in store.page(view)]

    assert found("invoice") == ["Alice Liddell"]
    assert found("refu*") == ["Bob Builder"]
    assert found("from:bob is:open") == ["Bob Builder"]
    assert found('"drop table" OR "x') == []


def test_search_rejects_bad_operators_with_a_reason() -> None:
    with pytest.raises(search.SearchError, match="is:"):
        search.parse("is:sleeping")
    with pytest.raises(search.SearchError, match="YYYY-MM-DD"):
        search.parse("before:yesterday")


def test_outbox_claim_is_atomic_and_respects_cancel(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<a@x>", clock.now)])[0].conversation_id
    store.queue_reply(cid, "Sam", "one", remote_id="<r1@us>")
    store.queue_reply(cid, "Sam", "two", remote_id="<r2@us>", batch="b1")
    first, second = store.due_outbox()
    assert store.outbox_sending(first.id) is True
    assert store.outbox_sending(first.id) is False  # a second runner must not send it
    assert store.outbox_sending(first.id, resuming=True) is True
    assert store.cancel_batch("b1", "Sam") == 1
    assert store.outbox_sending(second.id) is False
    assert store.batch_status("b1") == {"cancelled": 1}


def test_migration_numbers_are_unique_and_contiguous() -> None:
    # A gap or a duplicate would be skipped silently on stores already past that number.
    numbers = [number for number, _ in migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_the_message_index_can_be_rebuilt_and_quoted(store: Store, clock: FakeClock) -> None:
    # External-content FTS reads its columns from `messages` by name: they must all exist.
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", clock.now, text="the parcel never arrived")])
    store.conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    row = store.conn.execute(
        "SELECT snippet(messages_fts, 1, '[', ']', '…', 5) FROM messages_fts"
        " WHERE messages_fts MATCH 'parcel'"
    ).fetchone()
    assert row[0] == "the [parcel] never arrived"


def test_common_tags_are_those_every_conversation_has(store: Store, clock: FakeClock) -> None:
    ids = _fill(store, clock, 300)
    store.tag(ids, "Sam", "billing")
    store.tag(ids[:299], "Sam", "vip")
    assert store.common_tags(ids) == {"billing"}
    assert store.common_tags(ids[:299]) == {"billing", "vip"}
    assert store.common_tags([]) == set()


def test_reapplying_an_unchanged_canned_reply_writes_nothing(
    store: Store, clock: FakeClock, db_path: Path
) -> None:
    store.upsert_canned_reply(
        "Hi", "Hello {{ contact.first_name }}", shortcut="hi", folder="", source="config"
    )
    watcher = Store(db_path)
    version = watcher.data_version()
    clock.advance(60)
    store.upsert_canned_reply(
        "Hi", "Hello {{ contact.first_name }}", shortcut="hi", folder="", source="config"
    )
    assert watcher.data_version() == version
    store.upsert_canned_reply("Hi", "Hello!", shortcut="hi", folder="", source="config")
    assert watcher.data_version() != version
    assert [r.body for r in store.canned_replies()] == ["Hello!"]
    watcher.close()
