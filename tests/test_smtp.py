"""Agent replies out through a real SMTP server (aiosmtpd) and into Dovecot's Sent folder:
headers as a mail client threads them, retries, and no double send across a crash."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime

import pytest

from connectors.email.connector import ImapConnector
from connectors.email.smtp import compose_reply
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store
from tests.conftest import FakeClock
from tests.imap_helpers import (
    SUPPORT,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_count,
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.waits import until_async

pytestmark = pytest.mark.usefixtures("imap_password")

QUESTION = mail(
    "<q1@customer.example>",
    subject="Re: Invoice missing",
    cc="Bob Stone <bob@customer.example>, Support Team <help@frontdesk.test>",
    body="Hello,\nthe invoice for order 1234 is missing.\n\n-- \nAlice\n",
    references="<q0@customer.example>",
    in_reply_to="<q0@customer.example>",
).as_bytes()


async def _queued_reply(
    dovecot: DovecotServer, smtp: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> tuple[int, str]:
    """Sync the customer's question, then queue an agent reply to it: (outbox id, a Message-ID
    for a test that claims the reply itself, as the email connector would)."""
    dovecot.append("INBOX", QUESTION)
    await sync(account_settings(dovecot), astore)
    conversation = message_row(store, "<q1@customer.example>")["conversation_id"]
    store.queue_reply(conversation, "Sam Rivera", "We resent it.\nSam", remote_id="k")
    [item] = store.due_outbox()
    return item.id, make_msgid(domain="frontdesk.test")


def _claimed_id(store: Store, outbox_id: int) -> str:
    """The Message-ID stored with the reply's claim (its message's remote id from then on)."""
    row = store.conn.execute(
        "SELECT m.remote_id FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.id = ?",
        (outbox_id,),
    ).fetchone()
    return str(row[0])


def _outbox(store: Store, outbox_id: int) -> OutboxItem:
    row = store.conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    return OutboxItem(**{k: row[k] for k in OutboxItem.__slots__})


async def test_reply_threads_and_quotes_as_a_mail_client_sees_it(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    outbox_id, _ = await _queued_reply(dovecot, mail_server, astore, store)
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)

    await sync(settings, astore)

    reply_id = _claimed_id(store, outbox_id)
    assert reply_id.startswith("<") and reply_id.endswith("@frontdesk.test>")  # from_address's
    [received] = mail_server.messages
    sent = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    assert sent["From"] == f"Support Team <{SUPPORT}>"
    assert sent["To"] == "Alice Martin <alice@customer.example>"
    assert sent["Cc"] == "Bob Stone <bob@customer.example>"  # kept; our own address dropped
    assert sent["Subject"] == "Re: Invoice missing"  # not "Re: Re:"
    assert sent["Message-ID"] == reply_id
    assert sent["In-Reply-To"] == "<q1@customer.example>"
    assert sent["References"] == "<q0@customer.example> <q1@customer.example>"
    assert parsedate_to_datetime(sent["Date"]).timestamp() == pytest.approx(store.clock())
    body = sent.get_content().replace("\r\n", "\n")
    assert body.startswith("We resent it.\nSam\n\nOn Mon, 02 Mar 2026 09:30:00 +0000, ")
    assert "Alice Martin <alice@customer.example> wrote:\n> Hello,\n" in body
    assert "> the invoice for order 1234 is missing.\n>\n> -- \n> Alice\n" in body
    assert received.mail_from == SUPPORT
    assert set(received.rcpt_tos) == {"alice@customer.example", "bob@customer.example"}
    assert received.auth_login == dovecot.user

    item = _outbox(store, outbox_id)
    assert (item.status, item.attempts) == ("sent", 1)
    [uid] = dovecot.uids("Sent")
    assert email.message_from_bytes(dovecot.fetch_raw("Sent", uid))["Message-ID"] == reply_id
    # The copy in Sent comes back on the next sync and is recognised as the reply we have.
    before = message_count(store)
    await sync(settings, astore)
    assert message_count(store) == before and len(mail_server.messages) == 1
    assert message_row(store, reply_id)["delivery"] == "sent"


async def test_smtp_refusal_is_retried_with_backoff_and_stays_visible(
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    astore: AsyncStore,
    store: Store,
    clock: FakeClock,
) -> None:
    outbox_id, _ = await _queued_reply(dovecot, mail_server, astore, store)
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    mail_server.refuse_next(2)

    await sync(settings, astore)

    failed = _outbox(store, outbox_id)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.last_error is not None and "451" in failed.last_error
    assert failed.next_attempt_at == clock.now + 30  # the first retry after 30 s
    await sync(settings, astore)  # not due yet: nothing is sent
    assert mail_server.messages == []

    clock.advance(30)
    await sync(settings, astore)  # refused again: the wait doubles
    failed = _outbox(store, outbox_id)
    assert (failed.attempts, failed.next_attempt_at) == (2, clock.now + 60)

    clock.advance(60)
    await sync(settings, astore)

    assert len(mail_server.messages) == 1
    assert _outbox(store, outbox_id).status == "sent"


async def test_unreachable_smtp_server_is_a_visible_failure(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    outbox_id, _ = await _queued_reply(dovecot, mail_server, astore, store)

    await sync(account_settings(dovecot), astore)  # SMTP on port 9: nothing listens

    item = _outbox(store, outbox_id)
    assert item.status == "failed"
    assert item.last_error is not None and "could not reach the mail server" in item.last_error
    assert dovecot.uids("Sent") == []


async def test_no_double_send_when_a_crash_left_the_reply_in_sent(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    outbox_id, reply_id = await _queued_reply(dovecot, mail_server, astore, store)
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    # The crash: claimed, sent and copied to Sent, but the process died before marking it.
    assert store.outbox_claim_with_id(outbox_id, reply_id) == reply_id
    reply = store.reply_context(_outbox(store, outbox_id).message_id)
    dovecot.append("Sent", compose_reply(reply, settings).raw)

    await sync(settings, astore)

    assert mail_server.messages == []
    assert _outbox(store, outbox_id).status == "sent"
    assert len(dovecot.uids("Sent")) == 1
    assert message_row(store, reply_id)["delivery"] == "sent"


async def test_a_claimed_reply_missing_from_sent_is_sent_once(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    outbox_id, reply_id = await _queued_reply(dovecot, mail_server, astore, store)
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    # crashed before the SMTP server had it
    assert store.outbox_claim_with_id(outbox_id, reply_id) == reply_id

    await sync(settings, astore)
    await sync(settings, astore)

    [received] = mail_server.messages
    assert received.message["Message-ID"] == reply_id  # the id of the first claim
    assert _outbox(store, outbox_id).status == "sent"
    assert len(dovecot.uids("Sent")) == 1


async def test_live_mode_delivers_a_queued_reply(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    outbox_id, _ = await _queued_reply(dovecot, mail_server, astore, store)
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    connector = ImapConnector(settings, store.ensure_account(settings.name, "imap"))
    live = asyncio.create_task(connector.run_live(astore))
    try:
        await mail_server.wait_for_async(1, timeout=5)
        # marked sent: bounded, so a regression fails instead of hanging
        await until_async(lambda: _outbox(store, outbox_id).status == "sent", "outbox sent")
        # marked sent as soon as the server took it; the Sent copy follows
        await until_async(lambda: len(dovecot.uids("Sent")) == 1, "the copy in Sent")
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)
    assert len(mail_server.messages) == 1 and len(dovecot.uids("Sent")) == 1


async def test_reply_goes_to_reply_to_and_says_re_once(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    asked = mail("<rt@customer.example>", subject="Password reset")
    asked["Reply-To"] = "Alice at work <alice.work@customer.example>"
    dovecot.append("INBOX", asked.as_bytes())
    settings = account_settings(dovecot)
    await sync(settings, astore)
    conversation = message_row(store, "<rt@customer.example>")["conversation_id"]
    reply = store.queue_reply(conversation, "Sam", "Done.", remote_id="<r@frontdesk.test>")

    sent = email.message_from_bytes(compose_reply(store.reply_context(reply), settings).raw)

    assert sent["To"] == "Alice at work <alice.work@customer.example>"
    assert sent["Cc"] is None  # only us on the original's To: nobody else to keep
    assert sent["Subject"] == "Re: Password reset"
    assert sent["References"] == sent["In-Reply-To"] == "<rt@customer.example>"
