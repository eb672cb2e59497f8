"""Slack replies exactly once and never in public by mistake (issues 14 and 16, items 2 and 3).

Against the local Slack (tests/slack/server.py), which now posts a message and *then* answers
chat.postMessage with fatal_error / internal_error / HTTP 5xx, and posts a `thread_ts` reply
whose root was deleted without replies as a top-level message, as Slack does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from connectors.runner import run_once
from connectors.slack.connector import SlackConnector, SlackOptions
from connectors.slack.ratelimit import RateLimiter
from storage.aio import AsyncStore
from storage.store import Store
from tests.slack.server import LocalSlack
from tests.test_slack_connector import (
    T0,
    _queue_reply,
    connector,
    people,
    rows,
    settings,
    tokens,  # noqa: F401  (autouse fixture: the tokens in the environment)
    wait_for_rows,
)


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    store = AsyncStore(lambda: Store(db_path))
    yield store
    await store.aclose()


async def _conversation(slack: LocalSlack, store: AsyncStore, *, replied: bool) -> tuple[str, str]:
    channel, alice, bob = people(slack)
    root = slack.post(channel, alice, "my invoice is wrong", emit=False)
    if replied:
        slack.post(channel, bob, "same here", root, emit=False)
    await (await connector(slack, store)).sync_once(store)
    return channel, root


@pytest.mark.parametrize("error", ["fatal_error", "internal_error", "http_500", "http_503"])
async def test_an_error_after_posting_is_uncertain_and_the_thread_is_checked(
    local_slack: LocalSlack, astore: AsyncStore, error: str
) -> None:
    channel, root = await _conversation(local_slack, astore, replied=True)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    message_id = await _queue_reply(astore, conversation, "on it")
    local_slack.fail_posts_after_posting(1, error=error)

    await (await connector(local_slack, astore)).sync_once(astore)
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sending", "uncertain")]
    [problem] = await astore.call(Store.outbox_problems)
    assert problem.state == "uncertain" and "may have been posted" in problem.reason

    await (await connector(local_slack, astore)).sync_once(astore)  # probe: it is there
    await (await connector(local_slack, astore)).sync_once(astore)

    assert [(p["text"], p["thread_ts"]) for p in local_slack.posted] == [("on it", root)]
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sent", None)]
    mine = await rows(astore, "SELECT remote_id FROM messages WHERE id = ?", message_id)
    assert mine == [(f"{channel}:{local_slack.posted[0]['ts']}",)]


async def test_a_reply_to_a_deleted_question_is_held_never_posted_in_the_channel(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, root = await _conversation(local_slack, astore, replied=False)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    message_id = await _queue_reply(astore, conversation, "Your card 4111 is refunded")
    local_slack.delete(channel, root, emit=False)  # no replies: gone for good

    await (await connector(local_slack, astore)).sync_once(astore)
    await (await connector(local_slack, astore)).sync_once(astore)

    assert local_slack.posted == []
    assert await rows(astore, "SELECT status, outcome, last_error FROM outbox") == [
        ("queued", "held", "the customer deleted the message you answer")
    ]
    [problem] = await astore.call(Store.outbox_problems)
    assert (problem.conversation_id, problem.state) == (conversation, "held")
    # The agent cancels: the text goes back to the composer, nothing is left to send.
    assert await astore.call(Store.take_back, message_id, "Sam") == "Your card 4111 is refunded"
    await (await connector(local_slack, astore)).sync_once(astore)
    assert local_slack.posted == [] and await astore.call(Store.outbox_problems) == []


async def test_the_local_slack_posts_a_reply_to_a_deleted_root_top_level(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    # The imitation must do what Slack does, or the test above proves nothing.
    channel, alice, _ = people(local_slack)
    root = local_slack.post(channel, alice, "question", emit=False)
    kept = local_slack.post(channel, alice, "question with a reply", emit=False)
    local_slack.post(channel, alice, "a reply", kept, emit=False)
    local_slack.delete(channel, root, emit=False)
    local_slack.delete(channel, kept, emit=False)  # a tombstone: its thread stays

    async with (await connector(local_slack, astore)).session(astore) as run:
        await run.api.post(channel, "to the gone one", thread_ts=root, metadata={})
        await run.api.post(channel, "to the tombstone", thread_ts=kept, metadata={})

    assert [(p["text"], p["thread_ts"]) for p in local_slack.posted] == [
        ("to the gone one", None),
        ("to the tombstone", kept),
    ]


async def test_a_reply_queued_during_a_long_catch_up_goes_out_within_2_s(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    # 10 threads with a new reply each, conversations.replies paced at 1 per second: the
    # catch-up takes ~8 s. A reply queued meanwhile must not wait for it (issue 16, item 8).
    channel, alice, bob = people(local_slack)
    roots = [local_slack.post(channel, alice, f"question {n}", emit=False) for n in range(10)]
    for root in roots:
        local_slack.post(channel, bob, "me too", root, emit=False)
    clock = lambda: T0 + 3600  # noqa: E731  (the threads are an hour old: inside the rescan)
    await (await connector(local_slack, astore, clock=clock)).sync_once(astore)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    for root in roots:
        local_slack.post(channel, alice, "any news?", root, emit=False)
    account_id = await astore.call(Store.ensure_account, "team-slack", "slack")
    polling = SlackConnector(
        settings(local_slack).model_copy(update={"app_token_env": None}),
        account_id,
        SlackOptions(rates={"conversations.replies": 60}, clock=clock),
    )
    before = len(local_slack.calls_to("conversations.replies"))
    task = asyncio.create_task(polling.run_live(astore))
    try:
        await local_slack.wait_until(
            lambda: len(local_slack.calls_to("conversations.replies")) >= before + 4, timeout=10
        )
        queued = time.monotonic()
        await _queue_reply(astore, conversation, "on it")
        await local_slack.wait_until(lambda: bool(local_slack.posted), timeout=30)
        waited = time.monotonic() - queued
        catching_up = len(local_slack.calls_to("conversations.replies")) - before < 10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert catching_up  # the catch-up had not finished when the reply went out
    assert waited < 2.0, f"the reply waited {waited:.1f} s"


def test_the_limiter_serves_the_outbox_first_and_keeps_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter({"conversations.replies": 60}, burst=1, clock=lambda: now[0])
    method = "conversations.replies"
    # A catch-up has booked the next three seconds (one call a second).
    assert [limiter.reserve(method) for _ in range(3)] == [0.0, 1.0, 2.0]

    assert limiter.reserve_first(method) == 0.0  # the reply's call goes now
    assert limiter.reserve_first(method) == 1.0  # the next reply's a second later
    assert limiter.reserve(method) == 5.0  # the catch-up moved back two slots: 1 call/s kept

    limiter.pause(method, 10.0)  # Slack said 429, Retry-After 10
    assert limiter.reserve_first(method) == 10.0


async def test_a_reply_s_call_does_not_wait_behind_a_distributed_app_s_catch_up() -> None:
    """At 1 call a minute (a distributed app), a reply queued behind the catch-up's booked
    call would wait that minute: `first` calls go now, and the catch-up moves back."""
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter({"conversations.replies": 1}, burst=1, clock=lambda: now[0], sleep=sleep)
    await limiter.acquire("conversations.replies")  # the catch-up's call, now
    await limiter.acquire("conversations.replies", first=True)  # the reply's probe
    assert slept == []
    await limiter.acquire("conversations.replies")  # the catch-up's next call
    assert slept == [120.0]  # two slots later: one call a minute held


async def test_a_held_reply_goes_to_the_channel_only_when_the_agent_says_so(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, root = await _conversation(local_slack, astore, replied=False)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    message_id = await _queue_reply(astore, conversation, "We fixed it for everyone")
    local_slack.delete(channel, root, emit=False)
    await (await connector(local_slack, astore)).sync_once(astore)
    assert local_slack.posted == []  # held

    assert await astore.call(Store.post_held_in_channel, message_id, "Sam") is True
    await (await connector(local_slack, astore)).sync_once(astore)
    await (await connector(local_slack, astore)).sync_once(astore)  # its echo: no new copy

    assert [(p["text"], p["thread_ts"]) for p in local_slack.posted] == [
        ("We fixed it for everyone", None)
    ]
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sent", None)]
    mine = await rows(astore, "SELECT remote_id FROM messages WHERE id = ?", message_id)
    assert mine == [(f"{channel}:{local_slack.posted[0]['ts']}",)]
    assert await rows(astore, "SELECT count(*) FROM messages") == [(2,)]


async def test_an_uncertain_channel_post_is_looked_for_in_the_channel(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, root = await _conversation(local_slack, astore, replied=False)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    message_id = await _queue_reply(astore, conversation, "Fixed for everyone")
    local_slack.delete(channel, root, emit=False)
    await (await connector(local_slack, astore)).sync_once(astore)
    await astore.call(Store.post_held_in_channel, message_id, "Sam")
    local_slack.fail_posts_after_posting(1, error="internal_error")

    await (await connector(local_slack, astore)).sync_once(astore)
    assert await rows(astore, "SELECT outcome FROM outbox") == [("uncertain",)]
    await (await connector(local_slack, astore)).sync_once(astore)

    assert [p["text"] for p in local_slack.posted] == ["Fixed for everyone"]
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sent", None)]


async def test_a_second_process_stands_by_and_says_so(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    await _conversation(local_slack, astore, replied=True)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    await _queue_reply(astore, conversation, "on it")
    account = await astore.call(Store.ensure_account, "team-slack", "slack")
    # Another `frontdesk sync` (on another machine) holds the account's delivery lease.
    other = "other-host:4242:ab12cd34"
    assert await astore.call(Store.take_lease, account, other, 30) == other

    failures = await run_once(astore, [settings(local_slack)])

    assert failures == [] and local_slack.posted == []
    [status] = await astore.call(Store.sync_statuses)
    assert status.detail.startswith("standing by: other-host:4242:ab12cd34 delivers")
    assert await rows(astore, "SELECT status FROM outbox") == [("queued",)]


async def test_one_process_per_account_listens_to_slack_events(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    """Slack spreads an app's events over its Socket Mode connections: a second `frontdesk
    sync` must not take part of them. It polls until the lease is free (issue 16, gap 15)."""
    channel, alice, _bob = people(local_slack)
    account = await astore.call(Store.ensure_account, "team-slack", "slack")
    other = "other-host:4242:ab12cd34"  # another `frontdesk sync` listens
    assert await astore.call(Store.take_lease, account, other, 30) == other
    local_slack.post(channel, alice, "anyone there?", emit=False)
    sync = await connector(
        local_slack, astore, lease_check=0.05, outbox_interval=0.05, catch_up_interval=0.05
    )
    task = asyncio.create_task(sync.run_live(astore))
    try:
        await wait_for_rows(lambda: rows(astore, "SELECT id FROM messages"), 1)  # polled
        # Three catch-ups later, still no Socket Mode connection of its own.
        await local_slack.wait_until(
            lambda: len(local_slack.calls_to("conversations.history")) >= 3
        )
        assert local_slack.opened == 0

        await astore.call(Store.release_lease, account, other)  # the other one stopped
        await local_slack.wait_opened(1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_reply_slack_would_cut_is_held_whole_never_posted_in_part(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    await _conversation(local_slack, astore, replied=True)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    await _queue_reply(astore, conversation, "word " * 8_001)  # 40,004 characters once stripped

    await (await connector(local_slack, astore)).sync_once(astore)

    assert local_slack.posted == []
    [(status, outcome, error)] = await rows(
        astore, "SELECT status, outcome, last_error FROM outbox"
    )
    assert (status, outcome) == ("queued", "held")
    assert "40,004 characters" in error and "at most 40,000" in error
