"""Slack as Slack documents it (issue 16): real payloads, subtypes, threads, catch-up.

The payloads in tests/data/slack are bolt-python's recorded events (see the README there); the
expected text, author and thread of each were written by hand from the JSON. Connector tests
run against the local Slack through the real slack-sdk, like tests/test_slack_connector.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from connectors.slack_map import ChannelInfo, Mapper, Me, SlackUser
from storage.aio import AsyncStore
from tests.slack.server import SLACKBOT_ID, LocalSlack
from tests.test_slack_connector import astore, connector, messages, people, rows, tokens

__all__ = ["astore", "tokens"]  # fixtures shared with the connector tests

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
