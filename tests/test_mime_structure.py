"""What an agent sees of forwarded mail, bounces and encrypted mail (never an empty body).

Expected texts are written out by hand from the messages each test builds.
"""

from __future__ import annotations

import base64

from connectors.email.mime import parse_message

CRLF = b"\r\n"


def entity(*headers: str, body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return CRLF.join(h.encode() for h in headers) + CRLF + CRLF + data


def multipart(boundary: str, *parts: bytes) -> bytes:
    marker = b"--" + boundary.encode()
    out = b"".join(marker + CRLF + p + CRLF for p in parts)
    return out + marker + b"--" + CRLF


FRENCH = "Bonjour,\r\n\r\nLa facture est due."
FORWARDED = entity(
    'From: "Dupont, Jean" <jean.dupont@example.fr>',
    "To: Support <help@example.com>",
    "Date: Tue, 4 Jun 2024 09:15:00 +0200",
    "Subject: =?utf-8?q?Facture_n=C2=B042_impay=C3=A9e?=",
    "Message-ID: <inner-1@example.fr>",
    'Content-Type: multipart/mixed; boundary="in"',
    body=multipart(
        "in",
        entity("Content-Type: text/plain; charset=utf-8", body=FRENCH),
        entity(
            "Content-Type: application/pdf",
            'Content-Disposition: attachment; filename="facture-42.pdf"',
            "Content-Transfer-Encoding: base64",
            body=base64.encodebytes(b"%PDF-1.4 facture"),
        ),
    ),
)


def test_forwarded_message_is_shown_as_a_quoted_block_with_its_headers() -> None:
    raw = entity(
        "From: Alice <alice@example.com>",
        "Subject: Fwd: Facture",
        'Content-Type: multipart/mixed; boundary="out"',
        body=multipart(
            "out",
            entity("Content-Type: text/plain", body="See below, can you help?"),
            entity("Content-Type: message/rfc822", body=FORWARDED),
        ),
    )
    p = parse_message(raw)
    assert p.text == (
        "See below, can you help?\n"
        "\n"
        "---------- Forwarded message ----------\n"
        "> From: Dupont, Jean <jean.dupont@example.fr>\n"
        "> Date: Tue, 04 Jun 2024 07:15:00 +0000\n"
        "> Subject: Facture n°42 impayée\n"
        "> To: Support <help@example.com>\n"
        ">\n"
        "> Bonjour,\n"
        ">\n"
        "> La facture est due."
    )
    # A forward is what the customer wants read: it is not folded away as a quote.
    assert p.quote_offset is None
    # The .eml stays listed, and the forwarded attachment is reachable by its IMAP section.
    assert [(a.filename, a.part) for a in p.attachments] == [
        ("Facture n°42 impayée.eml", "2"),
        ("facture-42.pdf", "2.2"),
    ]
    assert p.attachments[1].size == len(b"%PDF-1.4 facture")


def test_message_that_is_only_a_forward() -> None:
    raw = entity(
        "From: Alice <alice@example.com>",
        "Content-Type: message/rfc822",
        body=entity("From: bob@example.org", "Subject: Hi", body="Inner words"),
    )
    p = parse_message(raw)
    assert p.text == (
        "---------- Forwarded message ----------\n"
        "> From: bob@example.org\n> Subject: Hi\n>\n> Inner words"
    )


def test_forward_of_a_forward_nests_the_quotes() -> None:
    innermost = entity("From: c@example.org", "Subject: Deep", body="bottom")
    middle = entity(
        "From: b@example.org",
        "Subject: Middle",
        'Content-Type: multipart/mixed; boundary="m"',
        body=multipart(
            "m",
            entity("Content-Type: text/plain", body="middle text"),
            entity("Content-Type: message/rfc822", body=innermost),
        ),
    )
    raw = entity("Content-Type: message/rfc822", body=middle)
    assert parse_message(raw).text == (
        "---------- Forwarded message ----------\n"
        "> From: b@example.org\n"
        "> Subject: Middle\n"
        ">\n"
        "> middle text\n"
        ">\n"
        "> ---------- Forwarded message ----------\n"
        "> > From: c@example.org\n"
        "> > Subject: Deep\n"
        "> >\n"
        "> > bottom"
    )


DSN = (
    "Reporting-MTA: dns; mx.example.net\r\n"
    "Arrival-Date: Mon, 3 Jun 2024 10:00:00 +0000\r\n"
    "\r\n"
    "Final-Recipient: rfc822; gone@example.org\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>:\r\n"
    "  user unknown\r\n"
    "\r\n"
    "Original-Recipient: rfc822; full@example.org\r\n"
    "Final-Recipient: RFC822; full@example.org\r\n"
    "Action: delayed\r\n"
    "Status: 4.2.2\r\n"
)


def bounce(dsn: str) -> bytes:
    returned = entity(
        "From: Support <help@example.com>",
        "To: gone@example.org",
        "Subject: Your ticket #12",
        "Date: Mon, 3 Jun 2024 09:59:00 +0000",
        body="We fixed it.",
    )
    return entity(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        "Subject: Undelivered Mail Returned to Sender",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        body=multipart(
            "r",
            entity("Content-Type: text/plain", body="I'm sorry to have to inform you..."),
            entity("Content-Type: message/delivery-status", body=dsn),
            entity("Content-Type: message/rfc822", body=returned),
        ),
    )


def test_bounce_shows_the_delivery_status_summary_first() -> None:
    p = parse_message(bounce(DSN))
    assert p.text == (
        "Delivery status report:\n"
        "- gone@example.org: failed, status 5.1.1 (550 5.1.1 <gone@example.org>: user unknown)\n"
        "- full@example.org: delayed, status 4.2.2\n"
        "\n"
        "I'm sorry to have to inform you...\n"
        "\n"
        "---------- Returned message ----------\n"
        "> From: Support <help@example.com>\n"
        "> Date: Mon, 03 Jun 2024 09:59:00 +0000\n"
        "> Subject: Your ticket #12\n"
        "> To: gone@example.org\n"
        ">\n"
        "> We fixed it."
    )
    # Our own returned message is context: folded like a quote.
    assert p.quote_offset == p.text.index("> From: Support")


def test_bounce_with_many_recipients_lists_twenty() -> None:
    blocks = "".join(
        f"\r\nFinal-Recipient: rfc822; user{n}@example.org\r\nAction: failed\r\n" for n in range(25)
    )
    p = parse_message(bounce("Reporting-MTA: dns; mx.example.net\r\n" + blocks))
    lines = p.text.split("\n")
    assert lines[1] == "- user0@example.org: failed"
    assert lines[20] == "- user19@example.org: failed"
    assert lines[21] == "- ... and 5 more recipients"


def test_pgp_mime_encrypted_message_says_so() -> None:
    raw = entity(
        "From: Alice <alice@example.com>",
        "Subject: ...",
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"',
        body=multipart(
            "e",
            entity("Content-Type: application/pgp-encrypted", body="Version: 1"),
            entity(
                'Content-Type: application/octet-stream; name="encrypted.asc"',
                body="-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----",
            ),
        ),
    )
    p = parse_message(raw)
    assert p.text == "[encrypted message (PGP): the content cannot be shown]"
    # Both parts stay listed (the agent may save and decrypt them).
    assert [a.content_type for a in p.attachments] == [
        "application/pgp-encrypted",
        "application/octet-stream",
    ]
    assert p.attachments[1].filename == "encrypted.asc"


def test_smime_enveloped_message_says_so() -> None:
    raw = entity(
        "From: Alice <alice@example.com>",
        'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        "Content-Disposition: attachment; filename=smime.p7m",
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(b"\x30\x80\x06\x09*\x86H\x86\xf7\r\x01\x07\x03"),
    )
    p = parse_message(raw)
    assert p.text == "[encrypted message (S/MIME): the content cannot be shown]"
    assert [a.filename for a in p.attachments] == ["smime.p7m"]


def test_smime_multipart_encrypted_protocol_is_named() -> None:
    raw = entity(
        'Content-Type: multipart/encrypted; protocol="application/pkcs7-mime"; boundary="e"',
        body=multipart("e", entity("Content-Type: application/octet-stream", body="blob")),
    )
    assert parse_message(raw).text == "[encrypted message (S/MIME): the content cannot be shown]"


def test_opaque_smime_signature_says_the_content_is_inside() -> None:
    raw = entity(
        "Content-Type: application/x-pkcs7-mime; smime-type=signed-data; name=smime.p7m",
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(b"\x30\x80"),
    )
    assert parse_message(raw).text == (
        "[signed message (S/MIME): the content is inside the signature, not shown]"
    )


def test_encrypted_part_in_an_unchosen_alternative_adds_nothing() -> None:
    raw = entity(
        'Content-Type: multipart/alternative; boundary="a"',
        body=multipart(
            "a",
            entity("Content-Type: text/plain", body="plain words"),
            entity(
                'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";'
                ' boundary="e"',
                body=multipart("e", entity("Content-Type: application/pgp-encrypted", body="x")),
            ),
        ),
    )
    assert parse_message(raw).text == "plain words"


def test_inline_pgp_block_becomes_the_notice_and_the_words_around_it_stay() -> None:
    armored = (
        "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA5v1E4UrMPRkAQf/dKq\r\n=p0Ls\r\n"
        "-----END PGP MESSAGE-----"
    )
    raw = entity(
        "From: Alice <alice@example.com>",
        "Content-Type: text/plain; charset=utf-8",
        body=f"Hi,\r\n\r\n{armored}\r\n\r\nSent from K-9 Mail.",
    )
    p = parse_message(raw)
    assert p.text == (
        "Hi,\n\n[encrypted message (PGP): the content cannot be shown]\n\nSent from K-9 Mail."
    )
    assert "encrypted message: the content cannot be shown" in p.problems
    # A block cut off before its END line is hidden to the end; a quoted one is left alone.
    cut = entity("Content-Type: text/plain", body="Hi,\r\n" + armored.split("=p0Ls")[0])
    assert parse_message(cut).text == "Hi,\n[encrypted message (PGP): the content cannot be shown]"
    quoted = entity("Content-Type: text/plain", body="> -----BEGIN PGP MESSAGE-----\r\n> x")
    assert parse_message(quoted).text == "> -----BEGIN PGP MESSAGE-----\n> x"


def test_a_forwarded_from_without_an_address_is_shown_as_written() -> None:
    inner = entity("From: Someone Else", "Subject: Hi", body="Please say hello")
    raw = entity("Content-Type: message/rfc822", body=inner)
    assert parse_message(raw).text == (
        "---------- Forwarded message ----------\n"
        "> From: Someone Else\n> Subject: Hi\n>\n> Please say hello"
    )


def test_a_forward_without_headers_starts_with_its_text() -> None:
    # As sent: an attached "message" whose first line is no header (stalwart malformed/022).
    raw = entity("Content-Type: message/rfc822", body="this attachment is not a valid eml")
    assert parse_message(raw).text == (
        "---------- Forwarded message ----------\n> this attachment is not a valid eml"
    )
