"""The composer shows who a reply goes to, and the reply goes to exactly that (issue 14).

A real mail is synced from Dovecot, the agent answers in the real app (Pilot), the sync
delivers through aiosmtpd: what the SMTP server received is compared with what was shown.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.conversation import ConversationScreen
from console.widgets.composer import Composer
from storage.aio import AsyncStore
from storage.store import Store
from tests.conftest import FakeClock
from tests.imap_helpers import (
    SUPPORT,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer

NOW = 1_800_000_000.0


def field(screen: ConversationScreen, name: str) -> str:
    return screen.query_one(f"#composer-{name}", Input).value


def sources(screen: ConversationScreen) -> str:
    return str(screen.query_one("#composer-sources", Static).render())


@pytest.mark.usefixtures("imap_password")
async def test_the_reply_goes_to_exactly_the_recipients_shown(
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    astore: AsyncStore,
    store: Store,
) -> None:
    asked = mail(
        "<steer@customer.example>",
        cc="Bob Stone <bob@customer.example>, Support Team <help@frontdesk.test>",
    )
    asked["Reply-To"] = "Refunds <refunds@elsewhere.example>"
    dovecot.append("INBOX", asked.as_bytes())
    settings = account_settings(
        dovecot,
        smtp_host=mail_server.host,
        smtp_port=mail_server.port,
        open_recent_days=36500,  # the fixture mail is dated years back: keep it open
    )
    await sync(settings, astore)

    app = FrontdeskApp(
        store, me="sam@frontdesk.test", agent_name="Sam", own_addresses=[SUPPORT], advance="stay"
    )
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        await pilot.press("r")
        assert field(screen, "to") == '"Refunds" <refunds@elsewhere.example>'
        assert field(screen, "cc") == '"Bob Stone" <bob@customer.example>'  # not us
        shown = sources(screen)
        assert "refunds@elsewhere.example ← Reply-To" in shown
        assert "bob@customer.example ← Cc of their message" in shown
        assert "elsewhere.example" in shown.split("⚠")[1]
        assert "customer.example" in shown.split("⚠")[1]
        # The agent distrusts the Reply-To: writes to the sender instead, adds a Bcc.
        await pilot.press(*"Sent again.", "shift+tab", "shift+tab")
        assert screen.query_one("#composer-to", Input).has_focus
        await pilot.press(*"alice@customer.example", "ctrl+b", *"lead@frontdesk.test")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not screen.query_one(Composer).is_open

    await sync(settings, astore)
    [received] = mail_server.messages
    assert sorted(received.rcpt_tos) == [
        "alice@customer.example",
        "bob@customer.example",
        "lead@frontdesk.test",
    ]
    sent = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    assert sent["To"] == "alice@customer.example"
    assert sent["Cc"] == "Bob Stone <bob@customer.example>"
    assert sent["Bcc"] is None and "lead@frontdesk.test" not in received.data.decode()
    assert sent.get_content().startswith("Sent again.")


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    return store


async def open_channel(pilot, demo_store: Store, channel: str) -> ConversationScreen:  # type: ignore[no-untyped-def]
    cid = demo_store.conn.execute(
        "SELECT id FROM conversations WHERE channel = ? AND status = 'open' ORDER BY id LIMIT 1",
        (channel,),
    ).fetchone()[0]
    pilot.app.open_conversation(cid)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen) and screen.conversation_id == cid
    return screen


async def test_a_bad_address_is_named_and_nothing_is_queued(demo_store: Store) -> None:
    app = FrontdeskApp(demo_store, me=AGENT.address, agent_name="Sam Rivera")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_channel(pilot, demo_store, "email")
        await pilot.press("r")
        assert "@" in field(screen, "to")
        await pilot.press(*"Thanks!", "shift+tab", *"bob at example")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert demo_store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        assert any("Cc: 'bob at example'" in str(n.message) for n in app._notifications)
        assert screen.query_one(Composer).is_open  # the text is still there to fix


async def test_a_slack_reply_has_no_address_fields(demo_store: Store) -> None:
    app = FrontdeskApp(demo_store, me=AGENT.address, agent_name="Sam Rivera")
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await open_channel(pilot, demo_store, "slack")
        await pilot.press("r")
        assert not screen.query_one("#composer-recipients").display
        await pilot.press(*"On it", "ctrl+s")
        await pilot.pause()
        row = demo_store.conn.execute("SELECT body FROM outbox").fetchall()
        assert [tuple(r) for r in row] == [("On it",)]
