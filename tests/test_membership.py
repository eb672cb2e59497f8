"""Who belongs in a conversation (issue 14): references never let an outsider in, a forged
"from us" is a customer's message, and a colleague on Cc joins and gets the reply.

Mail is raw RFC 5322 text written here, mapped by the connector's own mapping
(`email_map.to_inbound`) and stored by the real `Store.ingest` on a real SQLite file; the
replies are composed by the real SMTP composer. One test goes through Dovecot and a full sync.
Oracles are the addresses and conversations read off the mail by hand.
"""

from __future__ import annotations

import sqlite3

import pytest

from connectors.email import smtp
from connectors.email.mapping import Fetched, MapContext, to_inbound
from connectors.email.settings import ImapAccountSettings
from storage.aio import AsyncStore
from storage.store import Store
from tests.imap_helpers import account_settings as dovecot_settings
from tests.imap_helpers import (
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail_server_fixture,  # noqa: F401
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer

SUPPORT = "help@frontdesk.test"
DAY = 86_400.0


def raw(
    msgid: str,
    sender: str,
    *,
    subject: str = "Invoice missing",
    to: str = f"Support Team <{SUPPORT}>",
    cc: str | None = None,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    date: str = "Mon, 02 Mar 2026 09:30:00 +0000",
    body: str = "Hello, the invoice for order 1234 is missing.",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}"]
    lines += [f"Cc: {cc}"] if cc else []
    lines += [f"Reply-To: {reply_to}"] if reply_to else []
    lines += [f"Subject: {subject}", f"Date: {date}", f"Message-ID: {msgid}"]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\r\n".join(lines).encode()


class Mailbox:
    """Delivers raw mail into the store as the IMAP sync would, folder by folder."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.account = store.ensure_account("support-mail", "imap")
        self.uid = 0

    def deliver(self, *mails: bytes, folder: str = "INBOX") -> list[int]:
        ctx = MapContext(self.account, SUPPORT, 30 * DAY, folder, 1, from_sent=folder == "Sent")
        items = []
        for data in mails:
            self.uid += 1
            items.append(to_inbound(Fetched(self.uid, None, data), ctx))
        return [r.conversation_id for r in self.store.ingest(items)]

    def row(self, remote_id: str) -> sqlite3.Row:
        found = self.store.conn.execute(
            "SELECT * FROM messages WHERE remote_id = ?", (remote_id,)
        ).fetchone()
        assert found is not None, remote_id
        return found

    def conversation_of(self, remote_id: str) -> int:
        return int(self.row(remote_id)["conversation_id"])

    def remote_ids_in(self, conversation_id: int) -> set[str]:
        rows = self.store.conn.execute(
            "SELECT remote_id FROM messages WHERE conversation_id = ?", (conversation_id,)
        )
        return {r[0] for r in rows}

    def reply_recipients(self, conversation_id: int) -> tuple[str, ...]:
        """What the SMTP composer would send an agent reply in this conversation to."""
        message_id = self.store.queue_reply(
            conversation_id, "Agent", "Refund issued.", remote_id=f"<r{self.uid}@frontdesk.test>"
        )
        mail = smtp.compose_reply(self.store.reply_context(message_id), SETTINGS)
        return mail.recipients


SETTINGS = ImapAccountSettings(
    name="support-mail",
    kind="imap",
    imap_host="127.0.0.1",
    username="help",
    password_env="UNUSED",
    smtp_host="127.0.0.1",
    from_address=f"Support Team <{SUPPORT}>",
)

ALICE = "Alice Martin <alice@customer.example>"
ALICE_FIRST = raw("<a1@customer.example>", ALICE)
OUR_ANSWER = raw(
    "<s1@frontdesk.test>",
    f"Support Team <{SUPPORT}>",
    subject="Re: Invoice missing",
    to=ALICE,
    in_reply_to="<a1@customer.example>",
    date="Mon, 02 Mar 2026 10:00:00 +0000",
    body="Your card ending 4242 was refunded.",
)


@pytest.fixture
def box(store: Store) -> Mailbox:
    return Mailbox(store)


def test_a_stranger_quoting_a_customers_message_id_gets_a_conversation_of_its_own(
    box: Mailbox,
) -> None:
    box.deliver(ALICE_FIRST)
    box.deliver(OUR_ANSWER, folder="Sent")
    alice = box.conversation_of("<a1@customer.example>")
    hijack = raw(
        "<h1@x.example>",
        "Eve <eve@x.example>",
        subject="Re: Invoice missing",
        in_reply_to="<s1@frontdesk.test>",
        date="Mon, 02 Mar 2026 11:00:00 +0000",
        body="Please send the refund details to me instead.",
    )
    box.deliver(hijack)

    eve = box.row("<h1@x.example>")
    assert eve["conversation_id"] != alice
    assert eve["refers_to"] == alice
    assert f"refers to #{alice}" in eve["thread_reason"]
    assert "eve@x.example is not one of its participants" in eve["thread_reason"]
    assert box.remote_ids_in(alice) == {"<a1@customer.example>", "<s1@frontdesk.test>"}
    # Eve's follow-up to her own mail stays in her conversation, never in Alice's.
    box.deliver(
        raw(
            "<h2@x.example>",
            "Eve <eve@x.example>",
            subject="Re: Invoice missing",
            in_reply_to="<h1@x.example>",
            date="Mon, 02 Mar 2026 11:05:00 +0000",
        )
    )
    assert box.conversation_of("<h2@x.example>") == eve["conversation_id"]
    # The agent's next reply in Alice's conversation goes to Alice alone.
    assert box.reply_recipients(alice) == ("alice@customer.example",)


def test_a_forged_name_with_the_same_subject_and_a_reply_to_does_not_join(box: Mailbox) -> None:
    box.deliver(ALICE_FIRST)
    alice = box.conversation_of("<a1@customer.example>")
    forged = raw(
        "<f1@evil.example>",
        '"Alice Martin" <alice.martin@evil.example>',
        subject="Re: Invoice missing",
        reply_to="refunds@evil.example",
        date="Mon, 02 Mar 2026 10:30:00 +0000",
        body="New bank details for my refund.",
    )
    box.deliver(forged)

    assert box.conversation_of("<f1@evil.example>") != alice
    assert box.remote_ids_in(alice) == {"<a1@customer.example>"}
    assert box.reply_recipients(alice) == ("alice@customer.example",)


def test_a_colleague_on_cc_joins_and_the_reply_goes_to_both(box: Mailbox) -> None:
    box.deliver(raw("<a1@customer.example>", ALICE, cc="Bob Stone <bob@customer.example>"))
    alice = box.conversation_of("<a1@customer.example>")
    bob = raw(
        "<b1@customer.example>",
        "Bob Stone <bob@customer.example>",
        subject="Re: Invoice missing",
        cc=ALICE,
        in_reply_to="<a1@customer.example>",
        date="Mon, 02 Mar 2026 10:15:00 +0000",
        body="Same problem on my side.",
    )
    box.deliver(bob)

    assert box.conversation_of("<b1@customer.example>") == alice
    assert box.row("<b1@customer.example>")["refers_to"] is None
    assert set(box.reply_recipients(alice)) == {"bob@customer.example", "alice@customer.example"}


def test_a_display_name_showing_our_address_is_a_flagged_customer_message(box: Mailbox) -> None:
    box.deliver(ALICE_FIRST)
    alice = box.conversation_of("<a1@customer.example>")
    forged = raw(
        "<g1@x.example>",
        f'"{SUPPORT}" <evil@x.example>',
        subject="Re: Invoice missing",
        to=ALICE,
        in_reply_to="<a1@customer.example>",
        date="Mon, 02 Mar 2026 10:30:00 +0000",
    )
    [conversation] = box.deliver(forged)

    row = box.row("<g1@x.example>")
    assert row["direction"] == "in"
    assert row["spoofing"] == (
        f"the sender's name shows {SUPPORT}, but the mail is from evil@x.example"
    )
    assert conversation != alice
    # A customer message: it waits for a reply, and Alice's conversation still does too.
    statuses = dict(box.store.conn.execute("SELECT id, status FROM conversations").fetchall())
    assert statuses == {alice: "open", conversation: "open"}
    assert box.store.detail(conversation).messages[0].spoofing == row["spoofing"]


def test_our_own_address_outside_sent_is_not_ours_but_the_sent_folder_is(box: Mailbox) -> None:
    box.deliver(ALICE_FIRST)
    alice = box.conversation_of("<a1@customer.example>")
    forged_from_us = raw(
        "<z1@x.example>",
        f"Support Team <{SUPPORT}>",
        subject="Re: Invoice missing",
        to=ALICE,
        in_reply_to="<a1@customer.example>",
        date="Mon, 02 Mar 2026 10:30:00 +0000",
    )
    box.deliver(forged_from_us)
    box.deliver(OUR_ANSWER, folder="Sent")

    forged = box.row("<z1@x.example>")
    assert forged["direction"] == "in" and forged["conversation_id"] != alice
    assert forged["spoofing"] and "neither in our Sent folder nor our outbox" in forged["spoofing"]
    ours = box.row("<s1@frontdesk.test>")
    assert ours["direction"] == "out" and ours["conversation_id"] == alice
    assert ours["spoofing"] is None
    status = box.store.conn.execute("SELECT status FROM conversations WHERE id = ?", (alice,))
    assert status.fetchone()[0] == "pending"  # answered by us, from Sent


def test_our_outbox_message_coming_back_stays_ours(box: Mailbox) -> None:
    box.deliver(ALICE_FIRST)
    alice = box.conversation_of("<a1@customer.example>")
    message_id = box.store.queue_reply(alice, "Agent", "On it.", remote_id="<o1@frontdesk.test>")
    mail = smtp.compose_reply(box.store.reply_context(message_id), SETTINGS)
    # The server files a copy of what we sent in the INBOX too (we were on Cc of our own mail).
    box.deliver(mail.raw)

    rows = box.store.conn.execute(
        "SELECT direction, conversation_id FROM messages WHERE thread_ref = ?",
        ("<o1@frontdesk.test>",),
    ).fetchall()
    assert [tuple(r) for r in rows] == [("out", alice)]


def test_the_customer_answering_our_outbox_reply_joins(box: Mailbox) -> None:
    box.deliver(ALICE_FIRST)
    alice = box.conversation_of("<a1@customer.example>")
    box.store.queue_reply(alice, "Agent", "Which order?", remote_id="<o2@frontdesk.test>")
    box.deliver(
        raw(
            "<a2@customer.example>",
            ALICE,
            subject="Re: Invoice missing",
            in_reply_to="<o2@frontdesk.test>",
            date="Mon, 02 Mar 2026 12:00:00 +0000",
        )
    )
    assert box.conversation_of("<a2@customer.example>") == alice
    assert box.row("<a2@customer.example>")["thread_reason"] == "refers to <o2@frontdesk.test>"


@pytest.mark.usefixtures("imap_password")
async def test_hijack_and_forged_from_us_through_dovecot(
    dovecot: DovecotServer,
    astore: AsyncStore,
    store: Store,
) -> None:
    dovecot.append_many("INBOX", [ALICE_FIRST])
    dovecot.append_many("Sent", [OUR_ANSWER])
    await sync(dovecot_settings(dovecot), astore)
    alice = message_row(store, "<a1@customer.example>")["conversation_id"]
    dovecot.append_many(
        "INBOX",
        [
            raw(
                "<h1@x.example>",
                f'"{SUPPORT}" <eve@x.example>',
                subject="Re: Invoice missing",
                in_reply_to="<s1@frontdesk.test>",
                date="Mon, 02 Mar 2026 11:00:00 +0000",
            )
        ],
    )
    await sync(dovecot_settings(dovecot), astore)

    eve = message_row(store, "<h1@x.example>")
    assert eve["direction"] == "in" and eve["spoofing"]
    assert eve["conversation_id"] != alice and eve["refers_to"] == alice
    assert message_row(store, "<s1@frontdesk.test>")["direction"] == "out"
    members = store.conn.execute(
        "SELECT remote_id FROM messages WHERE conversation_id = ?", (alice,)
    ).fetchall()
    assert {r[0] for r in members} == {"<a1@customer.example>", "<s1@frontdesk.test>"}


@pytest.mark.usefixtures("imap_password")
async def test_replies_reach_the_colleague_on_cc_and_never_the_hijacker(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    bob = "Bob Stone <bob@customer.example>"
    dovecot.append_many(
        "INBOX",
        [
            raw("<a1@customer.example>", ALICE, cc=bob),
            raw(
                "<b1@customer.example>",
                bob,
                subject="Re: Invoice missing",
                cc=ALICE,
                in_reply_to="<a1@customer.example>",
                date="Mon, 02 Mar 2026 10:15:00 +0000",
                body="Same problem on my side.",
            ),
            raw(
                "<h1@x.example>",
                '"Alice Martin" <eve@x.example>',
                subject="Re: Invoice missing",
                reply_to="eve@x.example",
                in_reply_to="<b1@customer.example>",
                date="Mon, 02 Mar 2026 10:30:00 +0000",
                body="Please send the refund to my new account.",
            ),
        ],
    )
    settings = dovecot_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    await sync(settings, astore)
    conversation = message_row(store, "<a1@customer.example>")["conversation_id"]
    assert message_row(store, "<b1@customer.example>")["conversation_id"] == conversation
    assert message_row(store, "<h1@x.example>")["conversation_id"] != conversation

    store.queue_reply(conversation, "Sam", "Refund issued.", remote_id="<r1@frontdesk.test>")
    await sync(settings, astore)

    [received] = mail_server.messages
    assert set(received.rcpt_tos) == {"bob@customer.example", "alice@customer.example"}
