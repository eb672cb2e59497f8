"""connectors.email.mime: real-world, broken and hostile mail parses into clean data, never
raising."""

from __future__ import annotations

import base64
import email
import pickle
import quopri
import unicodedata
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email.mime import (
    HTML_LIMIT,
    MAX_DEPTH,
    TEXT_LIMIT,
    Address,
    ParsedMessage,
    find_quote_offset,
    normalise_subject,
    parse_many,
    parse_message,
)

CRLF = b"\r\n"


def mail(*headers: str | bytes, body: bytes | str = b"hello") -> bytes:
    """A raw message from header lines and a body, CRLF line ends."""
    head = [h.encode("utf-8") if isinstance(h, str) else h for h in headers]
    data = body.encode("utf-8") if isinstance(body, str) else body
    return CRLF.join(head) + CRLF + CRLF + data


def multipart(subtype: str, boundary: str, *parts: bytes, close: bool = True) -> bytes:
    """A multipart body (without the outer headers) from raw parts."""
    marker = b"--" + boundary.encode()
    out = b"preamble to ignore" + CRLF
    for part in parts:
        out += marker + CRLF + part + CRLF
    return out + (marker + b"--" + CRLF + b"epilogue" + CRLF if close else b"")


def ctype_multipart(subtype: str, boundary: str) -> str:
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"'


