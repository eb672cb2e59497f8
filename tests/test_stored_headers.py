"""The headers stored with a mail are read back by the reply writer in the same typed shape
(connectors/email/stored_headers.py): a message fetched from Dovecot and mapped is answered,
through aiosmtpd, with exactly its Reply-To (else its From) and everyone else it was addressed
to, names and all."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from connectors.email.stored_headers import StoredHeaders
from storage.aio import AsyncStore
from storage.store import Store
from tests.imap_helpers import (
    SUPPORT,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer


def _question(msgid: str, reply_to: str | None) -> bytes:
    question = mail(
        msgid,
        sender='"Martin, Alice" <Alice@Customer.example>',
        to=f"Support Team <{SUPPORT}>, Dan Ode <dan@customer.example>",
        cc=f"Bob Stone <bob@customer.example>, Support Team <{SUPPORT}>",
    )
    if reply_to:
        question["Reply-To"] = reply_to
    return question.as_bytes()


@pytest.mark.usefixtures("imap_password")
@pytest.mark.parametrize(
    ("reply_to", "expected_to", "to_address"),
    [
        (
            "Zoë Ünal <zoe@tickets.customer.example>",
            "Zoë Ünal <zoe@tickets.customer.example>",
            "zoe@tickets.customer.example",
        ),
        (None, '"Martin, Alice" <alice@customer.example>', "alice@customer.example"),
    ],
    ids=["reply-to", "from"],
)
async def test_a_mapped_message_is_answered_with_exactly_its_reply_to_or_from_and_cc(
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    astore: AsyncStore,
    store: Store,
    reply_to: str | None,
    expected_to: str,
    to_address: str,
) -> None:
    dovecot.append("INBOX", _question("<q@customer.example>", reply_to))
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    await sync(settings, astore)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    store.queue_reply(conversation, "Sam", "Done.", remote_id="k")  # reply-all, as the CLI does

    await sync(settings, astore)

    [received] = mail_server.messages
    sent = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(sent, EmailMessage)
    assert sent["To"] == expected_to
    assert sent["Cc"] == "Dan Ode <dan@customer.example>, Bob Stone <bob@customer.example>"
    assert sorted(received.rcpt_tos) == sorted(
        [to_address, "dan@customer.example", "bob@customer.example"]
    )


def test_stored_headers_read_back_as_written() -> None:
    headers = StoredHeaders(
        message_id="<m@x.example>",
        in_reply_to="<p@x.example>",
        references=("<r@x.example>", "<p@x.example>"),
        reply_to=(("Zoë", "zoe@x.example"),),
        to=(("", "help@ours.example"), ("Dan, Ode", "dan@x.example")),
        cc=(("Bob", "bob@x.example"),),
        bcc=(("", "boss@ours.example"),),
        survey="token",
        folder="INBOX",
        uidvalidity=7,
        uid=42,
    )
    assert StoredHeaders.from_json(headers.to_json()) == headers


def test_stored_headers_read_leniently() -> None:
    # As older code or another writer left them: mixed case, junk entries, wrong types.
    stored = StoredHeaders.from_json(
        {
            "reply_to": "not a list",
            "to": [["Ann", "Ann@X.example"], ["no address", "nobody"], "junk", ["a", "b", "c"]],
            "cc": None,
            "references": ["<r@x.example>"],
            "uid": True,
        }
    )
    assert stored.reply_to == ()
    assert stored.to == (("Ann", "ann@x.example"),)
    assert (stored.cc, stored.references, stored.uid) == ((), ("<r@x.example>",), None)
    # A reply queued without chosen recipients stores no "to": reply-all decides them.
    assert StoredHeaders.from_json({"cc": [["", "c@x.example"]]}).to is None
    assert StoredHeaders.from_json("{}") == StoredHeaders()
