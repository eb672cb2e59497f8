"""Slack as Slack documents it (issue 16): real payloads, subtypes, threads, catch-up.

The payloads in tests/data/slack are bolt-python's recorded events (see the README there); the
expected text, author and thread of each were written by hand from the JSON. Connector tests
run against the local Slack through the real slack-sdk, like tests/test_slack_connector.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from connectors.slack.api import SlackApi
from connectors.slack.files import FileUnavailable, download
from connectors.slack.live import EventInbox
from connectors.slack.mapping import ChannelInfo, Mapper, Me, SlackUser
from connectors.slack.ratelimit import RateLimiter, rates_for
from connectors.slack.text import ReplyTooLong, split_reply
from storage.aio import AsyncStore
from storage.store import Store
from tests.slack.fixtures import APP_TOKEN, BOT_TOKEN
from tests.slack.server import SLACKBOT_ID, LocalSlack
from tests.test_slack_connector import (
    astore,
    connector,
    live,
    messages,
    people,
    rows,
    tokens,
    wait_for_rows,
)

__all__ = ["astore", "tokens"]  # fixtures shared with the connector tests

T0 = 1_700_000_000.0  # the local Slack's first ts
DAY = 86400
DATA = Path(__file__).parent / "data" / "slack"
ME = Me("UFRONTDESK", "BFRONTDESK")


def event(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / name).read_text())
    return dict(payload["event"])


def mapper(accept_bots: tuple[str, ...] = (), **users: str) -> Mapper:
    known = {uid: SlackUser(uid, name) for uid, name in users.items()}
    return Mapper(1, ME, 3600.0, known, {"C111": ChannelInfo("C111", "general")}, accept_bots)


C111 = ChannelInfo("C111", "general")


# ---- (a) who is a customer: an allow-list of subtypes, bots only when accepted --------------


def test_real_payloads_of_bots_are_not_customers_unless_accepted() -> None:
    plain = mapper(W111="Wanda")
    human = plain.inbound(C111, event("bolt_user_message.json"))
    assert human is not None
    assert (human.text, human.author.address, human.customer.address) == (
        "Hi there! Thanks for sharing the info!",
        "W111",
        "W111",
    )
    # Another app's bot (bot_id B999 with a bot user) and a legacy integration (bot_message).
    assert plain.inbound(C111, event("bolt_other_app_bot.json")) is None
    assert plain.inbound(C111, event("bolt_classic_bot_message.json")) is None

    accepting = mapper(("B888",))
    legacy = accepting.inbound(C111, event("bolt_classic_bot_message.json"))
    assert legacy is not None
    assert (legacy.author.address, legacy.author.display_name) == ("B888", "classic-bot")
    assert accepting.inbound(C111, event("bolt_other_app_bot.json")) is None  # B999 not listed


SYSTEM_SUBTYPES = (
    "huddle_thread",
    "channel_posting_permissions",
    "ekm_access_denied",
    "channel_convert_to_private",
    "channel_convert_to_public",
    "joiner_notification",
    "bot_enable",
    "bot_disable",
    "channel_canvas_updated",
    "assistant_app_thread",
    "slackbot_response",
)


async def test_bots_and_system_traffic_never_become_conversations(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    alerts = local_slack.add_user("alerts", real_name="Alerts App", is_bot=True)
    forms = local_slack.add_user("forms", real_name="Intake Form", is_bot=True)
    forms_bot = local_slack.workspace.users[forms].bot_id
    local_slack.post(channel, alice, "my invoice is wrong", emit=False)
    local_slack.post(channel, alerts, "CPU at 99%", emit=False)
    local_slack.post(channel, forms, "New request from Carol: refund", emit=False)
    legacy = {"subtype": "bot_message", "user": None, "bot_id": "B0LEGACY", "username": "cron"}
    local_slack.post(channel, alice, "nightly job failed", emit=False, extra=legacy)
    for subtype in SYSTEM_SUBTYPES:
        local_slack.post(
            channel, alice, f"system: {subtype}", emit=False, extra={"subtype": subtype}
        )
    local_slack.post(channel, SLACKBOT_ID, "Reminder: stand-up", emit=False)

    sync = await connector(local_slack, astore, account={"accept_bots": [forms_bot]})
    await sync.sync_once(astore)

    texts = sorted(r[3] for r in await messages(astore))
    assert texts == ["New request from Carol: refund", "my invoice is wrong"]
    conversations = await rows(astore, "SELECT count(*) FROM conversations")
    assert conversations == [(2,)]


def test_real_users_and_conversations_from_slack_sdk_s_fixtures() -> None:
    """slack-sdk's recorded users (rtm.start) and conversations.list answer through the
    mapping: names, emails, Slackbot never a person, a DM's other end."""
    data = json.loads((DATA / "sdk_rtm_start_users_ims.json").read_text())
    users = {u["id"]: SlackUser.from_json(u) for u in data["users"]}
    fake, no_email, slackbot = users["U10CX1234"], users["U10CX1235"], users["USLACKBOT"]
    assert (fake.name, fake.email, fake.is_bot) == ("fakeuser", "fakeuser@example.com", False)
    assert (no_email.name, no_email.email) == ("userwithoutemail", None)
    assert (slackbot.name, slackbot.is_bot) == ("Slack Bot", True)  # is_bot false in the JSON
    [im] = [ChannelInfo.from_json(c) for c in data["ims"]]
    assert (im.id, im.is_im, im.im_user) == ("D03CX4S3E", True, "USLACKBOT")
    # Slackbot's onboarding question in that DM is nobody's support conversation.
    m = Mapper(1, ME, 3600.0, users, {im.id: im})
    assert m.inbound(im, data["ims"][0]["latest"]) is None

    listed = json.loads((DATA / "sdk_conversations_list.json").read_text())["channels"]
    channels = [ChannelInfo.from_json(c) for c in listed]
    assert [(c.id, c.name, c.is_member, c.is_im) for c in channels] == [
        ("C111", "general", True, False),
        ("C222", "random", True, False),
    ]