def part(*headers: str, body: bytes | str) -> bytes:
    head = CRLF.join(h.encode() for h in headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head + CRLF + CRLF + data


def assert_clean(parsed: ParsedMessage) -> None:
    """What reaches the screen carries no control characters."""
    for value in (parsed.text, parsed.subject, *(a.name for a in parsed.to)):
        assert not any(
            unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in value
        ), value
    assert "\n" not in parsed.subject


# --------------------------------------------------------------------------- basics


def test_plain_ascii_message() -> None:
    raw = mail(
        "From: Alice Example <Alice@Example.COM>",
        "To: support@example.com, Bob <bob@example.org>",
        "Cc: carol@example.net",
        "Reply-To: replies@example.com",
        "Subject: Cannot log in",
        "Date: Mon, 3 Jun 2024 10:00:00 +0200",
        "Message-ID: <abc.123@example.com>",
        body="Hello,\r\nI cannot log in.\r\n",
    )
    p = parse_message(raw)
    assert p.sender == Address("Alice Example", "alice@example.com")
    assert p.to == (Address("", "support@example.com"), Address("Bob", "bob@example.org"))
    assert p.cc == (Address("", "carol@example.net"),)
    assert p.reply_to == (Address("", "replies@example.com"),)
    assert p.subject == "Cannot log in"
    assert p.date == datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
    assert p.message_id == "<abc.123@example.com>"
    assert p.text == "Hello,\nI cannot log in."
    assert p.html is None
    assert p.quote_offset is None
    assert p.attachments == ()
    assert p.problems == ()


def test_missing_message_id_date_and_from() -> None:
    p = parse_message(mail("Subject: anonymous", body="text"))
    assert (p.message_id, p.date, p.sender, p.in_reply_to) == (None, None, None, None)
    assert p.references == ()
    assert p.text == "text"


def test_empty_input_and_headers_only() -> None:
    assert parse_message(b"").text == ""
    p = parse_message(b"Subject: only headers\r\nFrom: a@b.c")
    assert (p.subject, p.sender, p.text) == ("only headers", Address("", "a@b.c"), "")


def test_lf_only_line_ends() -> None:
    p = parse_message(b"Subject: unix\nFrom: a@b.c\n\nline one\nline two\n")
    assert (p.subject, p.text) == ("unix", "line one\nline two")


def test_bytearray_input_is_accepted() -> None:
    # aioimaplib hands FETCH bodies over as bytearray.
    assert parse_message(bytearray(mail("Subject: x", body="y"))).text == "y"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- charsets


def test_utf8_base64_body() -> None:
    text = "Grüße, 日本語, emoji 👍\n"
    raw = mail(
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(text.encode()),
    )
    p = parse_message(raw)
    assert p.text == text.strip()
    assert p.problems == ()


def test_iso_8859_1_quoted_printable() -> None:
    text = "Café crème à la française, über 100 € wait no euro in latin-1"
    body = quopri.encodestring(text.replace(" €", "").encode("iso-8859-1"))
    raw = mail(
        'Content-Type: text/plain; charset="ISO-8859-1"',
        "Content-Transfer-Encoding: quoted-printable",
        body=body,
    )
    assert parse_message(raw).text == text.replace(" €", "")


def test_windows_1252_characters_in_a_latin1_label() -> None:
    # Mail labelled iso-8859-1 routinely carries cp1252 quotes; WHATWG decodes it as cp1252.
    raw = mail("Content-Type: text/plain; charset=iso-8859-1", body="“smart” – €".encode("cp1252"))
    assert parse_message(raw).text == "“smart” – €"


def test_iso_2022_jp() -> None:
    text = "お世話になっております。注文の件です。"
    raw = mail(
        "Content-Type: text/plain; charset=ISO-2022-JP",
        "Content-Transfer-Encoding: 7bit",
        body=text.encode("iso-2022-jp"),
    )
    p = parse_message(raw)
    assert p.text == text
    assert p.problems == ()


def test_koi8_r_8bit() -> None:
    text = "Здравствуйте, не могу войти."
    raw = mail(
        "Content-Type: text/plain; charset=koi8-r",
        "Content-Transfer-Encoding: 8bit",
        body=text.encode("koi8-r"),
    )
    assert parse_message(raw).text == text


def test_unknown_charset_falls_back_and_says_so() -> None:
    raw = mail("Content-Type: text/plain; charset=x-foo", body="caf\xe9".encode("latin-1"))
    p = parse_message(raw)
    assert p.text == "café"
    assert any("unknown charset x-foo" in note for note in p.problems)


def test_unknown_charset_on_ascii_text_is_not_a_problem() -> None:
    p = parse_message(mail("Content-Type: text/plain; charset=x-foo", body="plain ascii"))
    assert (p.text, p.problems) == ("plain ascii", ())


def test_lying_charset_utf8_label_on_latin1_bytes() -> None:
    raw = mail("Content-Type: text/plain; charset=utf-8", body="Café olé".encode("latin-1"))
    p = parse_message(raw)
    assert p.text == "Café olé"
    assert any("declared utf-8 but is not" in note for note in p.problems)


def test_lying_charset_latin1_label_on_utf8_bytes() -> None:
    raw = mail("Content-Type: text/plain; charset=iso-8859-1", body="Café 日本".encode())
    p = parse_message(raw)
    assert p.text == "Café 日本"
    assert any("is UTF-8" in note for note in p.problems)


def test_damaged_multibyte_text_keeps_its_charset() -> None:
    body = "日本語のテキスト".encode("shift_jis") + b"\x81\x7f" + "です".encode("shift_jis")
    p = parse_message(mail("Content-Type: text/plain; charset=shift_jis", body=body))
    assert p.text.startswith("日本語のテキスト") and p.text.endswith("です")
    assert any("bad bytes replaced" in note for note in p.problems)


@pytest.mark.parametrize("charset", ["base64", "zlib", "rot13", "punycode", "unicode_escape"])
def test_codecs_that_are_not_charsets_are_refused(charset: str) -> None:
    raw = mail(
        f"Content-Type: text/plain; charset={charset}", body="\\u0041 caf\xe9".encode("latin-1")
    )
    p = parse_message(raw)
    assert p.text == "\\u0041 café"
    assert any(f"unknown charset {charset}" in note for note in p.problems)


def test_html_meta_charset_is_used_when_the_header_has_none() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Привет</body></html>'
    raw = mail("Content-Type: text/html", body=html.encode("cp1251"))
    assert parse_message(raw).text == "Привет"


# --------------------------------------------------------------------------- headers


def test_rfc2047_subject_and_names() -> None:
    raw = mail(
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= =?utf-8?b?YXVz?=  =?iso-8859-1?q?_M=FCnchen?=",
        'From: "=?utf-8?q?M=C3=BCller=2C_J=C3=B6rg?=" <j@example.de>',
        "To: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>, =?utf-8?Q?Zo=C3=AB?= <zoe@example.ie>",
    )
    p = parse_message(raw)
    # Whitespace between encoded words is dropped (RFC 2047 §6.2).
    assert p.subject == "Grüßeaus München"
    assert p.sender == Address("Müller, Jörg", "j@example.de")
    assert [a.name for a in p.to] == ["山田", "Zoë"]


def test_multibyte_character_split_across_encoded_words() -> None:
    word = "日本".encode()
    first, second = base64.b64encode(word[:4]).decode(), base64.b64encode(word[4:]).decode()
    raw = mail(f"Subject: =?utf-8?b?{first}?= =?utf-8?b?{second}?=")
    assert parse_message(raw).subject == "日本"


def test_literal_backslash_u_in_subject_survives() -> None:
    # email.header.decode_header would turn this into "A" (raw-unicode-escape round trip).
    raw = mail("Subject: path C:\\u0041 =?utf-8?q?caf=C3=A9?=")
    assert parse_message(raw).subject == "path C:\\u0041 café"


@pytest.mark.parametrize(
    "subject",
    [
        "=?utf-8?b?!!!notbase64?=",
        "=?utf-8?q?unterminated",
        "=?x-unknown-cs?q?abc?=",
        "=??q?abc?=",
        "=?utf-8?x?abc?=",
        "=?utf-8?b?A?=",
        "=?utf-8?q?=FF=FE?=",
        "=?utf-8?q?caf\u00e9?=",
    ],
)
def test_malformed_encoded_words_do_not_crash(subject: str) -> None:
    p = parse_message(mail(f"Subject: before {subject} after"))
    assert p.subject.startswith("before ") and p.subject.endswith(" after")
    assert_clean(p)


def test_broken_encoded_word_is_kept_as_written() -> None:
    p = parse_message(mail("Subject: =?utf-8?q?fine?= =?utf-8?b?@@@?= ok"))
    assert p.subject == "fine =?utf-8?b?@@@?= ok"
    assert any("malformed encoded word" in note for note in p.problems)


def test_raw_8bit_utf8_and_latin1_headers() -> None:
    raw = mail(
        "Subject: Grüße".encode(),
        "From: Jörg <j@example.de>".encode("latin-1"),
    )
    p = parse_message(raw)
    assert p.subject == "Grüße"
    assert p.sender == Address("Jörg", "j@example.de")
    assert any("not UTF-8" in note for note in p.problems)


def test_escape_sequences_and_bidi_in_headers_are_neutralised() -> None:
    raw = mail(
        "Subject: =?utf-8?q?=1B]0;pwned=07Invoice_=E2=80=AEfdp.exe?=",
        "From: =?utf-8?q?Support=E2=80=8B_Team=1B=5B2J?= <x@example.com>",
    )
    p = parse_message(raw)
    assert p.subject == "Invoice fdp.exe"
    assert p.sender == Address("Support Team", "x@example.com")


def test_unusual_address_forms_use_the_full_parser() -> None:
    raw = mail(
        "From: alice@example.com (Alice Comment)",
        'To: friends: "Bob \\"B\\"" <bob@example.com>, carol@example.com;, dave@[192.0.2.1]',
        "Cc: undisclosed-recipients:;",
    )
    p = parse_message(raw)
    assert p.sender == Address("Alice Comment", "alice@example.com")
    assert [a.email for a in p.to] == ["bob@example.com", "carol@example.com", "dave@[192.0.2.1]"]
    assert p.to[0].name == 'Bob "B"'
    assert p.cc == ()


def test_duplicate_addresses_are_listed_once() -> None:
    p = parse_message(mail("To: a@example.com, A <A@Example.com>, b@example.com"))
    assert [a.email for a in p.to] == ["a@example.com", "b@example.com"]


def test_duplicate_from_header_is_noted() -> None:
    p = parse_message(mail("From: real@example.com", "From: forged@example.com"))
    assert p.sender is not None and p.sender.email == "real@example.com"
    assert any("more than one from header" in note for note in p.problems)


def test_references_in_reply_to_and_message_id_normalised() -> None:
    raw = mail(
        "Message-ID:   <  id-1@example.com >",
        "In-Reply-To: <parent@example.com> (Bob's message of Monday)",
        "References: <root@example.com>\r\n\t<mid@example.com> <parent@example.com>",
        "References: <root@example.com> <late@example.com>",
    )
    p = parse_message(raw)
    assert p.message_id == "<id-1@example.com>"
    assert p.in_reply_to == "<parent@example.com>"
    assert p.references == (
        "<root@example.com>",
        "<mid@example.com>",
        "<parent@example.com>",
        "<late@example.com>",
    )


def test_message_id_without_angle_brackets_gets_them() -> None:
    p = parse_message(mail("Message-ID: bare-id@example.com", "In-Reply-To: not an id"))
    assert (p.message_id, p.in_reply_to) == ("<bare-id@example.com>", None)


def test_very_long_references_keep_root_and_recent() -> None:
    refs = " ".join(f"<r{i}@x>" for i in range(500))
    p = parse_message(mail(f"References: {refs}"))
    assert p.references[0] == "<r0@x>" and p.references[-1] == "<r499@x>"
    assert len(p.references) == 200
    assert any("references" in note for note in p.problems)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 3 Jun 2024 10:00:00 +0200", datetime(2024, 6, 3, 8, 0, tzinfo=UTC)),
        ("3 Jun 2024 10:00 -0000", datetime(2024, 6, 3, 10, 0, tzinfo=UTC)),
        ("Mon, 03 Jun 24 10:00:00 EST", datetime(2024, 6, 3, 15, 0, tzinfo=UTC)),
        ("Mon, 3 Jun 2024 10:00:00 +0200 (CEST)", datetime(2024, 6, 3, 8, 0, tzinfo=UTC)),
    ],
)
def test_dates_become_aware_utc(value: str, expected: datetime) -> None:
    assert parse_message(mail(f"Date: {value}")).date == expected


