"""The real-world corpus in tests/data/mail parses without a crash, with hand-checked facts.

Oracles were read off the raw files by hand (headers decoded with the RFC 2047 rules).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email.mime import parse_message

CORPUS = Path(__file__).parent / "data" / "mail"
FILES = sorted(CORPUS.rglob("*.eml"))

# file, subject, sender address, a snippet of the text body
FACTS = [
    (
        "mikel-mail/rfc2822_example06.eml",
        "Re: Saying Hello",
        "mary@example.net",
        "This is a reply to your hello.",
    ),
    (
        "mikel-mail/plain_emails_basic_email.eml",
        "Testing 123",
        "test@lindsaar.net",
        "Hope it works well!",
    ),
    (
        "mikel-mail/multi_charset_japanese_iso_2022.eml",
        "まみむめも",
        "raasdnil@gmail.com",
        "すみません。",
    ),
    (
        "mikel-mail/multi_charset_japanese_shift_jis.eml",
        "test",
        "xxxxxxx@docomo.ne.jp",
        "あいうえお",
    ),
    ("mikel-mail/multi_charset_ks_c_5601-1987.eml", "test", "from@example.com", "스티해"),
    ("mikel-mail/rfc6532_utf8_headers.eml", "Säying Hello", "jdöe@mächine.example", "body"),
    (
        "mikel-mail/attachment_emails_attachment_with_quoted_filename.eml",
        "Eelanalüüsi päring",
        "jeff@37signals.com",
        "",
    ),
    (
        "mikel-mail/plain_emails_raw_email.eml",
        "NOTE: 한국말로 하는 것",
        "jamis@37signals.com",
        "우리는 하나님을 믿습니다",
    ),
    ("mail-parser/mail_test_1.eml", "письмо уведом-е", "suvorov.s@nalg.ru", "Налогоплательщик!"),
    (
        "mail-parser/mail_test_16.eml",
        "Test spam mail (GTUBE)",
        "sender@example.net",
        "This is the GTUBE",
    ),
    (
        "mail-parser/mail_test_12.eml",
        "代开各地增值税发票",
        "baoguan@hotmail.com",
        "你好！我公司可代开",
    ),
    (
        "mail-parser/mail_test_5.eml",
        "Je prépare mon été zéro complexe !",
        "contact@carlance.fr",
        "Si ce message ne s'affiche pas",
    ),
]


def test_corpus_is_real_and_sizeable() -> None:
    assert len(FILES) >= 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_message_parses_without_internal_error(path: Path) -> None:
    parsed = parse_message(path.read_bytes())
    assert not [p for p in parsed.problems if "some fields may be missing" in p]


@pytest.mark.parametrize(("name", "subject", "sender", "snippet"), FACTS, ids=[f[0] for f in FACTS])
def test_hand_checked_facts(name: str, subject: str, sender: str, snippet: str) -> None:
    parsed = parse_message((CORPUS / name).read_bytes())
    assert parsed.subject == subject
    assert parsed.sender is not None and parsed.sender.email == sender
    assert snippet in parsed.text
