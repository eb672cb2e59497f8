"""Decoding fails small: a bad byte costs one U+FFFD where it is, never the whole text.

Every expected value below is written out by hand from the bytes the test builds.
"""

from __future__ import annotations

import base64

from connectors.email.mime import parse_message

CRLF = b"\r\n"
FFFD = "\ufffd"


def mail(*headers: bytes | str, body: bytes = b"hello") -> bytes:
    head = [h.encode() if isinstance(h, str) else h for h in headers]
    return CRLF.join(head) + CRLF + CRLF + body


def attachment_mail(*disposition: bytes | str) -> bytes:
    """A text body plus one attachment whose headers are given raw."""
    lines = [d.encode() if isinstance(d, str) else d for d in disposition]
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\n"
        + CRLF.join(lines)
        + b"\r\n\r\nPDFDATA\r\n--b--\r\n"
    )
    return mail('Content-Type: multipart/mixed; boundary="b"', body=body)


RUSSIAN = "Здравствуйте, не могу войти в аккаунт."


# --------------------------------------------------------------------------- bodies


def test_one_bad_byte_in_a_utf8_body_costs_one_replacement_character() -> None:
    body = "Здравствуйте, не".encode() + b"\xff" + " могу войти в аккаунт.".encode()
    p = parse_message(mail("Content-Type: text/plain; charset=utf-8", body=body))
    assert p.text == "Здравствуйте, не\ufffd могу войти в аккаунт."
    assert any("damaged UTF-8 text: 1 bad" in note for note in p.problems)


def test_a_character_cut_in_half_costs_one_replacement_character() -> None:
    # "ж" is D0 B6; only D0 is left before the space.
    body = "Уважаемый клиент, ".encode() + b"\xd0" + " спасибо за заказ.".encode()
    p = parse_message(mail("Content-Type: text/plain; charset=utf-8", body=body))
    assert p.text == "Уважаемый клиент, \ufffd спасибо за заказ."


def test_undeclared_utf8_body_with_a_bad_byte_stays_utf8() -> None:
    body = "Grüße aus München, ".encode() + b"\x80" + "schöne Grüße".encode()
    p = parse_message(mail(body=body))  # no Content-Type at all
    assert p.text == "Grüße aus München, \ufffdschöne Grüße"


def test_latin1_text_labelled_utf8_is_still_read_as_latin1() -> None:
    # No valid UTF-8 sequence at all: the label lies, the text is windows-1252.
    body = "Grüße aus München, die Rechnung fehlt noch.".encode("latin-1")
    p = parse_message(mail("Content-Type: text/plain; charset=utf-8", body=body))
    assert p.text == "Grüße aus München, die Rechnung fehlt noch."


def test_undeclared_cyrillic_8bit_text_is_guessed_not_read_as_windows_1252() -> None:
    text = "Здравствуйте! Не могу войти в свой аккаунт уже третий день, помогите."
    p = parse_message(mail("Content-Transfer-Encoding: 8bit", body=text.encode("cp1251")))
    assert p.text == text
    assert any("guessed" in note for note in p.problems)


def test_undeclared_latin1_text_is_not_second_guessed() -> None:
    text = "Grüße aus München, die Rechnung fehlt noch. Danke für die schnelle Antwort!"
    p = parse_message(mail("Content-Transfer-Encoding: 8bit", body=text.encode("latin-1")))
    assert p.text == text


# --------------------------------------------------------------------------- headers


def test_raw_8bit_utf8_subject_with_a_bad_byte() -> None:
    subject = b"Subject: " + "Привет".encode() + b" \xff " + "мир".encode()
    assert parse_message(mail(subject)).subject == "Привет \ufffd мир"


def test_encoded_word_cut_mid_character_costs_one_replacement_character() -> None:
    # "Заказ не пришёл" in UTF-8, the final "л" (D0 BB) cut after its first byte.
    cut = "Заказ не пришёл".encode()[:-1]
    assert cut.endswith(b"\xd0")
    subject = f"Subject: =?UTF-8?B?{base64.b64encode(cut).decode()}?="
    assert parse_message(mail(subject)).subject == "Заказ не пришё\ufffd"


def test_damage_in_one_encoded_word_does_not_spread_to_the_next() -> None:
    first = base64.b64encode("Заказ не пришё".encode() + b"\xd0").decode()
    subject = (
        f"Subject: =?UTF-8?B?{first}?= =?UTF-8?Q?_=D1=81=D0=BF=D0=B0=D1=81=D0=B8=D0=B1=D0=BE?="
        " =?iso-8859-1?q?_caf=E9?="
    )
    assert parse_message(mail(subject)).subject == "Заказ не пришё\ufffd спасибо café"


def test_display_name_with_a_bad_byte() -> None:
    sender = b"From: " + "Jörg Müller".encode() + b"\xff <j@example.de>"
    p = parse_message(mail(sender))
    assert p.sender is not None
    assert (p.sender.name, p.sender.email) == ("Jörg Müller\ufffd", "j@example.de")


# --------------------------------------------------------------------------- file names


def test_raw_8bit_utf8_file_name() -> None:
    raw = attachment_mail(
        b"Content-Type: application/octet-stream",
        b'Content-Disposition: attachment; filename="' + "Счёт №5.pdf".encode() + b'"',
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "Счёт №5.pdf"


def test_raw_8bit_utf8_name_parameter_of_content_type() -> None:
    raw = attachment_mail(b"Content-Type: text/plain; name=ci\xc3\xable.txt")
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "ciële.txt"


def test_raw_8bit_latin1_file_name() -> None:
    raw = attachment_mail(
        b"Content-Type: application/pdf",
        b'Content-Disposition: attachment; filename="r\xe9sum\xe9.pdf"',
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "résumé.pdf"


def test_rfc2231_file_name_in_a_legacy_charset() -> None:
    raw = attachment_mail(
        "Content-Type: application/pdf",
        "Content-Disposition: attachment; filename*=iso-8859-1''r%E9sum%E9%20final.pdf",
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "résumé final.pdf"


def test_rfc2231_continuations() -> None:
    raw = attachment_mail(
        "Content-Type: application/pdf",
        "Content-Disposition: attachment;",
        " filename*0*=utf-8''%D0%A1%D1%87;",
        " filename*1*=%D1%91%D1%82.pdf",
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "Счёт.pdf"


def test_rfc2231_file_name_without_a_charset() -> None:
    raw = attachment_mail(
        "Content-Type: text/plain",
        "Content-Disposition: attachment; filename*=''caf%C3%A9.txt",
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "café.txt"


def test_rfc2231_utf8_file_name_with_a_bad_byte() -> None:
    raw = attachment_mail(
        "Content-Type: application/pdf",
        "Content-Disposition: attachment; filename*=utf-8''%D0%A1%D1%87%FF%D1%91%D1%82.pdf",
    )
    (attached,) = parse_message(raw).attachments
    assert attached.filename == "Сч\ufffdёт.pdf"
    assert attached.filename.count(FFFD) == 1


def test_text_encoded_twice_is_repaired() -> None:
    # Big5 bytes read as latin-1 by a gateway and written out again as UTF-8.
    twice = "軟體帝國更新迅速".encode("big5").decode("latin-1").encode()
    p = parse_message(mail("Content-Type: text/plain; charset=big5", body=twice))
    assert p.text == "軟體帝國更新迅速"
    assert any("encoded twice" in note for note in p.problems)
