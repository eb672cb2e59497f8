"""The Slack connector against the local Slack, through the real slack-sdk.

Every test drives `SlackConnector` as `frontdesk sync` does; what the server saw (`calls`,
`posted`) proves how it got there: cursors reused after a restart, replies fetched only for
threads with something new, a reply posted once across a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connectors.runner import run_forever
from connectors.slack.api import RateLimited
from connectors.slack.connector import SlackConnector, SlackOptions, SlackSyncError
from connectors.slack.ratelimit import RateLimiter
from connectors.slack.settings import SlackAccountSettings
from connectors.slack.text import attachments, render
from storage.aio import AsyncStore
from storage.models import IdentityRef
from storage.store import Store
from tests.factories import email
from tests.slack.fixtures import APP_TOKEN, BOT_TOKEN
from tests.slack.server import LocalSlack
from tests.waits import until_async

BOT_ENV, APP_ENV = "FD_TEST_SLACK_BOT", "FD_TEST_SLACK_APP"
T0 = 1_700_000_000.0  # the local Slack's first ts
FAST: dict[str, Any] = {"rates": {}}  # lift client-side pacing: the local server has no tiers

Row = tuple[Any, ...]


@pytest.fixture(autouse=True)
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BOT_ENV, BOT_TOKEN)
    monkeypatch.setenv(APP_ENV, APP_TOKEN)


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    store = AsyncStore(lambda: Store(db_path))
    yield store
    await store.aclose()


def settings(slack: LocalSlack, **extra: Any) -> SlackAccountSettings:
    return SlackAccountSettings(
        name="team-slack",
        kind="slack",
        bot_token_env=BOT_ENV,
        app_token_env=APP_ENV,
        api_url=slack.api_url,
        **extra,
    )


async def connector(
    slack: LocalSlack, astore: AsyncStore, *, account: dict[str, Any] | None = None, **options: Any
) -> SlackConnector:
    account_id = await astore.call(Store.ensure_account, "team-slack", "slack")
    return SlackConnector(
        settings(slack, **(account or {})), account_id, SlackOptions(**{**FAST, **options})
    )


def _rows(store: Store, sql: str, params: tuple[Any, ...]) -> list[Row]:
    return [tuple(r) for r in store.conn.execute(sql, params)]


async def rows(astore: AsyncStore, sql: str, *params: Any) -> list[Row]:
    return await astore.call(_rows, sql, params)


async def messages(astore: AsyncStore) -> list[Row]:
    """(remote_id, conversation_id, direction, text, thread_reason, deleted) by remote id."""
    return await rows(
        astore,
        "SELECT remote_id, conversation_id, direction, text, thread_reason, deleted"
        " FROM messages ORDER BY remote_id",
    )


def people(slack: LocalSlack) -> tuple[str, str, str]:
    channel = slack.add_channel("support")
    alice = slack.add_user("alice", real_name="Alice Liddell", email="Alice@Example.com")
    bob = slack.add_user("bob", real_name="Bob Builder", email="bob@example.com")
    return channel, alice, bob


# ---- backfill ---------------------------------------------------------------------------


async def test_backfill_stores_every_message_once_with_threads_joined(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    tops = local_slack.bulk_history(channel, 3000, threads_every=100, replies=3, users=[alice, bob])
    dm = local_slack.add_im(alice)
    local_slack.post(dm, alice, "hello from a DM", emit=False)
    sync = await connector(local_slack, astore, account={"group_window_minutes": 0})

    await sync.sync_once(astore)

    stored = await messages(astore)
    assert len(stored) == 3000 + 30 * 3 + 1
    assert len({r[0] for r in stored}) == len(stored)  # UNIQUE anyway: nothing was lost
    assert {f"{channel}:{ts}" for ts in tops} <= {r[0] for r in stored}
    by_conversation: dict[int, list[Row]] = {}
    for row in stored:
        by_conversation.setdefault(row[1], []).append(row)
    threads = [c for c in by_conversation.values() if len(c) > 1]
    assert len(threads) == 30 and all(len(c) == 4 for c in threads)
    for thread in threads:
        parent = min(thread, key=lambda r: r[0])
        assert parent[4] == "new conversation"
        assert {r[4] for r in thread if r != parent} == {f"refers to {parent[0]}"}
    assert len(by_conversation) == 3000 + 1
    # One history page per 200 messages, one replies call per thread, nothing read twice.
    assert len(local_slack.calls_to("conversations.history")) == 15 + 1
    assert len(local_slack.calls_to("conversations.replies")) == 30
    assert await astore.call(Store.checkpoint, 1, f"channel:{channel}") == {"oldest": tops[-1]}


async def test_a_429_storm_slows_the_backfill_but_loses_nothing(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    local_slack.bulk_history(channel, 500, threads_every=100, replies=2, users=[alice, bob])
    local_slack.rate_limit_every(3, retry_after=0)  # every third call is refused
    sync = await connector(local_slack, astore, page_size=100)

    await sync.sync_once(astore)

    assert len(await messages(astore)) == 500 + 5 * 2
    history = local_slack.calls_to("conversations.history")
    assert len(history) > 5 + 1  # some pages were asked for twice: refused, then retried


async def test_restart_mid_backfill_resumes_from_the_checkpointed_cursor(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    local_slack.bulk_history(channel, 1000, threads_every=50, replies=2, users=[alice, bob])
    # The 4th history call is refused and not retried: the run stops after three pages.
    local_slack.rate_limit_every(4, retry_after=0, method="conversations.history")
    first = await connector(local_slack, astore, page_size=100, max_retry_count=0)
    with pytest.raises(RateLimited):
        await first.sync_once(astore)
    assert len(await messages(astore)) == 300 + 6 * 2
    saved = await astore.call(Store.checkpoint, 1, f"channel:{channel}")
    assert saved is not None and saved["cursor"]

    local_slack.rate_limit_every(0, method="conversations.history")
    calls_before = len(local_slack.calls)
    await (await connector(local_slack, astore, page_size=100)).sync_once(astore)

    assert len(await messages(astore)) == 1000 + 20 * 2
    second_run = [p for m, p in local_slack.calls[calls_before:] if m == "conversations.history"]
    assert second_run[0]["cursor"] == saved["cursor"]  # resumed, not started over
    # Pages 4-10 only. (No look for new replies in older threads: by the real clock these
    # messages are from 2023, far outside the lookback.)
    assert len(second_run) == 7
    replies = [p["ts"] for p in local_slack.calls_to("conversations.replies")]
    assert len(replies) == len(set(replies)) == 20  # no thread fetched twice


async def test_new_reply_to_an_old_thread_is_picked_up_later(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    old = local_slack.post(channel, alice, "printer jammed", emit=False)
    local_slack.post(channel, bob, "which one?", old, emit=False)
    quiet = local_slack.post(channel, alice, "also the coffee machine", emit=False)
    busy = local_slack.post(channel, bob, "unrelated thread", emit=False)
    local_slack.post(channel, alice, "answer", busy, emit=False)
    # A day later, by the connector's clock: all three threads are within the lookback.
    # Only what history's latest_reply says (the rescan of open threads is tested elsewhere).
    sync = await connector(local_slack, astore, clock=lambda: T0 + 86400, rescan_interval=None)
    await sync.sync_once(astore)

    new_reply = local_slack.post(channel, alice, "the one on floor 2", old, emit=False)
    first_reply = local_slack.post(channel, bob, "on it", quiet, emit=False)
    replies_before = len(local_slack.calls_to("conversations.replies"))
    await sync.sync_once(astore)

    stored = {r[0]: r for r in await messages(astore)}
    assert stored[f"{channel}:{new_reply}"][1] == stored[f"{channel}:{old}"][1]
    assert stored[f"{channel}:{first_reply}"][1] == stored[f"{channel}:{quiet}"][1]
    refetched = [p["ts"] for p in local_slack.calls_to("conversations.replies")[replies_before:]]
    assert sorted(refetched) == sorted([old, quiet])  # not `busy`: nothing new there


async def test_edits_deletions_and_tombstones_in_history(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    typo = local_slack.post(channel, alice, "teh printer", emit=False)
    gone_parent = local_slack.post(channel, bob, "wrong channel, sorry", emit=False)
    reply = local_slack.post(channel, alice, "no worries", gone_parent, emit=False)
    local_slack.edit(channel, typo, "the printer", emit=False)
    local_slack.delete(channel, gone_parent, emit=False)  # has a reply: stays as a tombstone

    await (await connector(local_slack, astore)).sync_once(astore)

    stored = {r[0]: r for r in await messages(astore)}
    assert stored[f"{channel}:{typo}"][3] == "the printer"
    assert stored[f"{channel}:{gone_parent}"][5] == 1
    assert stored[f"{channel}:{reply}"][1] == stored[f"{channel}:{gone_parent}"][1]
    edited = await rows(
        astore, "SELECT edited_at FROM messages WHERE remote_id = ?", f"{channel}:{typo}"
    )
    assert edited[0][0] is not None


async def test_top_level_messages_group_within_the_window(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    first = local_slack.post(channel, alice, "my order is late", ts=f"{T0 + 10:.6f}", emit=False)
    soon = local_slack.post(channel, alice, "order #123", ts=f"{T0 + 600:.6f}", emit=False)
    other = local_slack.post(channel, bob, "me too", ts=f"{T0 + 700:.6f}", emit=False)
    later = local_slack.post(channel, alice, "and now?", ts=f"{T0 + 8000:.6f}", emit=False)

    await (await connector(local_slack, astore, account={"group_window_minutes": 60})).sync_once(
        astore
    )

    stored = {r[0]: r for r in await messages(astore)}
    key = f"{channel}:{{}}".format
    assert stored[key(soon)][1] == stored[key(first)][1]
    assert stored[key(soon)][4] == f"same contact and {channel!r} within 3600s"
    assert stored[key(other)][1] != stored[key(first)][1]  # someone else
    assert stored[key(later)][1] != stored[key(first)][1]  # outside the window
    assert stored[key(later)][4] == "new conversation"


# ---- identity ---------------------------------------------------------------------------


async def test_slack_user_joins_the_email_contact_with_the_email_scope(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    mail = await astore.call(Store.ensure_account, "mail", "imap")
    await astore.call(Store.ingest, [email(mail, "<1@x>", T0)])
    email_contact = await astore.call(Store.contact_of, IdentityRef("email", "alice@example.com"))
    ts = local_slack.post(channel, alice, "hi, it's me again on Slack", emit=False)

    await (await connector(local_slack, astore)).sync_once(astore)

    assert await astore.call(Store.contact_of, IdentityRef("slack", alice)) == email_contact
    conversation = await rows(
        astore,
        "SELECT c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.remote_id = ?",
        f"{channel}:{ts}",
    )
    assert conversation == [(email_contact,)]


async def test_contacts_merge_once_the_scope_is_granted_and_not_before(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    local_slack.scopes.discard("users:read.email")
    local_slack.post(channel, alice, "hello", emit=False)
    await (await connector(local_slack, astore)).sync_once(astore)
    slack_contact = await astore.call(Store.contact_of, IdentityRef("slack", alice))
    mail = await astore.call(Store.ensure_account, "mail", "imap")
    await astore.call(Store.ingest, [email(mail, "<1@x>", T0)])
    email_contact = await astore.call(Store.contact_of, IdentityRef("email", "alice@example.com"))
    assert slack_contact != email_contact  # without the scope nobody knows they are one

    # Users are looked up when they write: the link is made on Alice's next message.
    local_slack.scopes.add("users:read.email")
    local_slack.post(channel, alice, "any news?", emit=False)
    await (await connector(local_slack, astore)).sync_once(astore)

    assert await astore.call(Store.contact_of, IdentityRef("slack", alice)) == email_contact
    identity = await rows(
        astore, "SELECT original_contact_id FROM identities WHERE address = ?", alice
    )
    assert identity == [(slack_contact,)]  # the merge can be undone
    merged = await rows(astore, "SELECT merged_into FROM contacts WHERE id = ?", slack_contact)
    assert merged == [(email_contact,)]
    assert await rows(astore, "SELECT count(*) FROM events WHERE kind = 'contact_merged'") == [(1,)]


async def test_bots_and_deleted_users_are_stored_but_never_linked(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, _, _ = people(local_slack)
    gone = local_slack.add_user(
        "gone", real_name="Former Staff", email="gone@example.com", deleted=True
    )
    robot = local_slack.add_user("deploybot", real_name="Deploy Bot", is_bot=True)
    local_slack.post(channel, gone, "last words", emit=False)
    local_slack.post(channel, robot, "deployed v2", emit=False)
    accepted = {"accept_bots": [local_slack.workspace.users[robot].bot_id]}  # else ignored

    await (await connector(local_slack, astore, account=accepted)).sync_once(astore)

    authors = await rows(astore, "SELECT author_name FROM messages ORDER BY sent_at")
    assert authors == [("Former Staff",), ("Deploy Bot",)]
    assert await astore.call(Store.contact_of, IdentityRef("email", "gone@example.com")) is None


# ---- text -------------------------------------------------------------------------------


def test_slack_markup_renders_as_plain_text() -> None:
    names = {"U1": "Alice Liddell"}.get
    channels = {"C2": "support"}.get
    text = (
        "hi <@U1>, see <#C2> and <#C3|random>: <https://x.test/a?b=1&amp;c=2|the docs>,"
        " <https://x.test> or <mailto:a@x.test|a@x.test>. &lt;@U1&gt; is text, &amp; so"
        " is &lt;b&gt;. <!here> <!subteam^S1|@support> :smile: :+1::skin-tone-3: :unknown:"
    )
    assert render(text, names, channels) == (
        "hi @Alice Liddell, see #support and #random: the docs (https://x.test/a?b=1&c=2),"
        " https://x.test or a@x.test. <@U1> is text, & so is <b>. @here @support 😄 👍🏼"
        " :unknown:"
    )


def test_hostile_markup_cannot_forge_names_or_reach_the_terminal() -> None:
    names: Callable[[str], str | None] = {"U1": "Alice"}.get
    assert render("<@U999|admin> approved", names) == "@U999 approved"
    assert render("<@U1|admin>", names) == "@Alice"  # a label never replaces the real name
    assert render("<https://evil.test|https://bank.test>", names) == (
        "https://bank.test (https://evil.test)"
    )
    assert render("ok\x1b]0;owned\x07 \x1b[2Jdone\u202e", names) == "ok done\u202e"
    assert render("<@U1\x1b[31m>", lambda _: "Eve\x1b]52;c;Zm9v\x07") == "@Eve"


def test_files_become_attachments() -> None:
    files: list[dict[str, Any]] = [
        {"id": "F1", "name": "invoice.pdf", "mimetype": "application/pdf", "size": 1234},
        {"id": "F2", "title": "screen\x1b[2J.png", "size": "not a number"},
    ]
    found = attachments(files)
    assert [(a.filename, a.content_type, a.size, a.remote_ref) for a in found] == [
        ("invoice.pdf", "application/pdf", 1234, "F1"),
        ("screen.png", "application/octet-stream", 0, "F2"),
    ]


async def test_mentions_resolve_through_users_info_and_forgeries_do_not(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    local_slack.post(channel, alice, f"<@{bob}> can you look? <@U999|admin> said so", emit=False)

    await (await connector(local_slack, astore)).sync_once(astore)

    assert [r[3] for r in await messages(astore)] == ["@Bob Builder can you look? @U999 said so"]
    looked_up = sorted(p["user"] for p in local_slack.calls_to("users.info"))
    assert looked_up == sorted([alice, bob, "U999"])  # each once, the forged id included


# ---- replies ----------------------------------------------------------------------------


async def _thread_conversation(
    slack: LocalSlack, astore: AsyncStore, **options: Any
) -> tuple[str, str, int, SlackConnector]:
    channel, alice, bob = people(slack)
    parent = slack.post(channel, alice, "my invoice is wrong", emit=False)
    slack.post(channel, bob, "same here", parent, emit=False)
    sync = await connector(slack, astore, **options)
    await sync.sync_once(astore)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    return channel, parent, conversation, sync


async def _queue_reply(astore: AsyncStore, conversation: int, text: str) -> int:
    return await astore.call(
        Store.queue_reply, conversation, "Sam Agent", text, remote_id=f"<{text}@frontdesk.test>"
    )


async def test_reply_goes_to_the_thread_and_its_echo_is_the_same_message(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, parent, conversation, sync = await _thread_conversation(
        local_slack, astore, clock=lambda: T0 + 3600
    )
    message_id = await _queue_reply(astore, conversation, "Fixed: <b> & co.")

    await sync.sync_once(astore)
    await sync.sync_once(astore)  # the echo shows up in the thread now: no second copy

    assert len(local_slack.posted) == 1
    posted = local_slack.posted[0]
    assert (posted["channel"], posted["thread_ts"]) == (channel, parent)
    assert posted["text"] == "Fixed: &lt;b&gt; &amp; co."  # escaped as Slack expects
    outbox = await rows(astore, "SELECT status, attempts FROM outbox")
    assert outbox == [("sent", 1)]
    mine = await rows(
        astore, "SELECT remote_id, delivery, text FROM messages WHERE id = ?", message_id
    )
    assert mine == [(f"{channel}:{posted['ts']}", "sent", "Fixed: <b> & co.")]
    assert len(await messages(astore)) == 3


async def test_a_crash_after_posting_never_posts_twice(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, _, conversation, sync = await _thread_conversation(local_slack, astore)
    message_id = await _queue_reply(astore, conversation, "on it")
    # The first post is refused with a 429, so the SDK waits a second before trying again:
    # time to hold the store's thread. The "sent" record then queues up behind us, and we
    # kill the run once Slack has the message: the item is left `sending`, as after a crash.
    local_slack.rate_limit_every(1, retry_after=1, method="chat.postMessage")
    run = asyncio.create_task(sync.sync_once(astore))
    await local_slack.wait_until(lambda: bool(local_slack.calls_to("chat.postMessage")))
    local_slack.rate_limit_every(0, method="chat.postMessage")
    gate = threading.Event()
    blocked = asyncio.ensure_future(astore.call(_wait_for, gate))
    await local_slack.wait_until(lambda: len(local_slack.posted) == 1, timeout=5)
    # The run records "sent" next: wait until that call is queued behind the gate.
    queued = astore._executor._work_queue  # the store thread's pending calls
    await until_async(lambda: queued.qsize() > 0, "the sent record queued")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run  # (the queued "sent" record is dropped with it)
    gate.set()
    await blocked
    assert await rows(astore, "SELECT status FROM outbox") == [("sending",)]

    await (await connector(local_slack, astore)).sync_once(astore)

    assert len(local_slack.posted) == 1
    assert await rows(astore, "SELECT status FROM outbox") == [("sent",)]
    mine = await rows(astore, "SELECT remote_id FROM messages WHERE id = ?", message_id)
    assert mine == [(f"{channel}:{local_slack.posted[0]['ts']}",)]


def _wait_for(store: Store, gate: threading.Event) -> None:
    gate.wait(timeout=5)


async def test_a_crash_before_posting_posts_once(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    _, parent, conversation, sync = await _thread_conversation(local_slack, astore)
    await _queue_reply(astore, conversation, "on it")
    item = (await astore.call(Store.due_outbox, 1))[0]
    await astore.call(Store.outbox_sending, item.id)  # claimed, then the process died

    await sync.sync_once(astore)
    await sync.sync_once(astore)

    assert [(p["text"], p["thread_ts"]) for p in local_slack.posted] == [("on it", parent)]
    assert await rows(astore, "SELECT status FROM outbox") == [("sent",)]


async def test_a_refused_reply_is_retried_later(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, _, conversation, sync = await _thread_conversation(local_slack, astore)
    await _queue_reply(astore, conversation, "on it")
    local_slack.workspace.channels[channel].is_archived = True

    await sync.sync_once(astore)

    status = await rows(astore, "SELECT status, attempts, last_error, next_attempt_at FROM outbox")
    assert status[0][:3] == ("failed", 1, "Slack refused the reply: is_archived")
    assert status[0][3] > (await rows(astore, "SELECT created_at FROM outbox"))[0][0] + 20
    assert local_slack.posted == []


# ---- live -------------------------------------------------------------------------------


@asynccontextmanager
async def live(slack: LocalSlack, astore: AsyncStore, **options: Any) -> AsyncIterator[None]:
    """The connector's live loop running against `slack` until the block ends."""
    sync = await connector(slack, astore, **{"outbox_interval": 0.05, **options})
    task = asyncio.create_task(sync.run_live(astore))
    try:
        await slack.wait_connected()
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def query(astore: AsyncStore, sql: str) -> Callable[[], Awaitable[list[Row]]]:
    return lambda: rows(astore, sql)


