"""The local Slack behaves like Slack as far as the real slack-sdk (3.47) can tell.

Every test drives the SDK's public API (AsyncWebClient, SocketModeClient), so what passes here
is what the connector will see.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack.fixtures import APP_TOKEN, BOT_TOKEN
from tests.slack.server import LocalSlack

RECEIVE_TIMEOUT = 3.0


def web_client(slack: LocalSlack, token: str | None = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.api_url)


@asynccontextmanager
async def socket_mode(
    slack: LocalSlack,
    ack: Callable[[SocketModeRequest], bool] = lambda _: True,
    frames: list[dict[str, Any]] | None = None,
) -> AsyncIterator[tuple[SocketModeClient, asyncio.Queue[SocketModeRequest]]]:
    """A connected SocketModeClient whose requests land in a queue, acked when `ack` says so.

    `frames`, if given, collects every JSON frame the client receives (hello, disconnect, ...).
    """
    received: asyncio.Queue[SocketModeRequest] = asyncio.Queue()
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web_client(slack))

    async def on_message(_: Any, message: dict[str, Any], raw: str | None) -> None:
        if frames is not None:
            frames.append(message)

    async def on_request(c: Any, request: SocketModeRequest) -> None:
        # Queue before the first await: the SDK runs listeners as concurrent tasks, and only
        # their synchronous prefix keeps arrival order.
        received.put_nowait(request)
        if ack(request):
            await c.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    await client.connect()  # type: ignore[no-untyped-call]
    await slack.wait_connected()
    try:
        yield client, received
    finally:
        await client.close()  # type: ignore[no-untyped-call]


async def next_request(queue: asyncio.Queue[SocketModeRequest]) -> SocketModeRequest:
    return await asyncio.wait_for(queue.get(), timeout=RECEIVE_TIMEOUT)


def workspace(slack: LocalSlack) -> tuple[str, str, str]:
    """A public channel with the bot in it, and two people."""
    channel = slack.add_channel("support")
    alice = slack.add_user("alice", real_name="Alice A", email="alice@example.com")
    bob = slack.add_user("bob", real_name="Bob B", email="bob@example.com")
    return channel, alice, bob


# ---- Web API: history and threads


async def test_history_pages_newest_first_through_2100_messages(local_slack: LocalSlack) -> None:
    channel, _, _ = workspace(local_slack)
    tops = local_slack.bulk_history(channel, 2100, threads_every=100, replies=2)
    client = web_client(local_slack)

    seen: list[dict[str, Any]] = []
    has_more: list[bool] = []
    async for page in await client.conversations_history(channel=channel, limit=200):
        seen += page["messages"]
        has_more.append(page["has_more"])

    assert [m["ts"] for m in seen] == tops[::-1]  # newest first, nothing lost or repeated
    assert has_more == [True] * 10 + [False]
    # Replies stay out of history; their parents carry the thread summary instead.
    parents = [m for m in seen if "reply_count" in m]
    assert len(parents) == 21
    assert all(m["reply_count"] == 2 and m["thread_ts"] == m["ts"] for m in parents)
    assert all(m.get("thread_ts", m["ts"]) == m["ts"] for m in seen)
    cursors = [p.get("cursor") for p in local_slack.calls_to("conversations.history")]
    assert cursors[0] is None and all(cursors[1:])
    # The SDK reads history with GET and a query string.
    assert ("GET", "conversations.history", "") in local_slack.http_log


async def test_replies_only_via_conversations_replies(local_slack: LocalSlack) -> None:
    channel, alice, bob = workspace(local_slack)
    parent = local_slack.post(channel, alice, "printer on fire", emit=False)
    r1 = local_slack.post(channel, bob, "have you tried water", parent, emit=False)
    r2 = local_slack.post(channel, alice, "FYI all", parent, broadcast=True, emit=False)
    r3 = local_slack.post(channel, bob, "fixed", parent, emit=False)
    client = web_client(local_slack)

    history = (await client.conversations_history(channel=channel))["messages"]
    assert [m["ts"] for m in history] == [r2, parent]  # only the broadcast reply shows
    assert history[0]["subtype"] == "thread_broadcast"
    assert history[1]["reply_count"] == 3
    assert history[1]["latest_reply"] == r3
    assert history[1]["reply_users"] == [bob, alice]

    replies: list[str] = []
    async for page in await client.conversations_replies(channel=channel, ts=parent, limit=2):
        assert page["messages"][0]["ts"] == parent  # the parent heads every page
        replies += [m["ts"] for m in page["messages"][1:]]
    assert replies == [r1, r2, r3]

    # A reply's ts names its whole thread.
    by_reply = await client.conversations_replies(channel=channel, ts=r1)
    assert [m["ts"] for m in by_reply["messages"]] == [parent, r1, r2, r3]
    assert by_reply["messages"][1]["parent_user_id"] == alice


async def test_oldest_latest_and_inclusive(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    ts = [local_slack.post(channel, alice, f"m{i}", emit=False) for i in range(10)]
    client = web_client(local_slack)

    def tss(resp: Any) -> list[str]:
        return [m["ts"] for m in resp["messages"]]

    between = await client.conversations_history(channel=channel, oldest=ts[2], latest=ts[7])
    assert tss(between) == ts[6:2:-1]
    inclusive = await client.conversations_history(
        channel=channel, oldest=ts[2], latest=ts[7], inclusive=True
    )
    assert tss(inclusive) == ts[7:1:-1]
    assert local_slack.calls_to("conversations.history")[-1]["inclusive"] == "1"  # SDK: bool->"1"

    # Only `latest`: the page closest to latest; only `oldest`: the page closest to oldest.
    before = await client.conversations_history(channel=channel, latest=ts[7], limit=3)
    assert tss(before) == [ts[6], ts[5], ts[4]]
    assert before["has_more"] is True
    after = await client.conversations_history(channel=channel, oldest=ts[2], limit=3)
    assert tss(after) == [ts[5], ts[4], ts[3]]

    forward: list[str] = []
    async for page in await client.conversations_history(channel=channel, oldest=ts[2], limit=3):
        forward += tss(page)
    assert sorted(forward) == ts[3:]


async def test_edit_and_delete_show_in_history(local_slack: LocalSlack) -> None:
    channel, alice, bob = workspace(local_slack)
    a = local_slack.post(channel, alice, "typo", emit=False)
    b = local_slack.post(channel, bob, "gone soon", emit=False)
    parent = local_slack.post(channel, alice, "thread", emit=False)
    reply = local_slack.post(channel, bob, "reply", parent, emit=False)
    local_slack.edit(channel, a, "fixed", emit=False)
    local_slack.delete(channel, b, emit=False)
    local_slack.delete(channel, parent, emit=False)
    client = web_client(local_slack)

    history = {
        m["ts"]: m for m in (await client.conversations_history(channel=channel))["messages"]
    }
    assert set(history) == {a, parent}
    assert history[a]["text"] == "fixed"
    assert "ts" in history[a]["edited"]
    # A deleted parent with replies stays as a tombstone so its thread remains reachable.
    assert history[parent]["subtype"] == "tombstone"
    thread = await client.conversations_replies(channel=channel, ts=parent)
    assert [m["ts"] for m in thread["messages"]] == [parent, reply]


# ---- Web API: directory


async def test_users_info_email_needs_scope(local_slack: LocalSlack) -> None:
    _, alice, _ = workspace(local_slack)
    client = web_client(local_slack)

    with_scope = await client.users_info(user=alice)
    assert with_scope["user"]["profile"]["email"] == "alice@example.com"
    assert with_scope["user"]["real_name"] == "Alice A"

    local_slack.scopes.discard("users:read.email")
    without = await client.users_info(user=alice)
    assert "email" not in without["user"]["profile"]
    assert "users:read.email" not in without.headers["X-OAuth-Scopes"]

    with pytest.raises(SlackApiError) as missing:
        await client.users_info(user="UNOBODY")
    assert missing.value.response["error"] == "user_not_found"


async def test_lists_page_with_cursors(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    for i in range(5):
        local_slack.add_channel(f"public-{i}")
    secret = local_slack.add_channel("secret", kind="private")
    hidden = local_slack.add_channel("hidden", kind="private", bot_member=False)
    outside = local_slack.add_channel("outside", bot_member=False)
    dm = local_slack.add_im(alice)
    client = web_client(local_slack)

    ids: list[str] = []
    async for page in await client.conversations_list(
        types="public_channel,private_channel,im", limit=2
    ):
        ids += [c["id"] for c in page["channels"]]
    assert len(ids) == len(set(ids))
    assert {channel, secret, outside, dm} <= set(ids)
    assert hidden not in ids  # private channels the bot is not in do not exist for it

    info = await client.conversations_info(channel=secret)
    assert info["channel"]["is_private"] is True
    with pytest.raises(SlackApiError) as not_in:
        await client.conversations_history(channel=outside)
    assert not_in.value.response["error"] == "not_in_channel"

    members: list[str] = []
    async for page in await client.users_list(limit=2):
        members += [m["id"] for m in page["members"]]
    assert {alice, local_slack.bot_user_id, "USLACKBOT"} <= set(members)


# ---- Web API: auth, errors, rate limits


async def test_auth_errors(local_slack: LocalSlack) -> None:
    channel, _, _ = workspace(local_slack)

    async def error_of(call: Any) -> str:
        with pytest.raises(SlackApiError) as exc:
            await call
        return str(exc.value.response["error"])

    assert (await web_client(local_slack).auth_test())["user_id"] == local_slack.bot_user_id
    assert await error_of(web_client(local_slack, "xoxb-wrong").auth_test()) == "invalid_auth"
    assert await error_of(web_client(local_slack, None).auth_test()) == "not_authed"
    app_client = web_client(local_slack, APP_TOKEN)
    history = app_client.conversations_history(channel=channel)
    assert await error_of(history) == "not_allowed_token_type"
    bot_open = web_client(local_slack).apps_connections_open(app_token=BOT_TOKEN)
    assert await error_of(bot_open) == "not_allowed_token_type"
    assert await error_of(web_client(local_slack).api_call("nope.nothing")) == "unknown_method"
    local_slack.scopes.discard("channels:history")
    assert await error_of(web_client(local_slack).conversations_history(channel=channel)) == (
        "missing_scope"
    )


async def test_all_request_encodings_are_accepted(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    local_slack.post(channel, alice, "one", emit=False)
    newest = local_slack.post(channel, alice, "two", emit=False)
    client = web_client(local_slack)
    args = {"channel": channel, "limit": 1}

    by_get = await client.api_call("conversations.history", http_verb="GET", params=args)
    by_form = await client.api_call("conversations.history", data=args)
    by_json = await client.api_call("conversations.history", json=args)

    for resp in (by_get, by_form, by_json):
        assert [m["ts"] for m in resp["messages"]] == [newest]
    assert [entry[0] for entry in local_slack.http_log] == ["GET", "POST", "POST"]
    assert local_slack.http_log[1][2] == "application/x-www-form-urlencoded"
    assert local_slack.http_log[2][2] == "application/json"


async def test_429_retry_after_with_rate_limit_handler(local_slack: LocalSlack) -> None:
    # retry_after=0: the SDK sleeps int(Retry-After) + random() < 1 s per retry.
    local_slack.rate_limit_every(2, retry_after=0)
    client = web_client(local_slack)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))

    await client.auth_test()  # call 1
    await client.auth_test()  # call 2 is refused with 429, call 3 (the retry) succeeds
    assert len(local_slack.calls_to("auth.test")) == 3

    # Without the handler (the SDK default) the 429 surfaces as an error carrying the header.
    with pytest.raises(SlackApiError) as exc:
        await web_client(local_slack).auth_test()  # call 4
    assert exc.value.response.status_code == 429
    assert exc.value.response["error"] == "ratelimited"
    assert exc.value.response.headers["Retry-After"] == "0"

    # A per-method rule overrides the global one, for that method only.
    local_slack.rate_limit_every(0)
    local_slack.rate_limit_every(1, retry_after=0, method="users.list")
    await client.auth_test()
    with pytest.raises(SlackApiError):
        await client.users_list()  # refused twice: first try and the one retry
    assert len(local_slack.calls_to("users.list")) == 2


# ---- chat.postMessage and Socket Mode


async def test_post_in_thread_appears_in_replies_and_echoes_with_bot_id(
    local_slack: LocalSlack,
) -> None:
    channel, alice, _ = workspace(local_slack)
    client = web_client(local_slack)
    async with socket_mode(local_slack) as (_, received):
        parent = local_slack.post(channel, alice, "can someone help?")
        question = await next_request(received)
        assert question.payload["event"]["ts"] == parent
        assert "bot_id" not in question.payload["event"]

        resp = await client.chat_postMessage(channel=channel, text="on it", thread_ts=parent)
        echo = (await next_request(received)).payload["event"]

    assert resp["message"]["bot_id"] == local_slack.bot_id
    assert resp["message"]["thread_ts"] == parent
    assert echo["bot_id"] == local_slack.bot_id
    assert echo["user"] == local_slack.bot_user_id
    assert (echo["ts"], echo["thread_ts"]) == (resp["ts"], parent)
    assert local_slack.posted == [
        {"channel": channel, "text": "on it", "thread_ts": parent, "ts": resp["ts"]}
    ]
    # chat.postMessage goes out as a JSON body.
    assert ("POST", "chat.postMessage", "application/json") in local_slack.http_log
    thread = await client.conversations_replies(channel=channel, ts=parent)
    assert [m["ts"] for m in thread["messages"]] == [parent, resp["ts"]]
    assert thread["messages"][1]["bot_id"] == local_slack.bot_id


async def test_socket_mode_envelope_is_received_and_acked(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    frames: list[dict[str, Any]] = []
    async with socket_mode(local_slack, frames=frames) as (_, received):
        ts = local_slack.post(channel, alice, "hello there")
        request = await next_request(received)
        await local_slack.wait_until(lambda: request.envelope_id in local_slack.acked)

    assert request.type == "events_api"
    assert (request.retry_attempt, request.retry_reason) == (0, "")
    payload = request.payload
    assert payload["type"] == "event_callback"
    assert payload["event_id"].startswith("Ev")
    assert payload["event_time"] == int(float(ts))
    event = payload["event"]
    assert event["type"] == "message"
    assert (event["channel"], event["user"], event["text"], event["ts"]) == (
        channel,
        alice,
        "hello there",
        ts,
    )
    assert event["channel_type"] == "channel"
    assert frames[0]["type"] == "hello"  # always the first frame on a connection
    assert frames[1]["envelope_id"] == request.envelope_id
    assert local_slack.calls_to("apps.connections.open") == [{}]  # token went in the header


async def test_unacked_envelope_is_redelivered_with_retry_attempt() -> None:
    async with LocalSlack(ack_timeout=0.2) as slack:
        channel, alice, _ = workspace(slack)
        # Ack only retries, so the first delivery times out.
        async with socket_mode(slack, ack=lambda r: bool(r.retry_attempt)) as (_, received):
            slack.post(channel, alice, "anyone?")
            first = await next_request(received)
            retry = await next_request(received)
            await slack.wait_until(lambda: retry.envelope_id in slack.acked)

            assert (first.retry_attempt, retry.retry_attempt) == (0, 1)
            assert retry.retry_reason == "timeout"
            assert retry.payload["event_id"] == first.payload["event_id"]  # dedupe on this
            assert retry.envelope_id != first.envelope_id
            assert first.envelope_id not in slack.acked

            # redeliver_all() repeats envelopes verbatim: a duplicate, same envelope_id.
            assert await slack.redeliver_all(unacked_only=True) == 1
            duplicate = await next_request(received)
            assert duplicate.envelope_id == first.envelope_id


async def test_never_acked_event_is_given_up_after_max_retries() -> None:
    async with LocalSlack(ack_timeout=0.1, max_retries=2) as slack:
        channel, alice, _ = workspace(slack)
        async with socket_mode(slack, ack=lambda _: False) as (_, received):
            slack.post(channel, alice, "nobody acks me")
            attempts = [(await next_request(received)).retry_attempt for _ in range(3)]
            await slack.wait_until(lambda: len(slack.dropped) == 1)
        assert attempts == [0, 1, 2]
        assert len(slack.envelopes) == 3


async def test_out_of_order_delivery(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    ts = [local_slack.post(channel, alice, f"m{i}", emit=False) for i in range(3)]
    async with socket_mode(local_slack) as (_, received):
        events = [local_slack.event_for(channel, t) for t in ts]
        sent = await local_slack.send_out_of_order(events, order=[2, 0, 1])
        got = [await next_request(received) for _ in ts]
        await local_slack.wait_until(lambda: set(sent) <= local_slack.acked)

    assert [r.payload["event"]["ts"] for r in got] == [ts[2], ts[0], ts[1]]
    assert [r.envelope_id for r in got] == sent


async def test_disconnect_makes_the_sdk_reconnect(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    frames: list[dict[str, Any]] = []
    async with socket_mode(local_slack, frames=frames) as (_, received):
        assert local_slack.opened == 1
        assert await local_slack.disconnect_all("refresh_requested") == 1
        await local_slack.wait_opened(2)
        await local_slack.wait_until(lambda: local_slack.connected == 1)

        ts = local_slack.post(channel, alice, "still there?")
        request = await next_request(received)
        assert request.payload["event"]["ts"] == ts
        await local_slack.wait_until(lambda: request.envelope_id in local_slack.acked)
    # The SDK consumes `disconnect` itself (it reconnects and returns before the listeners run).
    assert [f["type"] for f in frames] == ["hello", "hello", "events_api"]
    # Each connection used a fresh single-use URL.
    assert len(local_slack.calls_to("apps.connections.open")) == 2


async def test_events_while_disconnected(local_slack: LocalSlack) -> None:
    # Default: set-up posts made before any client connects raise no events.
    channel, alice, _ = workspace(local_slack)
    local_slack.post(channel, alice, "set-up")
    async with socket_mode(local_slack) as (_, received):
        ts = local_slack.post(channel, alice, "live")
        assert (await next_request(received)).payload["event"]["ts"] == ts
    assert [p["event"]["text"] for p in local_slack.dropped] == ["set-up"]

    # "retry": like Slack after a short outage, the missed event comes as a retry.
    async with LocalSlack(events_while_disconnected="retry") as slack:
        channel, alice, _ = workspace(slack)
        missed = slack.post(channel, alice, "sent while the app was down")
        async with socket_mode(slack) as (_, received):
            request = await next_request(received)
        assert request.payload["event"]["ts"] == missed
        assert request.retry_attempt == 1


async def test_edit_and_delete_events(local_slack: LocalSlack) -> None:
    channel, alice, _ = workspace(local_slack)
    async with socket_mode(local_slack) as (_, received):
        ts = local_slack.post(channel, alice, "teh printer")
        await next_request(received)
        local_slack.edit(channel, ts, "the printer")
        changed = (await next_request(received)).payload["event"]
        local_slack.delete(channel, ts)
        deleted = (await next_request(received)).payload["event"]

    assert changed["subtype"] == "message_changed"
    assert changed["message"]["ts"] == ts
    assert changed["message"]["text"] == "the printer"
    assert changed["previous_message"]["text"] == "teh printer"
    assert deleted["subtype"] == "message_deleted"
    assert deleted["deleted_ts"] == ts