@pytest.mark.parametrize(
    "value", ["yesterday", "Mon, 3 Jun 99999 10:00 +0000", "0 0 0 0", "32 Foo"]
)
def test_malformed_date_is_none_and_noted(value: str) -> None:
    p = parse_message(mail(f"Date: {value}"))
    assert p.date is None
    assert "malformed header Date" in p.problems


def test_ten_thousand_header_lines() -> None:
    headers = [f"X-Junk-{i}: value {i}" for i in range(10_000)]
    raw = mail(*headers, "Subject: still found", "From: late@example.com", body="body")
    p = parse_message(raw)
    assert (p.subject, p.text) == ("still found", "body")
    assert p.sender == Address("", "late@example.com")


def test_huge_header_value_is_capped() -> None:
    raw = mail(
        "Subject: " + "a" * 3_000_000, "To: " + ", ".join(f"u{i}@x.org" for i in range(50_000))
    )
    p = parse_message(raw)
    assert len(p.subject) <= 65_536
    assert 0 < len(p.to) <= 1_000
    assert any("longer than" in note for note in p.problems)


def test_junk_in_the_header_block_becomes_body() -> None:
    p = parse_message(b"Subject: x\r\nthis line is no header\r\nFrom: a@b.c\r\n\r\nbody")
    assert p.subject == "x"
    assert p.text.startswith("this line is no header")
    assert any("malformed header" in note for note in p.problems)


