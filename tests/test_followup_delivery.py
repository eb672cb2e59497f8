"""A follow-up batch delivered for real: email through aiosmtpd, Slack into the right threads.

Customers asked on both channels; the agent tags them, and when the feature ships one reviewed
batch queues a personal reply for each. The runner's connectors deliver it.
"""

from __future__ import annotations

import email as email_lib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from connectors.email.connector import ImapConnector
from connectors.slack.connector import SlackConnector, SlackOptions
from connectors.slack.settings import SlackAccountSettings
from console import followup
from storage import search
from storage.aio import AsyncStore
from storage.models import CannedReply
from storage.store import Store
from tests.imap_helpers import PASSWORD_ENV, account_settings, mail
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.slack.fixtures import BOT_TOKEN
from tests.slack.server import LocalSlack

TAG = "feature-request/snooze-dates"
SHIPPED = CannedReply(
    0,
    "Feature shipped",
    None,
    "",
    "Hi {{ contact.first_name }}, snoozing until a date has"
    " shipped ({{ conversation.channel }}). {{ agent.first_name }}",
    "config",
)
BROKEN = CannedReply(0, "Broken", None, "", "Hi {{ contact.nickname }}", "config")


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    async_store = AsyncStore(lambda: Store(db_path))
    yield async_store
    await async_store.aclose()


@pytest.fixture
def smtp(dovecot: DovecotServer) -> RecordingSMTPServer:
    with RecordingSMTPServer(user=dovecot.user, password=dovecot.password) as server:
        yield server  # type: ignore[misc]


async def connectors(
    dovecot: DovecotServer,
    smtp: RecordingSMTPServer,
    slack: LocalSlack,
    astore: AsyncStore,
    monkeypatch: pytest.MonkeyPatch,
) -> list[ImapConnector | SlackConnector]:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    monkeypatch.setenv("FD_FOLLOWUP_BOT", BOT_TOKEN)
    mail_settings = account_settings(dovecot, smtp_port=smtp.port)
    slack_settings = SlackAccountSettings(
        name="team-slack", kind="slack", bot_token_env="FD_FOLLOWUP_BOT", api_url=slack.api_url
    )
    mail_id = await astore.call(Store.ensure_account, mail_settings.name, "imap")
    slack_id = await astore.call(Store.ensure_account, slack_settings.name, "slack")
    return [
        ImapConnector(mail_settings, mail_id),
        SlackConnector(slack_settings, slack_id, SlackOptions(rates={})),
    ]


def ask_on_both_channels(dovecot: DovecotServer, slack: LocalSlack) -> dict[str, str]:
    """Two email customers and two Slack customers ask for the feature; returns thread ts."""
    for n, who in enumerate(["Alice Martin <alice@a.example>", "Bruno Silva <bruno@b.example>"]):
        dovecot.append(
            "INBOX",
            mail(
                f"<ask{n}@customer.example>", sender=who, subject="Snooze until a date?"
            ).as_bytes(),
        )
    channel = slack.add_channel("support")
    threads = {}
    for name, real in [("chen", "Chen Wei"), ("dalia", "Dalia Haddad")]:
        user = slack.add_user(name, real_name=real)
        threads[real] = slack.post(channel, user, "Can I snooze until a date?", emit=False)
    return threads


async def sync_all(astore: AsyncStore, running: list[ImapConnector | SlackConnector]) -> None:
    for connector in running:
        await connector.sync_once(astore)


async def test_every_customer_gets_one_personal_reply_in_their_thread(
    dovecot: DovecotServer,
    smtp: RecordingSMTPServer,
    local_slack: LocalSlack,
    astore: AsyncStore,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await connectors(dovecot, smtp, local_slack, astore, monkeypatch)
    threads = ask_on_both_channels(dovecot, local_slack)
    await sync_all(astore, running)
    store = Store(db_path)
    ids = [r.id for r in store.page(search.parse("snooze"), limit=100)]
    assert len(ids) == 4
    store.tag(ids, "Sam Rivera", TAG)
    asked = list(followup.conversations_in(store, search.parse(f"tag:{TAG}")))
    rendered, blocked = followup.render_batch(store, asked, SHIPPED, "Sam Rivera", "sam@x.test")
    assert blocked == []
    followup.queue_batch(
        store,
        rendered,
        agent_name="Sam Rivera",
        agent_email="sam@x.test",
        tag="followed-up",
        close=False,
    )
    store.close()

    await sync_all(astore, running)
    await sync_all(astore, running)  # a second pass sends nothing again

    mails = smtp.messages
    assert sorted(m.rcpt_tos for m in mails) == [("alice@a.example",), ("bruno@b.example",)]
    for received in mails:
        parsed = email_lib.message_from_bytes(received.data)
        first = "Alice" if "alice" in received.rcpt_tos[0] else "Bruno"
        assert parsed["In-Reply-To"] in ("<ask0@customer.example>", "<ask1@customer.example>")
        assert (
            f"Hi {first}, snoozing until a date has shipped (email). Sam" in received.data.decode()
        )
    posts = sorted(local_slack.posted, key=lambda p: p["thread_ts"])
    assert [(p["thread_ts"], p["text"]) for p in posts] == sorted(
        (ts, f"Hi {real.split()[0]}, snoozing until a date has shipped (slack). Sam")
        for real, ts in threads.items()
    )


async def test_a_render_error_blocks_the_batch_and_cancel_sends_nothing(
    dovecot: DovecotServer,
    smtp: RecordingSMTPServer,
    local_slack: LocalSlack,
    astore: AsyncStore,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await connectors(dovecot, smtp, local_slack, astore, monkeypatch)
    ask_on_both_channels(dovecot, local_slack)
    await sync_all(astore, running)
    store = Store(db_path)
    ids = [r.id for r in store.page(search.parse("snooze"), limit=100)]
    rendered, blocked = followup.render_batch(store, ids, BROKEN, "Sam Rivera", "sam@x.test")
    assert len(blocked) == 4 and all("contact.nickname" in b.reason for b in blocked)
    rendered, _ = followup.render_batch(store, ids, SHIPPED, "Sam Rivera", "sam@x.test")
    batch = followup.queue_batch(
        store, rendered, agent_name="Sam Rivera", agent_email="sam@x.test", tag=None, close=False
    )
    assert store.cancel_batch(batch.id, "Sam Rivera") == 4
    store.close()

    await sync_all(astore, running)

    assert smtp.messages == [] and local_slack.posted == []