# ---- (b) text: attachments, blocks, forwarded messages, files, /me -------------------------


def test_real_file_share_thread_broadcast_and_edit_payloads() -> None:
    m = mapper(U111="Uma")
    shared = m.inbound(C111, event("bolt_file_share.json"))
    assert shared is not None and shared.text == "Hi there!"
    assert [(a.filename, a.content_type, a.size, a.remote_ref) for a in shared.attachments] == [
        ("file.png", "image/png", 92582, "F111")
    ]
    broadcast = m.inbound(C111, event("bolt_thread_broadcast.json"))
    assert broadcast is not None
    assert broadcast.text == "Hi there!"
    assert broadcast.parent_refs == ("C111:1633663824.000500",)  # joins its thread
    assert broadcast.customer.address == "U111"


def test_a_forwarded_message_shows_who_wrote_it_and_where() -> None:
    m = mapper(U222="Dan Sharer", U333="Carol Customer")
    record = m.inbound(C111, event("handmade_forwarded_message.json"))
    assert record is not None
    assert record.author.address == "U222"  # who forwarded it
    assert record.text == (
        "Forwarded message from Carol Customer in #billing:\n"
        "> I was charged twice & nobody answers @Carol Customer"
    )


def test_an_alert_made_only_of_an_attachment_keeps_its_text_when_accepted() -> None:
    record = mapper(("B777",)).inbound(C111, event("handmade_alert_attachment.json"))
    assert record is not None
    assert record.author.display_name == "StatusPage"
    assert record.text == (
        "Incident opened\n"
        "Checkout is down (https://status.example.com/incidents/42)\n"
        "Customers see *500* errors\n"
        "Severity: High\n"
        "Region: eu-west-1"
    )


def test_a_post_with_only_blocks_is_read_from_its_blocks() -> None:
    record = mapper(U222="Dan", U333="Carol").inbound(C111, event("handmade_blocks_only.json"))
    assert record is not None
    assert (
        record.text
        == "Hello @Carol, see the FAQ (https://example.com/faq) 👍\n> quoted line\n• one\n• two"
    )