# --------------------------------------------------------------------------- HTML


HTML_MAIL = """<html><head><title>Title</title>
<style>p { color: red } .secret { display:none }</style>
<script>document.write('SCRIPT-CONTENT')</script></head>
<body><p>Hello <b>Alice</b>,</p>
<table><tr><th>Item</th><th>Price</th></tr><tr><td>Widget</td><td>9.99</td></tr></table>
<p>See <a href="https://example.com/orders/42">your order</a>.</p>
<img src="https://tracker.example/pixel.gif" alt="tracking pixel">
<script type="text/javascript">var x = "MORE-SCRIPT";</script>
<p>1. first &amp; foremost &#x1b;[31m</p>
</body></html>"""


def test_html_only_message() -> None:
    raw = mail("Content-Type: text/html; charset=utf-8", body=HTML_MAIL)
    p = parse_message(raw)
    assert "SCRIPT" not in p.text and "color: red" not in p.text
    assert "Hello Alice," in p.text
    assert "Widget" in p.text and "9.99" in p.text
    assert "[your order](https://example.com/orders/42)" in p.text
    assert "pixel" not in p.text
    assert "1. first & foremost" in p.text
    assert "\x1b" not in p.text
    assert p.html is not None and "<script>" in p.html  # kept for later, never rendered raw


def test_html_lines_are_not_rewrapped() -> None:
    long_line = "word " * 100
    p = parse_message(mail("Content-Type: text/html", body=f"<p>{long_line}</p>"))
    assert p.text == long_line.strip()


def test_huge_html_is_capped() -> None:
    html = "<p>" + "x" * (HTML_LIMIT + 10) + "</p>"
    p = parse_message(mail("Content-Type: text/html", body=html))
    assert p.html is not None and len(p.html) == HTML_LIMIT
    assert p.problems


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # Python 3.11's HTMLParser rescans the document at each unclosed construct
        # (quadratic); html2text indents every nested list level (quadratic output).
        pytest.param("<a " * 20_000 + "end", "end", id="unclosed-tags"),
        pytest.param('<a href="' * 20_000 + "end", "end", id="unclosed-attribute"),
        pytest.param("text <!-- " * 20_000, "text", id="unclosed-comments"),
        pytest.param("<![CDATA[" * 20_000 + "end", "end", id="cdata"),
        pytest.param("<ul><li>" * 20_000 + "deep", "deep", id="nested-lists"),
        pytest.param("<blockquote><ol><li>" * 2_000 + "deep", "deep", id="nested-quotes"),
    ],
)
def test_hostile_html_is_converted(html: str, expected: str) -> None:
    p = parse_message(mail("Content-Type: text/html", body=html))
    assert expected in p.text
    assert len(p.text) < 2_000_000


def test_html_defusing_keeps_ordinary_markup() -> None:
    html = (
        "<!DOCTYPE html><!--[if mso]><p>MSO only</p><![endif]-->"
        "<p>a &lt; b and c > d</p><ul><li>one<ul><li>two</li></ul></li></ul>"
        "<script>if (a<b) { x = '<p>' }</script><p title=\"it's\">end</p>"
    )
    text = parse_message(mail("Content-Type: text/html", body=html)).text
    assert "MSO only" not in text and "if (a" not in text
    assert "a < b and c > d" in text
    assert "  * two" in text
    assert text.endswith("end")


# --------------------------------------------------------------------------- multipart


def alternative(plain: str, html: str, boundary: str = "alt") -> bytes:
    return multipart(
        "alternative",
        boundary,
        part("Content-Type: text/plain; charset=utf-8", body=plain),
        part("Content-Type: text/html; charset=utf-8", body=html),
    )


def test_multipart_alternative_prefers_plain_and_keeps_html() -> None:
    raw = mail(
        ctype_multipart("alternative", "alt"), body=alternative("Plain body", "<p>HTML body</p>")
    )
    p = parse_message(raw)
    assert p.text == "Plain body"
    assert p.html == "<p>HTML body</p>"


