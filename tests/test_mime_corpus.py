"""Real mail nobody here wrote (tests/data/mail, see its README): hand-checked facts, and
text at least as faithful as Python's own ``email`` (policy.default, get_body) on every file.

The facts below were read off the raw files by hand: RFC 2047 words, quoted-printable and
base64 decoded on paper, charsets looked up in their tables.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.email.mime import ParsedMessage, parse_message

CORPUS = Path(__file__).parent / "data" / "mail"
FILES = sorted(CORPUS.rglob("*.eml"))


def parsed(name: str) -> ParsedMessage:
    return parse_message((CORPUS / name).read_bytes())


def test_cpython_corpus_is_there() -> None:
    assert len(list((CORPUS / "cpython").glob("msg_*.eml"))) >= 10


def test_charsets_and_transfer_encodings() -> None:
    p = parsed("cpython/msg_10.eml")
    assert (p.subject, p.sender and p.sender.email) == ("Lyrics", "barry@python.org")
    assert "This is a 7bit encoded message." in p.text
    assert "¡This is a Quoted Printable encoded message!" in p.text  # =A1 in iso-8859-1
    assert p.text.count("This is a Base64 encoded message.") == 2
    assert "This has no Content-Transfer-Encoding: header." in p.text


def test_bounce_summary_and_returned_message() -> None:
    p = parsed("cpython/msg_16.eml")
    assert p.subject == "Delivery Notification: Delivery has failed"
    assert p.sender is not None and p.sender.email == "postmaster@ucla.edu"
    assert p.text.startswith(
        "Delivery status report:\n"
        "- jangel1@cougar.noc.ucla.edu: failed, status 5.0.0 (recipient reached disk quota)\n"
    )
    assert "---------- Returned message ----------\n> From: Ian T. Henry <henryi@oxy.edu>" in (
        p.text
    )
    assert "> I always love to find more Ian's that are over 3 years old!!" in p.text
    assert [a.filename for a in p.attachments][-1] == "[scr] yeah for Ians!!.eml"


def test_message_that_is_a_forward() -> None:
    p = parsed("cpython/msg_06.eml")
    assert p.subject == "forwarded message from Barry A. Warsaw"
    assert p.text.startswith(
        "---------- Forwarded message ----------\n"
        "> From: Barry A. Warsaw <barry@python.org>\n"
        "> Date: Thu, 13 Sep 2001 21:28:28 +0000\n"  # 17:28:28 -0400
        "> Subject: testing\n"
    )
    assert [a.filename for a in p.attachments] == ["testing.eml"]


def test_digest_messages_are_shown_and_listed() -> None:
    p = parsed("cpython/msg_02.eml")
    assert p.subject == "Ppp digest, Vol 1 #2 - 5 msgs"
    assert "   3. testing #3 (Barry A. Warsaw)" in p.text
    assert p.text.count("---------- Digest message ----------") == 5
    assert "> Subject: [Ppp] testing #4" in p.text
    names = [(a.filename, a.part) for a in p.attachments]
    assert names[0] == ("[Ppp] testing #1.eml", "3.1")
    assert names[1] == ("message.eml", "3.2")  # message 2 has no Subject
    assert names[4] == ("[Ppp] testing #5.eml", "3.5")


def test_pgp_signed_message() -> None:
    p = parsed("cpython/msg_48.eml")
    assert p.text == "This is the signed contents."
    assert [a.filename for a in p.attachments] == ["signature.asc"]
    assert p.in_reply_to == "<somelonglonglonglonglongunwrappablemessageidtoreplyto@mail.foo.bar>"


def test_impossible_date_and_quoted_display_name() -> None:
    p = parsed("cpython/msg_47.eml")  # "27:39:33" is no time of day
    assert p.date is None
    assert p.sender is not None and (p.sender.name, p.sender.email) == (
        "123@abuse.net",
        "123@example.com",
    )
    assert p.text == "### PHARRMACY ON1INE 24/7 ###"


def test_missing_header_body_separator() -> None:
    p = parsed("cpython/msg_35.eml")
    assert p.subject == "here's something interesting"
    assert p.text == "counter to RFC 5322, there's no separating newline here"


def test_named_text_parts_and_reused_boundary() -> None:
    assert [a.filename for a in parsed("cpython/msg_44.eml").attachments] == ["msg.txt"] * 2
    assert "Some removed test." in parsed("cpython/msg_15.eml").text


def test_one_bad_byte_in_8782_bytes_of_russian_costs_one_character() -> None:
    # The message issue 15 quotes: UTF-8 HTML with a single invalid byte.
    p = parsed("mail-parser/mail_test_6.eml")
    assert p.subject == "Быстрее вкладывайте в золото!"
    assert "Не пересылайте данное письмо" in p.text
    assert p.text.count("\ufffd") == 1


def test_raw_8bit_file_names() -> None:
    (zipped,) = parsed("mail-parser/mail_test_1.eml").attachments
    assert zipped.filename == "ФНС_РФ558.zip"
    names = [
        a.filename
        for a in parsed("mikel-mail/attachment_emails_attachment_nonascii_filename.eml").attachments
    ]
    assert "ciële.txt" in names


def test_big5_encoded_twice_is_repaired() -> None:
    p = parsed("mikel-mail/error_emails_content_transfer_encoding_empty.eml")
    assert "[軟體帝國更新迅速]" in p.text


# --------------------------------------------------------------------------- vs Python's email

# Mojibake as it shows: a UTF-8 lead byte and a continuation byte read as windows-1252
# ("Ã©", "â€"). Real text in any script almost never has such a pair.
_LEAD = "".join(bytes([b]).decode("cp1252") for b in range(0xC2, 0xF5))
_CONT = "".join(
    c for c in (bytes([b]).decode("cp1252", "replace") for b in range(0x80, 0xC0)) if c != "\ufffd"
)
_MOJIBAKE = re.compile(f"[{re.escape(_LEAD)}][{re.escape(_CONT)}]")


def damage(text: str) -> int:
    """Replacement characters plus mojibake pairs."""
    return text.count("\ufffd") + len(_MOJIBAKE.findall(text))


def ours(raw: bytes) -> str:
    p = parse_message(raw)
    return "\n".join([p.subject, p.text, *(a.filename for a in p.attachments)])


def pythons(raw: bytes) -> str | None:
    """What policy.default shows: subject, get_body() content, attachment names."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    try:
        texts = [str(msg.get("subject", "") or "")]
        body = msg.get_body(preferencelist=("plain", "html"))
        texts.append(str(body.get_content()) if body is not None else "")
        texts += [part.get_filename() or "" for part in msg.iter_attachments()]
    except Exception:  # Python's email gives up on this one: nothing to compare with
        return None
    return "\n".join(texts)


def test_the_damage_measure_sees_mojibake_and_replacements() -> None:
    assert damage("Grüße, 日本語, Здравствуйте") == 0
    assert damage("GrÃ¼ÃŸe") == 2
    assert damage("caf\ufffd") == 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_more_damage_than_pythons_email(path: Path) -> None:
    raw = path.read_bytes()
    theirs = pythons(raw)
    if theirs is None:
        pytest.skip("Python's email raises on this message")
    assert damage(ours(raw)) <= damage(theirs)
