"""Forwards and bounces from real mail (tests/data/mail, see its README): what the agent reads.

Every expected value was read off the raw file by hand: dates converted to UTC on paper,
RFC 2047 words and folded Diagnostic-Code lines joined by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email.mime import ParsedMessage, find_quote_offset, parse_message
from connectors.email.mime.forwarded import refold_headers
from storage.aio import AsyncStore
from storage.store import Store
from tests.imap_helpers import (
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    sync,
)
from tests.servers.dovecot import DovecotServer

CORPUS = Path(__file__).parent / "data" / "mail"


def parsed(name: str) -> ParsedMessage:
    return parse_message((CORPUS / name).read_bytes())


# --------------------------------------------------------------------------- forwards


def test_a_customer_attaching_three_saved_mails_shows_each_sender_and_subject() -> None:
    p = parsed("stalwart-mail-parser/thirdparty_015.eml")
    assert p.subject == "Re: (#5290765) Proxmox Shop E-Mails"
    # format=flowed: "war es auch nicht: " ends in a space, so the next line joins it.
    assert p.text.startswith(
        "Hallo Stoiko,\n\n"
        "alles klar, deine Reply Mail war jetzt nicht im Spam - office-reply.txt\n"
        "und eine E-Mail von Daniela vor ein paar Tagen war es auch nicht: training-mail.txt\n"
    )
    forwards = p.text.split("---------- Forwarded message ----------\n")[1:]
    assert [f.strip() for f in forwards] == [
        # training-mail.txt and office-reply.txt: header blocks only, as saved.
        "> From: Proxmox Server Solutions GmbH <training@proxmox.com>\n"
        "> Date: Wed, 11 Feb 2026 17:45:03 +0000\n"
        "> Subject: Exciting updates for our training partnership\n"
        "> To: user@mailserver.de",
        "> From: Proxmox Server Solutions GmbH <office@proxmox.com>\n"
        "> Date: Fri, 13 Feb 2026 10:26:02 +0000\n"
        "> Subject: RE: (#5290765) Proxmox Shop E-Mails\n"
        "> To: user@mailserver.de",
        # shop-mail.txt lost its header folding ("(using TLSv1.3 ..." starts a line) and
        # has a blank line after its Received: field; its own fields come after that.
        "> From: Proxmox Server Solutions GmbH Sales and General Requests <sales@proxmox.com>\n"
        "> Date: Thu, 12 Feb 2026 12:21:03 +0000\n"  # 13:21:03 +0100
        "> Subject: [Ticket ID: 255909] Bestellung: Proxmox VE inkl. Trainings-Plus Rabatt (\n"
        "> To: Vorname Nachname <user@mailserver.de>",
    ]
    assert [(a.filename, a.part, a.content_type) for a in p.attachments] == [
        ("training-mail.txt", "2", "message/rfc822"),
        ("office-reply.txt", "3", "message/rfc822"),
        ("shop-mail.txt", "4", "message/rfc822"),
    ]
    assert "part 4: header lines without folding repaired" in p.problems
    # Each saved copy declares a multipart body it does not have: named by its own section.
    assert "forwarded message (part 3): MIME boundary missing or wrong: shown as raw text" in (
        p.problems
    )
    # His signature ("--") comes before the forwards: folding it would hide them.
    assert p.quote_offset is None


def test_a_signature_is_still_folded_when_nothing_is_forwarded() -> None:
    text = "Thanks,\n--\nJonas\nInhaber\n"
    assert find_quote_offset(text) == text.index("--")
    forwarded = text + "\n---------- Forwarded message ----------\n> From: a@b.example\n"
    assert find_quote_offset(forwarded) is None
    quoted = text + "> ---------- Forwarded message ----------\n"  # inside a quote: folded
    assert find_quote_offset(quoted) == text.index("--")


def test_a_forward_with_a_pdf_inside() -> None:
    p = parsed("mikel-mail/attachment_emails_attachment_message_rfc822.eml")
    assert p.text == (
        "This is the first part.\n"
        "\n"
        "---------- Forwarded message ----------\n"
        "> From: Test Tester <xxxx@xxxx.com>\n"
        "> Date: Tue, 10 May 2005 17:26:39 +0000\n"  # 11:26:39 -0600
        "> Subject: Another PDF\n"
        "> To: xxxx@xxxx.com\n"
        ">\n"
        "> Just attaching another PDF, here, to see what the message looks like,\n"
        "> and to see if I can figure out what is going wrong here."
    )
    # The forward and the PDF inside it, by IMAP section.
    assert [(a.filename, a.part) for a in p.attachments] == [
        ("ForwardedMessage.eml", "2"),
        ("broken.pdf", "2.2"),
    ]


# --------------------------------------------------------------------------- bounces

GMAIL_550 = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try "
    "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
    "unnecessary spaces. Learn more at 550 5.1.1 "
    "http://mail.google.com/support/bin/answer.py?answer=6596 41si5422799iwn.27"
)


def test_postfix_bounce_lists_every_recipient_with_the_servers_reason() -> None:
    p = parsed("mikel-mail/multipart_report_emails_multi_address_bounce1.eml")
    assert p.subject == "Undelivered Mail Returned to Sender"
    gone = [
        "bbbbvhvbbvkjbhfbvbvjhb@gmail.com",
        "bscdbcjhasbcjhbdscbhbsdhcbj@gmail.com",
        "egyfefsdvsfvvhjsd@gmail.com",
        "kfhejkfbsjkjsbhds@gmail.com",
        "qfvhgsvhgsduiohncdhcvhsdfvsfygusd@gmail.com",
    ]
    summary = "".join(f"- {who}: failed, status 5.1.1 ({GMAIL_550})\n" for who in gone)
    assert p.text.startswith(
        "Delivery status report:\n" + summary + "\nThis is the mail system at host lvmail01.LL.com."
    )
    assert "---------- Returned message ----------\n> From: Rahul Chaudhari" in p.text
    assert p.attachments[-1].filename == "Test of bounce email.eml"


def test_sendmail_delay_warning_with_returned_headers() -> None:
    p = parsed("mikel-mail/multipart_report_emails_report_422.eml")
    assert p.subject == "Warning: could not send message for past 8 hours"
    assert p.text.startswith(
        "Delivery status report:\n"
        "- fraser@oooooooo.com.au: delayed, status 4.2.2 "
        "(452 4.2.2 <fraser@oooooooo.com.au>... Mailbox full)\n"
        "\n"
    )
    assert "**  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **" in p.text
    assert p.text.endswith(
        "---------- Returned message headers ----------\n"
        "> From: Sydney <jennifer@sss.sssssss.net.au>\n"
        "> Date: Wed, 16 Jan 2008 08:38:07 +0000\n"  # 19:38:07 +1100
        "> Subject: Wanted"
    )


def test_sendmail_failure_names_the_unknown_address() -> None:
    p = parsed("mikel-mail/multipart_report_emails_report_530.eml")
    assert p.text.startswith(
        "Delivery status report:\n"
        "- edwin@zzzzzzz.com: failed, status 5.3.0 "
        "(553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address)\n"
    )


def test_a_report_part_that_is_prose_is_shown_as_text() -> None:
    # InterMail: the first message/delivery-status part holds prose, the second the fields;
    # its Final-Recipient is written "RFC822; <u@ci.com>".
    p = parsed("mikel-mail/multipart_report_emails_multipart_report_multiple_status.eml")
    assert p.text.startswith(
        "Delivery status report:\n"
        "- u@ci.com: failed, status 5.3.0\n"
        "\n"
        "This Message was undeliverable due to the following reason:\n"
        "\n"
        "\n"
        "<u@ci.com> has restricted SMS e-mail\n"
    )
    assert "> Subject: Your Friend F M wants you to join HomeRun" in p.text


# --------------------------------------------------------------------------- refolding


def test_flattened_folding_is_indented_again() -> None:
    raw = (
        b"Received: from a.example (a.example [192.0.2.1])\r\n"
        b"(using TLSv1.3)\r\n"
        b"by b.example; Thu, 12 Feb 2026 12:21:04 +0000\r\n"
        b"From: Shop <shop@a.example>\r\n"
        b"Subject: Order 42\r\n"
        b"\r\n"
        b"body\r\n"
    )
    assert refold_headers(raw) == raw.replace(b"\r\n(", b"\r\n (").replace(b"\r\nby", b"\r\n by")


def test_a_stray_line_before_the_body_is_not_a_header_block() -> None:
    # cpython's msg_35: no blank line after the headers; the first line of the body follows.
    raw = (CORPUS / "cpython" / "msg_35.eml").read_bytes()
    assert refold_headers(raw) is None
    assert refold_headers(b"just text\nFrom: a@b.example\nSubject: x\n") is None


def test_a_blank_line_inside_the_headers_is_bridged_only_for_the_missing_from() -> None:
    split = b"Received: by x\n(local)\n\nFrom: a@b.example\nSubject: s\nTo: c@d.example\n\nhi\n"
    assert refold_headers(split) == (
        b"Received: by x\n (local)\nFrom: a@b.example\nSubject: s\nTo: c@d.example\n\nhi\n"
    )
    whole = b"From: a@b.example\nx\nSubject: s\nTo: t@d.example\n\nFrom: quoted@line\n"
    assert refold_headers(whole) == (
        b"From: a@b.example\n x\nSubject: s\nTo: t@d.example\n\nFrom: quoted@line\n"
    )


# ------------------------------------------------------------------ through IMAP, as stored

PGP_MIME = (
    b"From: Alice <alice@customer.example>\r\n"
    b"To: help@frontdesk.test\r\n"
    b"Subject: ...\r\n"
    b"Message-ID: <pgp1@customer.example>\r\n"
    b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
    b' boundary="enc"\r\n'
    b"\r\n"
    b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
    b"--enc\r\n"
    b"Content-Type: application/pgp-encrypted\r\n"
    b"Content-Description: PGP/MIME version identification\r\n"
    b"\r\n"
    b"Version: 1\r\n"
    b"\r\n"
    b"--enc\r\n"
    b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
    b"Content-Description: OpenPGP encrypted message\r\n"
    b'Content-Disposition: inline; filename="encrypted.asc"\r\n'
    b"\r\n"
    b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA5v1E4UrMPRkAQf/dKq\r\n=p0Ls\r\n"
    b"-----END PGP MESSAGE-----\r\n"
    b"\r\n"
    b"--enc--\r\n"
)


@pytest.mark.usefixtures("imap_password")
async def test_what_the_agent_gets_from_the_mailbox(
    dovecot: DovecotServer, store: Store, astore: AsyncStore
) -> None:
    forward = (CORPUS / "stalwart-mail-parser" / "thirdparty_015.eml").read_bytes()
    bounce = (CORPUS / "mikel-mail" / "multipart_report_emails_report_530.eml").read_bytes()
    dovecot.append_many("INBOX", [forward, bounce, PGP_MIME])
    await sync(account_settings(dovecot), astore)
    rows = store.conn.execute("SELECT text, quote_offset FROM messages ORDER BY id").fetchall()
    assert len(rows) == 3
    (forwarded, offset), (bounced, _), (encrypted, _) = rows
    assert "> Subject: [Ticket ID: 255909] Bestellung: Proxmox VE inkl." in forwarded
    assert offset is None  # nothing folded away
    assert bounced.startswith("Delivery status report:\n- edwin@zzzzzzz.com: failed")
    # Thunderbird's shape of PGP/MIME: never an empty body.
    assert encrypted == "[encrypted message (PGP): the content cannot be shown]"
    # The forwarded subject is searchable, as the agent's search box reaches it.
    found = store.conn.execute(
        "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'Rabatt'"
    ).fetchone()[0]
    assert found == 1