def test_multipart_alternative_with_empty_plain_uses_html() -> None:
    raw = mail(
        ctype_multipart("alternative", "alt"), body=alternative("  \r\n", "<p>Only <i>HTML</i></p>")
    )
    assert parse_message(raw).text == "Only HTML"


def test_alternative_of_related_html_with_inline_image() -> None:
    related = multipart(
        "related",
        "rel",
        part("Content-Type: text/html", body='<p>Logo: <img src="cid:logo@x"></p>'),
        part(
            "Content-Type: image/png",
            "Content-Transfer-Encoding: base64",
            "Content-ID: <logo@x>",
            "Content-Disposition: inline",
            body=base64.encodebytes(b"\x89PNG" + bytes(96)),
        ),
    )
    body = multipart("alternative", "alt", part(ctype_multipart("related", "rel"), body=related))
    p = parse_message(mail(ctype_multipart("alternative", "alt"), body=body))
    assert p.text == "Logo:"
    (image,) = p.attachments
    assert (image.content_type, image.size, image.content_id, image.inline) == (
        "image/png",
        100,
        "logo@x",
        True,
    )
    assert image.filename == "part-1.2.png"
    assert image.part == "1.2"


def test_multipart_mixed_concatenates_inline_text_parts() -> None:
    body = multipart(
        "mixed",
        "mix",
        part("Content-Type: text/plain", body="First part"),
        part("Content-Type: image/gif", "Content-Transfer-Encoding: base64", body="R0lGODlh"),
        part("Content-Type: text/plain", body="Second part"),
    )
    p = parse_message(mail(ctype_multipart("mixed", "mix"), body=body))
    assert p.text == "First part\n\nSecond part"
    assert [a.content_type for a in p.attachments] == ["image/gif"]


def test_attachments_with_names_and_sizes() -> None:
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 40
    body = multipart(
        "mixed",
        "mix",
        part("Content-Type: text/plain", body="See attached"),
        part(
            'Content-Type: application/pdf; name="ignored.pdf"',
            "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates%20%C3%BC.pdf",
            "Content-Transfer-Encoding: base64",
            body=base64.encodebytes(pdf),
        ),
        part(
            "Content-Type: text/csv",
            'Content-Disposition: attachment; filename="=?utf-8?q?b=C3=A9l=C3=A8ge.csv?="',
            "Content-Transfer-Encoding: quoted-printable",
            body="a,b=\r\n,c\r\n",
        ),
        part(
            "Content-Type: application/octet-stream",
            'Content-Disposition: attachment; filename="../../.ssh/authorized_keys"',
            body="ssh-rsa AAAA",
        ),
        part(
            "Content-Type: text/plain",
            'Content-Disposition: attachment; filename="notes.txt"',
            body="x",
        ),
    )
    p = parse_message(mail(ctype_multipart("mixed", "mix"), body=body))
    assert p.text == "See attached"
    assert [(a.filename, a.content_type, a.size) for a in p.attachments] == [
        ("€ rates ü.pdf", "application/pdf", len(pdf)),
        ("bélège.csv", "text/csv", len(b"a,b,c\r\n")),
        ("authorized_keys", "application/octet-stream", len(b"ssh-rsa AAAA")),
        ("notes.txt", "text/plain", 1),
    ]
    assert [a.part for a in p.attachments] == ["2", "3", "4", "5"]


def test_attached_message_is_listed_and_shown_inline() -> None:
    inner = mail(
        "From: someone@example.org",
        "Subject: =?utf-8?q?Original_r=C3=A9ponse?=",
        body="INNER TEXT",
    )
    body = multipart(
        "mixed",
        "mix",
        part("Content-Type: text/plain", body="Forwarding this"),
        part("Content-Type: message/rfc822", body=inner),
    )
    p = parse_message(mail(ctype_multipart("mixed", "mix"), body=body))
    assert p.text == (
        "Forwarding this\n\n---------- Forwarded message ----------\n"
        "> From: someone@example.org\n> Subject: Original réponse\n>\n> INNER TEXT"
    )
    (attached,) = p.attachments
    assert attached.filename == "Original réponse.eml"
    assert attached.content_type == "message/rfc822"
    assert attached.size == len(inner)


def test_format_flowed_is_unwrapped() -> None:
    body = (
        "This is a long paragraph that the sender's \r\n"
        "client wrapped at 72 columns for \r\n"
        "transport.\r\n"
        "\r\n"
        "> Quoted text that was \r\n"
        "> wrapped too.\r\n"
        ">> Deeper \r\n"
        "> level change ends it\r\n"
        " From here, space-stuffed.\r\n"
        "-- \r\n"
        "Sig\r\n"
    )
    raw = mail("Content-Type: text/plain; charset=utf-8; format=flowed", body=body)
    assert parse_message(raw).text == (
        "This is a long paragraph that the sender's client wrapped at 72 columns for transport.\n"
        "\n"
        "> Quoted text that was wrapped too.\n"
        ">> Deeper \n"
        "> level change ends it\n"
        "From here, space-stuffed.\n"
        "-- \n"
        "Sig"
    )