def test_text_fixes_subteam_me_and_gone_files() -> None:
    m = mapper(U1="Alice")
    base = {"type": "message", "user": "U1", "ts": "1712000000.000100"}
    group = m.inbound(C111, {**base, "text": "ping <!subteam^S0614TZR7>"})
    assert group is not None and group.text == "ping @S0614TZR7"
    me = m.inbound(C111, {**base, "subtype": "me_message", "text": "is on holiday :sunny:"})
    assert me is not None and me.text == "Alice is on holiday ☀️"
    files = [
        {"id": "F1", "name": "invoice.pdf", "mimetype": "application/pdf", "size": 10},
        {"id": "F2", "mode": "tombstone"},  # deleted after sharing
        {"id": "F3", "mode": "hidden_by_limit"},  # hidden by the plan
    ]
    shared = m.inbound(C111, {**base, "subtype": "file_share", "text": "", "files": files})
    assert shared is not None
    assert [a.remote_ref for a in shared.attachments] == ["F1"]


def test_emoji_codes_past_the_hand_table_and_custom_ones() -> None:
    """~5,300 codes (the emoji package's names and aliases), not ~200; Slack's own name wins
    where it differs; a workspace's custom emoji stays as typed (issue 16, gap 14)."""
    m = mapper(U1="Alice")
    base = {"type": "message", "user": "U1", "ts": "1712000000.000100"}
    text = ":avocado: :hedgehog::skin-tone-3: :phone: :partyparrot: :sloth:"
    record = m.inbound(C111, {**base, "text": text})
    assert record is not None
    assert record.text == "\U0001f951 \U0001f994\U0001f3fc \u260e\ufe0f :partyparrot: \U0001f9a5"