async def wait_for_rows(read: Callable[[], Awaitable[list[Row]]], n: int) -> list[Row]:
    """Poll the store until `read` returns `n` rows (the live loop writes asynchronously)."""
    found: list[Row] = []
    for _ in range(200):
        found = await read()
        if len(found) >= n:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {n} rows, got {found}")


async def test_live_events_land_once_whatever_the_order_and_repeats(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    async with live(local_slack, astore):
        parent = local_slack.post(channel, alice, "is the API down?", emit=False)
        reply = local_slack.post(channel, bob, "yes, for me too", parent, emit=False)
        later = local_slack.post(channel, alice, "back up now", parent, emit=False)
        events = [local_slack.event_for(channel, ts) for ts in (parent, reply, later)]
        await local_slack.send_out_of_order(events, order=[2, 1, 0])  # replies first
        await local_slack.redeliver_all()  # the same envelopes again
        await _redeliver_as_retry(local_slack)  # and as Slack's retries: new envelope ids
        stored = await wait_for_rows(lambda: messages(astore), 3)
        sent = {e["envelope_id"] for e in local_slack.envelopes}
        # Events are handed over in arrival order: once a later one is stored, any duplicate
        # that arrived before it has (wrongly) landed too. No fixed wait.
        last = local_slack.post(channel, bob, "sentinel")
        after = await wait_for_rows(lambda: messages(astore), 4)
        assert [r for r in after if r[0] != f"{channel}:{last}"] == stored
        every = sent | {f"{e}-retry" for e in sent}
        await local_slack.wait_until(lambda: local_slack.acked >= every)  # every envelope acked

    assert len(stored) == 3 and len({r[1] for r in stored}) == 1


async def _redeliver_as_retry(slack: LocalSlack) -> None:
    # What Slack does when it thinks an ack was lost: the same event in a new envelope.
    for envelope in list(slack.envelopes):
        again = {**envelope, "envelope_id": f"{envelope['envelope_id']}-retry", "retry_attempt": 1}
        await slack.hub._send_frame(again)


async def test_a_live_reply_to_a_thread_we_never_saw_brings_the_thread(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    async with live(local_slack, astore):
        # Exactly two catch-ups on start: the first at once, the second on `hello` (which
        # comes after the first began). Once both have read the (one) channel's history, a
        # further history call could only be another catch-up.
        await local_slack.wait_until(
            lambda: len(local_slack.calls_to("conversations.history")) >= 2
        )
        history_calls = len(local_slack.calls_to("conversations.history"))
        parent = local_slack.post(channel, alice, "refund please", emit=False)  # event lost
        first = local_slack.post(channel, bob, "+1", parent, emit=False)
        local_slack.post(channel, alice, "still waiting", parent)  # this one comes live
        stored = await wait_for_rows(lambda: messages(astore), 3)

    assert len(local_slack.calls_to("conversations.history")) == history_calls  # not a catch-up
    assert len({r[1] for r in stored}) == 1  # one conversation, joined by the thread
    assert {r[4] for r in stored if r[0] != f"{channel}:{parent}"} == {
        f"refers to {channel}:{parent}"
    }
    assert f"{channel}:{first}" in {r[0] for r in stored}


async def test_frontdesk_sync_follows_slack_live(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    task = asyncio.create_task(run_forever(astore, [settings(local_slack)]))
    try:
        await local_slack.wait_connected()
        local_slack.post(channel, alice, "hello, live")
        stored = await wait_for_rows(lambda: messages(astore), 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stored[0][3] == "hello, live"


async def test_live_edit_and_delete(local_slack: LocalSlack, astore: AsyncStore) -> None:
    channel, alice, _ = people(local_slack)
    async with live(local_slack, astore):
        ts = local_slack.post(channel, alice, "teh printer")
        await wait_for_rows(lambda: messages(astore), 1)
        local_slack.edit(channel, ts, "the printer")
        await wait_for_rows(query(astore, "SELECT id FROM messages WHERE text = 'the printer'"), 1)
        local_slack.delete(channel, ts)
        await wait_for_rows(query(astore, "SELECT id FROM messages WHERE deleted = 1"), 1)


async def test_a_reconnect_catches_up_what_was_missed(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    local_slack.post(channel, alice, "before we started", emit=False)
    async with live(local_slack, astore):
        await wait_for_rows(lambda: messages(astore), 1)
        local_slack.post(channel, alice, "sent while the socket was down", emit=False)
        await local_slack.disconnect_all("refresh_requested")
        await local_slack.wait_opened(2)
        stored = await wait_for_rows(lambda: messages(astore), 2)
    assert sorted(r[3] for r in stored) == ["before we started", "sent while the socket was down"]


async def test_without_an_app_token_live_mode_polls(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    account_id = await astore.call(Store.ensure_account, "team-slack", "slack")
    polling = settings(local_slack).model_copy(update={"app_token_env": None})
    options = SlackOptions(rates={}, catch_up_interval=0.05, outbox_interval=0.02)
    task = asyncio.create_task(SlackConnector(polling, account_id, options).run_live(astore))
    try:
        local_slack.post(channel, alice, "no socket needed", emit=False)
        stored = await wait_for_rows(lambda: messages(astore), 1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stored[0][3] == "no socket needed" and local_slack.opened == 0


async def test_live_reply_is_posted_once_and_its_echo_deduplicated(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, _, conversation, _ = await _thread_conversation(local_slack, astore)
    async with live(local_slack, astore):
        await _queue_reply(astore, conversation, "looking into it")
        await wait_for_rows(query(astore, "SELECT id FROM outbox WHERE status = 'sent'"), 1)
        await local_slack.wait_until(lambda: len(local_slack.acked) >= 1)
        # The echo was emitted before this one: once it is stored, the echo was handled.
        carol = local_slack.add_user("carol")
        sentinel = local_slack.post(channel, carol, "sentinel")
        stored = await wait_for_rows(lambda: messages(astore), 4)
    assert len(local_slack.posted) == 1
    assert len(stored) == 4 and f"{channel}:{sentinel}" in {r[0] for r in stored}


# ---- pacing -----------------------------------------------------------------------------


async def test_the_limiter_keeps_each_method_inside_its_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(
        {"conversations.history": 60, "chat.postMessage": 60},
        burst=2,
        clock=lambda: now[0],
        sleep=sleep,
    )
    for _ in range(4):
        await limiter.acquire("conversations.history")
    assert slept == [1.0, 1.0]  # two at once, then one a second
    await limiter.acquire("users.info")  # not listed: never waits
    await limiter.acquire("chat.postMessage", "C1")
    await limiter.acquire("chat.postMessage", "C2")  # per channel: no wait
    assert slept == [1.0, 1.0]
    limiter.pause("users.info", 30)
    await limiter.acquire("users.info")
    assert slept[-1] == 30


async def test_exhausted_429_retries_stop_the_run_without_losing_work(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    local_slack.bulk_history(channel, 300, threads_every=100, replies=1, users=[alice, bob])
    local_slack.rate_limit_every(1, retry_after=0, method="conversations.replies")
    sync = await connector(local_slack, astore, page_size=100, max_retry_count=1)
    with pytest.raises(RateLimited):
        await sync.sync_once(astore)
    assert len(await messages(astore)) == 100  # the first page, whose thread is pending

    local_slack.rate_limit_every(0, method="conversations.replies")
    await sync.sync_once(astore)
    assert len(await messages(astore)) == 300 + 3


# ---- wiring -----------------------------------------------------------------------------


def test_the_runner_registers_slack_without_importing_the_sdk() -> None:
    code = (
        "import sys, connectors.runner, connectors.registry as r;"
        "print('slack' in r.CHANNELS, 'slack_sdk' in sys.modules, 'aiohttp' in sys.modules)"
    )
    done = _run_python(code)
    assert done == "True False False"


def _run_python(code: str) -> str:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    return out.stdout.strip()


async def test_a_channel_the_bot_cannot_read_is_reported(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _ = people(local_slack)
    local_slack.post(channel, alice, "hello", emit=False)
    sync = await connector(local_slack, astore, account={"channels": [channel, "C0MISSING"]})
    with pytest.raises(SlackSyncError, match="C0MISSING"):
        await sync.sync_once(astore)
    assert len(await messages(astore)) == 1  # the readable channel was still synced


async def test_frontdesk_sync_once_end_to_end(local_slack: LocalSlack, tmp_path: Path) -> None:
    channel, alice, bob = people(local_slack)
    local_slack.bulk_history(channel, 120, threads_every=40, replies=2, users=[alice, bob])
    db = tmp_path / "store.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "team-slack"\nkind = "slack"\n'
        f'bot_token_env = "{BOT_ENV}"\napi_url = "{local_slack.api_url}"\n',
        encoding="utf-8",
    )
    code, _, err = await _frontdesk("sync", "--once", "--config", str(config))
    assert code == 0, err
    code, out, err = await _frontdesk("stats", "--json", "--config", str(config))
    assert code == 0, err
    assert json.loads(out)["accounts"] == [
        {"name": "team-slack", "kind": "slack", "conversations": 2, "messages": 120 + 3 * 2}
    ]


async def _frontdesk(*args: str) -> tuple[int, str, str]:
    # Not subprocess.run: the local Slack lives on this event loop and must keep answering.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_user_slack_will_not_show_costs_only_their_name(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    """users.info `user_not_visible` for one author must not fail the page (issue 16, gap 1)."""
    channel, alice, bob = people(local_slack)
    guest = local_slack.add_user("guest", real_name="Gita Guest")
    local_slack.workspace.hidden.add(guest)
    local_slack.post(channel, alice, "first question", emit=False)
    local_slack.post(channel, guest, f"me too, ask <@{bob}>", emit=False)

    await (await connector(local_slack, astore)).sync_once(astore)

    texts = sorted(r[3] for r in await messages(astore))
    assert texts == ["first question", "me too, ask @Bob Builder"]
    names = await rows(
        astore, "SELECT display_name FROM identities WHERE kind = 'slack' AND address = ?", guest
    )
    assert names == [("Slack user " + guest,)]


async def test_an_unnamed_user_is_named_once_slack_shows_them(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    """Kept as "Slack user U…" and asked about again later (issue 16, Build: failures), in
    the same live run too (its users cache knows the user as unknown)."""
    channel, alice, _bob = people(local_slack)
    guest = local_slack.add_user("guest", real_name="Gita Guest")
    local_slack.workspace.hidden.add(guest)
    local_slack.post(channel, guest, "where is my order?", emit=False)
    local_slack.post(channel, alice, "unrelated", emit=False)
    now = [T0]
    sync = await connector(local_slack, astore, clock=lambda: now[0], rename_interval=3600)

    def named() -> Any:
        return rows(
            astore,
            "SELECT i.display_name, c.name, m.author_name FROM identities i"
            " JOIN contacts c ON c.id = i.contact_id"
            " JOIN messages m ON m.author_identity_id = i.id WHERE i.address = ?",
            guest,
        )

    def asked() -> int:
        return [c["user"] for c in local_slack.calls_to("users.info")].count(guest)

    async with sync.session(astore) as run:
        await run.catch_up()
        local_slack.workspace.hidden.discard(guest)  # e.g. the guest joined the workspace
        now[0] += 60  # a minute later: not asked again yet
        await run.catch_up()
        assert await named() == [(f"Slack user {guest}",) * 3]
        assert asked() == 1

        now[0] += 3600  # the interval has passed: asked once more
        await run.catch_up()

    assert await named() == [("Gita Guest", "Gita Guest", "Gita Guest")]
    assert asked() == 2


@pytest.mark.parametrize(("dms", "expected"), [(None, 2), (False, 1)])
async def test_direct_messages_are_served_whatever_channels_lists(
    local_slack: LocalSlack, astore: AsyncStore, dms: bool | None, expected: int
) -> None:
    """A non-empty `channels` used to drop every DM silently (issue 16, gap 15)."""
    channel, alice, _bob = people(local_slack)
    dm = local_slack.add_im(alice)
    local_slack.post(channel, alice, "in the channel", emit=False)
    local_slack.post(dm, alice, "in a DM", emit=False)
    account: dict[str, Any] = {"channels": [channel]}
    if dms is not None:
        account["dms"] = dms
    await (await connector(local_slack, astore, account=account)).sync_once(astore)

    texts = sorted(r[3] for r in await messages(astore))
    assert texts == ["in a DM", "in the channel"][2 - expected :]