def test_format_flowed_delsp() -> None:
    raw = mail(
        "Content-Type: text/plain; format=flowed; delsp=yes",
        body="Japanese has no spa \r\nces to keep.\r\n",
    )
    assert parse_message(raw).text == "Japanese has no spaces to keep."


def test_encrypted_message_is_noted() -> None:
    body = multipart(
        "encrypted",
        "enc",
        part("Content-Type: application/pgp-encrypted", body="Version: 1"),
        part('Content-Type: application/octet-stream; name="encrypted.asc"', body="-----BEGIN PGP"),
    )
    raw = mail('Content-Type: multipart/encrypted; boundary="enc"', body=body)
    p = parse_message(raw)
    assert "encrypted message: the content cannot be shown" in p.problems
    assert [a.content_type for a in p.attachments] == [
        "application/pgp-encrypted",
        "application/octet-stream",
    ]
    assert p.attachments[1].filename == "encrypted.asc"


def test_whole_message_that_is_an_attachment() -> None:
    raw = mail(
        "Content-Type: application/pdf",
        "Content-Disposition: attachment; filename=scan.pdf",
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(b"%PDF" * 10),
    )
    p = parse_message(raw)
    assert p.text == ""
    assert [(a.filename, a.size, a.part) for a in p.attachments] == [("scan.pdf", 40, "1")]


def test_uuencoded_attachment() -> None:
    body = b"begin 644 a.bin\r\n%2&5L;&\\`\r\n`\r\nend\r\n"
    raw = mail(
        "Content-Type: application/octet-stream; name=a.bin",
        "Content-Transfer-Encoding: x-uuencode",
        body=body,
    )
    (attached,) = parse_message(raw).attachments
    assert (attached.filename, attached.size) == ("a.bin", 5)


def test_damaged_base64_is_decoded_as_far_as_possible() -> None:
    raw = mail(
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: Base64 ",  # odd case and trailing space, too
        body=b"SGVsbG8gd29ybGQ",  # padding missing
    )
    p = parse_message(raw)
    assert p.text == "Hello world"
    assert any("damaged base64" in note for note in p.problems)


def test_base64_encoded_line_by_line() -> None:
    # Some mailers pad every line: a plain a2b_base64 would stop after the first one.
    lines = [base64.b64encode(chunk.encode()) for chunk in ("Hello ", "wide ", "world")]
    raw = mail("Content-Transfer-Encoding: base64", body=b"\r\n".join(lines))
    p = parse_message(raw)
    assert (p.text, p.problems) == ("Hello wide world", ())


def test_wrong_boundary_is_recovered() -> None:
    body = multipart(
        "mixed",
        "actual",
        part("Content-Type: text/plain", body="Recovered text"),
        part("Content-Type: application/zip; name=a.zip", body="PK"),
    )
    p = parse_message(mail(ctype_multipart("mixed", "declared"), body=body))
    assert p.text == "Recovered text"
    assert [a.filename for a in p.attachments] == ["a.zip"]
    assert any("boundary not found" in note for note in p.problems)


def test_missing_boundary_shows_the_raw_body() -> None:
    p = parse_message(mail("Content-Type: multipart/mixed", body="just some text"))
    assert p.text == "just some text"
    assert any("boundary missing" in note for note in p.problems)


def test_missing_closing_boundary() -> None:
    body = multipart(
        "mixed", "b", part("Content-Type: text/plain", body="cut off here"), close=False
    )
    p = parse_message(mail(ctype_multipart("mixed", "b"), body=body))
    assert p.text == "cut off here"
    assert any("closing MIME boundary missing" in note for note in p.problems)


def test_boundary_that_prefixes_another_line_is_not_split_on() -> None:
    body = multipart(
        "mixed", "b", part("Content-Type: text/plain", body="--bb is text\r\n--b-- not")
    )
    p = parse_message(mail(ctype_multipart("mixed", "b"), body=body))
    assert p.text == "--bb is text\n--b-- not"


def nested(depth: int) -> bytes:
    head = b"From: a@b.c\r\nSubject: deep\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\ninner text" + closing + CRLF


def test_deep_nesting_within_the_limit_is_read() -> None:
    assert parse_message(nested(MAX_DEPTH - 1)).text == "inner text"


@pytest.mark.parametrize("depth", [100, 5_000])
def test_deep_nesting_is_cut_with_a_note(depth: int) -> None:
    p = parse_message(nested(depth))
    assert p.subject == "deep"
    assert any(f"deeper than {MAX_DEPTH} levels" in note for note in p.problems)


def test_many_parts_are_capped() -> None:
    body = multipart("mixed", "x", *[part("Content-Type: text/plain", body="p")] * 3_000)
    p = parse_message(mail(ctype_multipart("mixed", "x"), body=body))
    assert any("more than 1000 MIME parts" in note for note in p.problems)


