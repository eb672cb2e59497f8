"""A Slack reply held because the customer deleted the question can go to them as a direct
message (issue 14: "post in the channel, send as DM, or cancel"): once, in the DM with the
customer who asked, never in the channel; an uncertain DM post is looked for in that DM.

Against the local Slack (tests/slack/server.py), which opens DMs with conversations.open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from storage.aio import AsyncStore
from storage.store import Store
from tests.slack.server import LocalSlack
from tests.test_slack_connector import (
    _queue_reply,
    connector,
    people,
    rows,
    tokens,  # noqa: F401  (autouse fixture: the tokens in the environment)
)


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    store = AsyncStore(lambda: Store(db_path))
    yield store
    await store.aclose()


async def _held(slack: LocalSlack, astore: AsyncStore, text: str) -> tuple[str, str, int, int]:
    """Alice asks in #support, deletes it; a reply is queued and held. (channel, alice,
    conversation, reply message id)"""
    channel, alice, _ = people(slack)
    root = slack.post(channel, alice, "my card 4111 was charged twice", emit=False)
    await (await connector(slack, astore)).sync_once(astore)
    conversation = (await rows(astore, "SELECT conversation_id FROM messages LIMIT 1"))[0][0]
    message_id = await _queue_reply(astore, conversation, text)
    slack.delete(channel, root, emit=False)
    await (await connector(slack, astore)).sync_once(astore)
    assert slack.posted == []
    assert await rows(astore, "SELECT outcome FROM outbox") == [("held",)]
    return channel, alice, conversation, message_id


def _dm_of(slack: LocalSlack, user: str) -> str:
    [dm] = [c.id for c in slack.workspace.channels.values() if c.im_user == user]
    return dm


async def test_a_held_reply_sent_as_dm_reaches_the_customer_alone_once(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, conversation, message_id = await _held(
        local_slack, astore, "Refunded the second charge"
    )

    assert await astore.call(Store.send_held_as_dm, message_id, "Sam") is True
    assert await astore.call(Store.send_held_as_dm, message_id, "Sam") is False  # only once
    await (await connector(local_slack, astore)).sync_once(astore)
    await (await connector(local_slack, astore)).sync_once(astore)  # nothing posted again

    dm = _dm_of(local_slack, alice)
    assert dm.startswith("D") and dm != channel
    assert [(p["channel"], p["text"], p["thread_ts"]) for p in local_slack.posted] == [
        (dm, "Refunded the second charge", None)
    ]
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sent", None)]
    mine = await rows(astore, "SELECT remote_id FROM messages WHERE id = ?", message_id)
    assert mine == [(f"{dm}:{local_slack.posted[0]['ts']}",)]
    assert await rows(astore, "SELECT count(*) FROM messages") == [(2,)]  # its echo: no copy
    events = [e.kind for e in (await astore.call(Store.detail, conversation)).events]
    assert "reply_as_dm" in events


async def test_an_uncertain_dm_post_is_looked_for_in_the_dm(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    _, alice, _, message_id = await _held(local_slack, astore, "Refund done")
    await astore.call(Store.send_held_as_dm, message_id, "Sam")
    local_slack.fail_posts_after_posting(1, error="internal_error")

    await (await connector(local_slack, astore)).sync_once(astore)
    assert await rows(astore, "SELECT outcome FROM outbox") == [("uncertain",)]
    await (await connector(local_slack, astore)).sync_once(astore)  # the probe finds it

    dm = _dm_of(local_slack, alice)
    assert [(p["channel"], p["text"]) for p in local_slack.posted] == [(dm, "Refund done")]
    assert await rows(astore, "SELECT status, outcome FROM outbox") == [("sent", None)]


async def test_without_im_write_the_dm_fails_visibly_and_nothing_is_posted(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    _, _, conversation, message_id = await _held(local_slack, astore, "Refund done")
    local_slack.scopes.discard("im:write")
    await astore.call(Store.send_held_as_dm, message_id, "Sam")

    await (await connector(local_slack, astore)).sync_once(astore)

    assert local_slack.posted == []
    [problem] = await astore.call(Store.outbox_problems)
    assert (problem.conversation_id, problem.state) == (conversation, "failed")
    assert "missing_scope" in problem.reason