async def test_forwarded_and_attachment_only_posts_are_stored_with_their_text(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    forward = event("handmade_forwarded_message.json")["attachments"]
    forward[0]["author_id"] = bob
    local_slack.post(channel, alice, "", emit=False, extra={"attachments": forward})

    await (await connector(local_slack, astore)).sync_once(astore)

    texts = [r[3] for r in await messages(astore)]
    assert texts == [
        "Forwarded message from Bob Builder in #billing:\n"
        "> I was charged twice & nobody answers @U333"  # not in this workspace
    ]


# ---- (c) one failing thread costs that thread; threads keep their customer -----------------


async def customer_of(astore: AsyncStore, remote_id: str) -> list[tuple[Any, ...]]:
    return await rows(
        astore,
        "SELECT i.address FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " JOIN identities i ON i.contact_id = c.contact_id AND i.kind = 'slack'"
        " WHERE m.remote_id = ?",
        remote_id,
    )


async def test_a_thread_that_cannot_be_fetched_costs_only_that_thread(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    billing = local_slack.add_channel("billing")
    local_slack.post(channel, alice, "hello", ts=f"{T0 + 100:.6f}", emit=False)
    async with live(local_slack, astore):
        await wait_for_rows(lambda: messages(astore), 1)  # caught up past "hello"
        # A thread older than the checkpoint: only its live reply tells us about it.
        parent = local_slack.post(
            channel, alice, "where is my parcel?", ts=f"{T0 + 50:.6f}", emit=False
        )
        reply = local_slack.post(channel, bob, "same here", parent, emit=False)
        other = local_slack.post(billing, bob, "refund please", emit=False)
        local_slack.workspace.failing_threads[parent] = "internal_error"
        events = [local_slack.event_for(channel, reply), local_slack.event_for(billing, other)]
        await local_slack.send_out_of_order(events, order=[0, 1])  # one batch, two channels

        first = await wait_for_rows(lambda: messages(astore), 2)
        assert sorted(r[3] for r in first) == ["hello", "refund please"]  # billing not lost

    del local_slack.workspace.failing_threads[parent]
    await (await connector(local_slack, astore)).sync_once(astore)  # the next catch-up

    stored = {r[0]: r for r in await messages(astore)}
    assert stored[f"{channel}:{reply}"][1] == stored[f"{channel}:{parent}"][1]
    assert stored[f"{channel}:{reply}"][4] == f"refers to {channel}:{parent}"


async def test_replies_under_our_own_post_are_the_first_replier_s_conversation(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    bot = local_slack.bot_user_id
    notice = local_slack.post(channel, bot, "Maintenance tonight 22:00", emit=False)
    local_slack.post(channel, alice, "will the API be down?", notice, emit=False)
    local_slack.post(channel, bob, "and the dashboard?", notice, emit=False)
    local_slack.post(channel, bot, "both, for ten minutes", notice, emit=False)

    await (await connector(local_slack, astore)).sync_once(astore)

    stored = await messages(astore)
    assert len(stored) == 4 and len({r[1] for r in stored}) == 1  # one conversation
    assert await customer_of(astore, f"{channel}:{notice}") == [(alice,)]


async def test_a_thread_whose_root_was_already_deleted_belongs_to_who_replied(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    root = local_slack.post(channel, alice, "oops, wrong channel", emit=False)
    first = local_slack.post(channel, bob, "my card was charged twice", root, emit=False)
    local_slack.post(channel, bob, "order 1234", root, emit=False)
    local_slack.delete(channel, root, emit=False)  # a tombstone "owned" by Slackbot

    await (await connector(local_slack, astore)).sync_once(astore)

    stored = await messages(astore)
    assert len(stored) == 3 and len({r[1] for r in stored}) == 1
    assert await customer_of(astore, f"{channel}:{first}") == [(bob,)]  # not Slackbot


async def test_a_shared_file_is_listed_and_downloaded_with_the_bot_token(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    content = b"%PDF-1.4 invoice 42\n" * 100
    shared = local_slack.add_file("invoice 42.pdf", "application/pdf", content)
    extra = {"subtype": "file_share", "files": [shared]}
    local_slack.post(channel, alice, "my invoice", emit=False, extra=extra)
    sync = await connector(local_slack, astore)
    await sync.sync_once(astore)
    [(ref, name, size)] = await rows(astore, "SELECT remote_ref, filename, size FROM attachments")
    assert (name, size) == ("invoice 42.pdf", 2000)

    got = await sync.download_file(ref)

    assert (got.name, got.mimetype, got.content) == ("invoice 42.pdf", "application/pdf", content)
    async with SlackApi.open(local_slack.api_url, BOT_TOKEN, RateLimiter({}), 0) as api:
        assert api.session is not None  # a token Slack refuses: its sign-in page, refused
        with pytest.raises(FileUnavailable, match="HTTP 200, text/html"):
            await download(api, api.session, local_slack.api_url, "xoxb-not-ours", ref)
    with pytest.raises(FileUnavailable, match="file_not_found"):
        await sync.download_file("F99999999")
    local_slack.scopes.discard("files:read")
    with pytest.raises(FileUnavailable, match="lacks files:read"):
        await sync.download_file(ref)


@pytest.mark.parametrize(
    "url",
    [
        "http://attacker.invalid/steal",
        "https://files.slack.com.attacker.invalid/steal",
        "https://evil-files.slack.com/steal",
        "http://files.slack.com/F1/a.txt",  # not over TLS
    ],
)
async def test_the_bot_token_goes_only_to_slack_s_file_host(
    local_slack: LocalSlack, url: str
) -> None:
    """files.info naming another host (a forged or odd answer) gets no token."""
    shared = local_slack.add_file("a.txt", "text/plain", b"x")
    shared["url_private_download"] = url
    async with SlackApi.open(local_slack.api_url, BOT_TOKEN, RateLimiter({}), 0) as api:
        assert api.session is not None
        with pytest.raises(FileUnavailable, match="no download address"):
            await download(api, api.session, local_slack.api_url, BOT_TOKEN, shared["id"])


# ---- (d) catch-up that cannot miss: open threads read again, edits and deletions applied ----

MONTH = 30 * 86400


async def test_a_reply_to_an_old_open_thread_is_found_without_any_live_event(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    root = local_slack.post(channel, alice, "export keeps failing", emit=False)
    local_slack.post(channel, bob, "which format?", root, emit=False)
    # A month later by the connector's clock: far outside any fixed lookback window.
    sync = await connector(
        local_slack,
        astore,
        clock=lambda: T0 + MONTH,
        account={"backfill_days": 60},
        rescan_interval=0,  # the clock stands still: rescan on every catch-up
    )
    await sync.sync_once(astore)
    late = local_slack.post(channel, alice, "CSV, since Monday", root, emit=False)

    await sync.sync_once(astore)  # poll / --once mode: no event ever told us

    stored = {r[0]: r for r in await messages(astore)}
    assert stored[f"{channel}:{late}"][1] == stored[f"{channel}:{root}"][1]


async def test_a_reply_to_a_closed_thread_weeks_old_is_found_by_the_rescan(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    """Closed conversations are not read again, and the thread is past the 7-day scan: the
    rescan's longer scan (back to backfill_days) finds it from history's latest_reply."""
    channel, alice, bob = people(local_slack)
    root = local_slack.post(channel, alice, "refund for order 7?", emit=False)
    local_slack.post(channel, bob, "done, refunded", root, emit=False)
    now = [T0 + DAY]
    sync = await connector(local_slack, astore, clock=lambda: now[0], rescan_interval=900)
    await sync.sync_once(astore)
    [(conversation,)] = await rows(astore, "SELECT DISTINCT conversation_id FROM messages")
    await astore.call(Store.close_conversation, conversation, "Sam")
    late = local_slack.post(channel, alice, "it never arrived", root, emit=False)
    now[0] = T0 + 20 * DAY  # three weeks on; no live event (an outage, --once from cron)

    await sync.sync_once(astore)

    stored = {r[0]: r for r in await messages(astore)}
    assert stored[f"{channel}:{late}"][1] == conversation


async def test_edits_and_deletions_missed_live_are_applied_by_the_rescan(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    root = local_slack.post(channel, alice, "card 4111 1111 1111 1111 declined", emit=False)
    typo = local_slack.post(channel, bob, "wich card?", root, emit=False)
    regret = local_slack.post(channel, alice, "my CVV is 123", root, emit=False)
    lonely = local_slack.post(channel, bob, "also: login broken", emit=False)
    now = [T0 + DAY]  # recent: open
    sync = await connector(local_slack, astore, clock=lambda: now[0])
    await sync.sync_once(astore)

    local_slack.edit(channel, root, "card ending 1111 declined", emit=False)
    local_slack.edit(channel, typo, "which card?", emit=False)
    local_slack.delete(channel, regret, emit=False)
    local_slack.delete(channel, lonely, emit=False)  # no replies: gone from Slack entirely
    await sync.sync_once(astore)  # within the rescan interval: nothing read again yet
    assert [r[3] for r in await messages(astore) if r[0] == f"{channel}:{typo}"] == ["wich card?"]
    now[0] += 900  # the interval has passed (a later `--once` run, say)
    await sync.sync_once(astore)

    stored = {r[0]: r for r in await messages(astore)}
    key = f"{channel}:{{}}".format
    assert stored[key(root)][3] == "card ending 1111 declined"
    assert stored[key(typo)][3] == "which card?"
    assert stored[key(regret)][5] == 1 and stored[key(lonely)][5] == 1
    assert stored[key(root)][5] == 0 and stored[key(typo)][5] == 0


async def test_an_older_edit_never_overwrites_a_newer_one(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    ts = local_slack.post(channel, alice, "first draft", emit=False)
    ws = local_slack.workspace
    ch = ws.channel(channel)
    stale = ws.changed_event(ch, *ws.edit(channel, ts, "second draft"))
    ws.edit(channel, ts, "final text")
    sync = await connector(local_slack, astore)
    await sync.sync_once(astore)

    async with sync.session(astore) as run:
        await run.apply_events([stale])  # a redelivered, older message_changed

    assert [r[3] for r in await messages(astore)] == ["final text"]


# ---- (e) a newly visible channel: its past is imported closed, the recent part open ---------


async def test_a_new_channel_s_old_history_is_imported_closed(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    old = local_slack.post(channel, alice, "last year's question", ts=f"{T0:.6f}", emit=False)
    revived = local_slack.post(channel, bob, "old thread", ts=f"{T0 + DAY:.6f}", emit=False)
    local_slack.post(channel, alice, "still broken", revived, ts=f"{T0 + 55 * DAY:.6f}", emit=False)
    recent = local_slack.post(channel, alice, "new question", ts=f"{T0 + 50 * DAY:.6f}", emit=False)
    sync = await connector(local_slack, astore, clock=lambda: T0 + 60 * DAY)  # 30 days kept open

    await sync.sync_once(astore)

    def status(ts: str) -> Any:
        return rows(
            astore,
            "SELECT c.status FROM conversations c JOIN messages m ON m.conversation_id = c.id"
            " WHERE m.remote_id = ?",
            f"{channel}:{ts}",
        )

    assert len(await messages(astore)) == 4  # nothing dropped
    assert await status(old) == [("closed",)]
    assert await status(recent) == [("open",)]
    assert await status(revived) == [("open",)]  # its last reply is recent

    later = local_slack.post(channel, bob, "hello again", ts=f"{T0 + 59 * DAY:.6f}", emit=False)
    await sync.sync_once(astore)  # not a new channel any more: nothing else is closed
    assert await status(later) == [("open",)]
    assert await status(recent) == [("open",)]


async def test_a_broadcast_reply_under_a_post_we_skipped_brings_its_thread(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    alerts = local_slack.add_user("alerts", real_name="Alerts App", is_bot=True)
    alert = local_slack.post(channel, alerts, "Disk full on db-1", emit=False)
    # A month later: the alert is outside the lookback scan for new replies, and nobody's
    # conversation, so no rescan reads its thread; only the broadcast reply shows it.
    sync = await connector(
        local_slack, astore, clock=lambda: T0 + MONTH, account={"backfill_days": 60}
    )
    await sync.sync_once(astore)
    assert await messages(astore) == []  # a bot's post is nobody's conversation
    ask = local_slack.post(
        channel, alice, "is checkout affected?", alert, broadcast=True, emit=False
    )

    await sync.sync_once(astore)

    stored = {r[0]: r for r in await messages(astore)}
    assert set(stored) == {f"{channel}:{alert}", f"{channel}:{ask}"}
    assert stored[f"{channel}:{ask}"][1] == stored[f"{channel}:{alert}"][1]
    assert await customer_of(astore, f"{channel}:{ask}") == [(alice,)]


# ---- (f) limits: distribution tiers, membership from users.conversations, app_rate_limited -


def test_a_distributed_app_is_paced_as_slack_s_2025_limits_say() -> None:
    internal = rates_for("internal")
    distributed = rates_for("distributed")
    assert distributed["conversations.history"] == 1  # one request a minute
    assert distributed["conversations.replies"] == 1
    assert internal["conversations.history"] == 50  # Tier 3
    assert rates_for("marketplace") == internal


async def test_a_distributed_app_reads_15_messages_a_page(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    local_slack.bulk_history(channel, 40, users=[alice])
    sync = await connector(local_slack, astore, account={"distribution": "distributed"})
    assert sync.pacing()[1] == 1  # no burst either

    await sync.sync_once(astore)

    assert len(await messages(astore)) == 40
    limits = {p["limit"] for p in local_slack.calls_to("conversations.history")}
    assert limits == {"15"}
    assert len(local_slack.calls_to("conversations.history")) == 3


async def test_membership_comes_from_users_conversations_not_every_public_channel(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, _bob = people(local_slack)
    for n in range(30):
        local_slack.add_channel(f"random-{n}", bot_member=False)
    local_slack.post(channel, alice, "hi", emit=False)

    await (await connector(local_slack, astore)).sync_once(astore)

    assert len(await messages(astore)) == 1
    assert local_slack.calls_to("conversations.list") == []
    assert len(local_slack.calls_to("users.conversations")) == 1


async def test_app_rate_limited_asks_the_live_loop_to_catch_up(
    local_slack: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Events Slack dropped are only in history: the notice must trigger a catch-up, which the
    live loop runs whenever `inbox.connected` is set (as after a reconnection)."""
    inbox = EventInbox()
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=AsyncWebClient(token=BOT_TOKEN, base_url=local_slack.api_url),
    )
    inbox.attach(client)
    await client.connect()  # type: ignore[no-untyped-call]
    try:
        await local_slack.wait_until(lambda: inbox.connections >= 1)
        inbox.connected.clear()  # the catch-up after hello has run

        await local_slack.app_rate_limited()

        await asyncio.wait_for(inbox.connected.wait(), timeout=5)
        assert inbox.rate_limited == 1
        assert local_slack.acked  # the envelope was acknowledged like any other
        [logged] = [r.getMessage() for r in caplog.records if "rate limited" in r.getMessage()]
        found = re.fullmatch(
            r"slack: events rate limited \(minute (\d+)\); catching up from history", logged
        )
        assert found and int(found[1]) % 60 == 0 and abs(int(found[1]) - time.time()) < 180

        # The notice as a bare frame (no envelope) asks for a catch-up too.
        inbox.connected.clear()
        await local_slack.hub._send_frame({"type": "app_rate_limited", "minute_rate_limited": 60})
        await asyncio.wait_for(inbox.connected.wait(), timeout=5)
        assert inbox.rate_limited == 2
    finally:
        await client.close()  # type: ignore[no-untyped-call]


# ---- (g) long replies: split at paragraphs under 4,000, refused past 40,000 ----------------


def test_a_long_reply_is_split_between_paragraphs_and_nothing_is_lost() -> None:
    paragraphs = [f"Step {n}: " + "x" * 1490 for n in range(1, 7)]  # 1,498 characters each
    parts = split_reply("\n\n".join(paragraphs))
    # Two paragraphs make 2,998 characters; a third would be 4,498: three posts of two.
    assert parts == [
        "\n\n".join(paragraphs[0:2]),
        "\n\n".join(paragraphs[2:4]),
        "\n\n".join(paragraphs[4:6]),
    ]


def test_a_paragraph_longer_than_a_post_is_cut_between_words_then_anywhere() -> None:
    words = "word " * 1000  # 5,000 characters, one paragraph, one line
    parts = split_reply(words)
    assert parts == [" ".join(["word"] * 800), " ".join(["word"] * 200)]  # 3,999 + 999
    assert split_reply("y" * 9000) == ["y" * 4000, "y" * 4000, "y" * 1000]
    # Escaping counts: "<" is sent as "&lt;", four characters.
    assert split_reply("<" * 1500) == ["<" * 1000, "<" * 500]
    assert split_reply("short") == ["short"] and split_reply("  ") == []


def test_a_reply_slack_would_truncate_is_refused_whole() -> None:
    split_reply("z" * 40_000)  # the limit itself is fine
    with pytest.raises(ReplyTooLong, match="40,001 characters"):
        split_reply("z" * 40_001)


# users.conversations and history for each kind of conversation, users.info with email,
# chat.postMessage, files.info: https://api.slack.com/methods (each method's "Required scopes").
NEEDED_SCOPES = {
    "channels:history", "channels:read", "groups:history", "groups:read",
    "im:history", "im:read", "mpim:history", "mpim:read",
    "users:read", "users:read.email", "chat:write", "files:read",
    "im:write",  # conversations.open: a held reply sent as a DM
}  # fmt: skip


def test_the_app_manifest_grants_what_the_connector_uses() -> None:
    manifest = yaml.safe_load((Path(__file__).parent.parent / "slack-app-manifest.yml").read_text())
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= NEEDED_SCOPES
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # DMs allowed


async def test_missing_scopes_are_named_from_auth_test(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    local_slack.scopes.discard("users:read.email")
    local_slack.scopes.discard("mpim:read")
    sync = await connector(local_slack, astore)

    assert await sync.check_scopes() == ["mpim:read", "users:read.email"]
    local_slack.scopes.update({"users:read.email", "mpim:read"})
    assert await sync.check_scopes() == []
    # Every scope a method the connector calls requires is named when it is missing.
    granted = set(local_slack.scopes)
    local_slack.scopes.clear()
    local_slack.scopes.add("reactions:read")  # one the connector does not use
    assert set(await sync.check_scopes()) == NEEDED_SCOPES
    local_slack.scopes.update(granted)


async def test_a_blocks_only_post_names_the_people_it_mentions(
    local_slack: LocalSlack, astore: AsyncStore
) -> None:
    channel, alice, bob = people(local_slack)
    blocks = event("handmade_blocks_only.json")["blocks"]
    blocks[0]["elements"][0]["elements"][1]["user_id"] = bob
    local_slack.post(channel, alice, "", emit=False, extra={"blocks": blocks})

    await (await connector(local_slack, astore)).sync_once(astore)

    [row] = await messages(astore)
    assert row[3].startswith("Hello @Bob Builder, see the FAQ (https://example.com/faq) 👍")


@pytest.mark.parametrize(("distribution", "history_calls"), [("internal", 2), ("distributed", 1)])
async def test_a_distributed_app_scans_for_replies_only_with_the_rescan(
    local_slack: LocalSlack, astore: AsyncStore, distribution: str, history_calls: int
) -> None:
    channel, alice, _bob = people(local_slack)
    local_slack.post(channel, alice, "first", emit=False)
    account = {"distribution": distribution}
    sync = await connector(local_slack, astore, clock=lambda: T0 + DAY, account=account)
    await sync.sync_once(astore)
    before = len(local_slack.calls_to("conversations.history"))

    await sync.sync_once(astore)  # within the rescan interval

    # The new-messages page, plus (internal only) the 7-day scan of parents' latest_reply.
    assert len(local_slack.calls_to("conversations.history")) - before == history_calls


async def test_event_ids_are_remembered_for_a_window_and_hellos_counted(
    local_slack: LocalSlack,
) -> None:
    """With room for two event ids, after three events the oldest is forgotten: its repeat
    comes through again, the two newest ids' repeats do not. Each `hello` counts once."""
    channel, alice, _bob = people(local_slack)
    inbox = EventInbox(remember=2, settle=0)
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=AsyncWebClient(token=BOT_TOKEN, base_url=local_slack.api_url),
    )
    inbox.attach(client)
    await client.connect()  # type: ignore[no-untyped-call]
    try:
        await local_slack.wait_until(lambda: inbox.connections >= 1)
        assert inbox.connections == 1
        sent = [local_slack.post(channel, alice, f"m{n}") for n in (1, 2, 3)]
        await local_slack.wait_until(lambda: len(local_slack.envelopes) == 3)
        first, second, third = list(local_slack.envelopes)
        for envelope in (third, second, first):  # newest first: only the first is forgotten
            await local_slack.hub._send_frame({**envelope, "envelope_id": "again"})
        reaction = {"type": "reaction_added", "ts": "1.0", "channel": channel}
        not_a_message = {**first, "envelope_id": "reaction"}
        not_a_message["payload"] = {**first["payload"], "event": reaction, "event_id": "Ev-r"}
        await local_slack.hub._send_frame(not_a_message)  # not a message: never handed over
        last = local_slack.post(channel, alice, "sentinel")
        seen: list[str] = []
        while last not in seen:
            batch = await asyncio.wait_for(inbox.next_batch(), timeout=5)
            seen += [str(event["ts"]) for event in batch]
        assert seen == [*sent, sent[0], last]
        assert inbox.rate_limited == 0
        await local_slack.disconnect_all()  # Slack asks for a refresh: a new connection
        await local_slack.wait_until(lambda: inbox.connections >= 2)
        assert inbox.connections == 2
    finally:
        await client.close()  # type: ignore[no-untyped-call]