# --------------------------------------------------------------------------- size and junk


def test_ten_megabyte_body_is_truncated_with_a_note() -> None:
    body = (b"a" * 99 + CRLF) * 100_000  # ~10 MB
    p = parse_message(mail("Subject: big", body=body))
    assert 0 < len(p.text) <= TEXT_LIMIT
    assert any("truncated" in note for note in p.problems)


def test_nul_bytes_and_escapes_in_the_body() -> None:
    body = "be\x00fore \x1b]52;c;SGVsbG8=\x07 \x1b[31mred\x9b0m after"
    raw = mail("Subject: n\x00ul", "Content-Type: text/plain; charset=utf-8", body=body)
    p = parse_message(raw)
    assert p.subject == "nul"
    assert p.text == "before  red after"
    assert_clean(p)


def test_raw_c1_byte_is_printable_in_windows_1252() -> None:
    # Byte 0x9B is not UTF-8, so it is read as cp1252, where it is the harmless "›".
    p = parse_message(mail(body=b"a\x9bb"))
    assert p.text == "a\u203ab"


def test_binary_junk_does_not_crash() -> None:
    junk = bytes(range(256)) * 50
    p = parse_message(junk)
    assert_clean(p)
    p = parse_message(mail("Content-Type: text/plain; charset=utf-8", body=junk))
    assert_clean(p)


# --------------------------------------------------------------------------- quotes


def test_quote_offset_at_attribution_line() -> None:
    text = (
        "Thanks, that worked!\n\n"
        "On Mon, 3 Jun 2024 at 10:00, Support <help@example.com> wrote:\n"
        "> Please try again.\n"
        ">\n"
        "> Support\n"
    )
    p = parse_message(mail(body=text))
    assert p.quote_offset == p.text.index("On Mon")


def test_attribution_wrapped_over_two_lines() -> None:
    text = (
        "Yes.\n\nOn Mon, 3 Jun 2024 at 10:00, A Very Long Name\n<someone@example.com> wrote:\n> q\n"
    )
    assert find_quote_offset(text) == text.index("On Mon")


def test_quote_offset_at_first_line_of_trailing_quote() -> None:
    text = "My answer.\n\n> quoted line one\n> quoted line two\n"
    assert find_quote_offset(text) == text.index("> quoted line one")


def test_interleaved_quotes_are_not_folded() -> None:
    text = "> question one?\nanswer one\n> question two?\nanswer two\n"
    assert find_quote_offset(text) is None


def test_interleaved_reply_after_attribution_is_not_folded() -> None:
    text = "On Mon, 3 Jun 2024, Bob <b@x.com> wrote:\n> q1\nanswer 1\n> q2\nanswer 2\n"
    assert find_quote_offset(text) is None


def test_signature_is_folded() -> None:
    text = "Short reply.\n\n-- \nAlice\nACME Corp\n"
    assert find_quote_offset(text) == text.index("-- \n")


def test_outlook_quote_block() -> None:
    text = (
        "Reply on top.\n\n________________________________\n"
        "From: Support <help@example.com>\nSent: Monday, June 3, 2024 10:00 AM\n"
        "To: Alice\nSubject: RE: ticket\n\nOld text without quote marks\n"
    )
    assert find_quote_offset(text) == text.index("____")


def test_original_message_separator() -> None:
    text = "Top.\n\n-----Original Message-----\nFrom: x\nold\n"
    assert find_quote_offset(text) == text.index("-----Original")


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the system wrote:\nError 0x80070005 access denied\n",  # no date, no address
        "Hello\n\n---------- Forwarded message ---------\nFrom: A <a@x.com>\nDate: Mon\n\nbody\n",
        "Just text.\nNothing quoted.",
        "",
    ],
)
def test_no_fold(text: str) -> None:
    assert find_quote_offset(text) is None


def test_long_quoted_history_is_folded() -> None:
    # Far more lines than are examined one by one: the tail is still judged correctly.
    top = "Top reply.\n\nOn Mon, 3 Jun 2024, Bob <b@x.com> wrote:\n"
    history = "> older line\n" * 30_000
    assert find_quote_offset(top + history) == top.index("On Mon")
    assert find_quote_offset(top + history + "-- \nsig\n") == top.index("On Mon")
    assert find_quote_offset(top + history + "new text at the very end\n") is None


def test_pathological_line_counts_are_cheap() -> None:
    for text in ("\n" * 2_000_000, "-\n" * 1_000_000, "On 1 x\n" * 300_000):
        assert find_quote_offset(text) is None


def test_quote_detection_in_html_mail() -> None:
    html = (
        "<p>Sounds good.</p><div>On Mon, 3 Jun 2024 at 10:00 Bob &lt;b@x.com&gt; wrote:</div>"
        "<blockquote><p>Shall we meet?</p></blockquote>"
    )
    p = parse_message(mail("Content-Type: text/html", body=html))
    assert p.quote_offset is not None
    assert p.text[: p.quote_offset].strip() == "Sounds good."
    assert "> Shall we meet?" in p.text[p.quote_offset :]


# --------------------------------------------------------------------------- subjects, batches


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Hello", "hello"),
        ("RE: Re: FWD: fw: Hello   World", "hello world"),
        ("AW: SV: VS: Antw: WG: Tr: Rif: Hello", "hello"),
        ("Re[2]: Re(3): Hello", "hello"),
        ("[ticket #123] Re: [list] Hello", "hello"),
        ("Re : French spacing", "french spacing"),
        (
            "=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=",
            "=?utf-8?q?re=3a_gr=c3=bc=c3=9fe?=",
        ),  # not decoded here
        ("Réponse: not a prefix", "réponse: not a prefix"),
        ("Re:", ""),
        ("  ", ""),
        ("Straße", "strasse"),
    ],
)
def test_normalise_subject(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


def test_parse_many_results_pickle() -> None:
    raws = [mail("Subject: one", body="1"), b"\x00junk", mail("Subject: three", body="3")]
    results = parse_many(raws)
    assert [r.subject for r in results] == ["one", "", "three"]
    assert pickle.loads(pickle.dumps(results)) == results


# --------------------------------------------------------------------------- vs the stdlib


@st.composite
def well_formed_messages(draw: st.DrawFn) -> bytes:
    """Messages built by the stdlib's own generator: our parse must agree with its parse."""
    text_chars = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))
    plain = draw(st.text(text_chars, min_size=1, max_size=200).filter(lambda s: s.strip()))
    msg = EmailMessage()
    msg["Subject"] = draw(st.text(text_chars, max_size=60))
    msg["From"] = "Sender <sender@example.com>"
    cte = draw(st.sampled_from(["quoted-printable", "base64", "8bit"]))
    msg.set_content(plain, cte=cte)
    if draw(st.booleans()):
        msg.add_alternative(f"<p>{plain}</p>", subtype="html")
    for index in range(draw(st.integers(0, 3))):
        data = draw(st.binary(max_size=3_000))
        msg.add_attachment(
            data, maintype="application", subtype="octet-stream", filename=f"f{index}.bin"
        )
    # Fixed boundaries: the stdlib would draw them from `random`, which hypothesis forbids.
    for number, entity in enumerate(msg.walk()):
        if entity.is_multipart():
            entity.set_boundary(f"=_frontdesk_test_{number}_=")
    return msg.as_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed_messages())
def test_agrees_with_policy_default_on_well_formed_mail(raw: bytes) -> None:
    ours = parse_message(raw)
    theirs = email.message_from_bytes(raw, policy=policy.default)
    body = theirs.get_body(preferencelist=("plain",))
    assert body is not None
    expected = body.get_content().replace("\r\n", "\n").replace("\r", "\n").strip("\n").rstrip()
    assert ours.text == expected.replace("\x0b", "").replace("\x0c", "").replace("\x1c", "")
    attachments = [(a.get_filename(), len(a.get_content())) for a in theirs.iter_attachments()]
    assert [(a.filename, a.size) for a in ours.attachments] == attachments
    assert ours.subject == " ".join(str(theirs["subject"]).split())
    assert ours.problems == ()


# --------------------------------------------------------------------------- never raises


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4_000))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    p = parse_message(raw)
    assert isinstance(p, ParsedMessage)
    assert_clean(p)
    assert not any(note.startswith("could not read") for note in p.problems)


SEED_MESSAGES = [
    mail(
        ctype_multipart("mixed", "mix"),
        "Subject: =?utf-8?q?seed_=C3=A9?=",
        "From: A <a@example.com>",
        "Date: Mon, 3 Jun 2024 10:00:00 +0200",
        body=multipart(
            "mixed",
            "mix",
            part(ctype_multipart("alternative", "alt"), body=alternative("plain ü", "<p>html</p>")),
            part(
                'Content-Type: application/pdf; name="a.pdf"',
                "Content-Transfer-Encoding: base64",
                body=base64.encodebytes(b"%PDF" * 30),
            ),
            part("Content-Type: message/rfc822", body=mail("Subject: inner", body="x")),
        ),
    ),
    mail(
        "Content-Type: text/plain; charset=iso-2022-jp",
        "Content-Transfer-Encoding: quoted-printable",
        body=quopri.encodestring("日本語です".encode("iso-2022-jp")),
    ),
]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_MESSAGES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            piece = draw(
                st.sampled_from(
                    [b"--", b"--mix", b"\r\n", b"=?", b"?=", b"\x00", b"\x1b[", b"=\r\n"]
                )
            )
            data[at:at] = piece + draw(st.binary(max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[at:]
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(mutated_messages())
def test_never_raises_on_mutated_messages(raw: bytes) -> None:
    p = parse_message(raw)
    assert_clean(p)
    # The last-resort guards say "could not read": reaching one means an unhandled case.
    assert not any(note.startswith("could not read") for note in p.problems)
