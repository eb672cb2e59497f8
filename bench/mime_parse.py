"""How fast connectors.email.mime parses typical mail, next to Python's ``policy.default``.

Generates ~5,000 realistic messages (plain, HTML-only, multipart/alternative, attachments,
long reply threads; utf-8, latin-1, windows-1252, iso-2022-jp, koi8-r; quoted-printable,
base64, 8bit; a realistic header block with Received/DKIM/List-* lines), parses them all on
one core, and prints JSON:

    {"messages": N, "seconds": s, "msg_per_s": r, "policy_default_msg_per_s": r2, ...}

With ``--corpus`` it also reads the real mail in tests/data/mail (see its README) and
weighs three parsers on it: ours, ``policy.default`` and fast-mail-parser (Stalwart's
mail-parser in Rust, from PyPI; measured only if installed): time per pass over the corpus
and text damage (U+FFFD plus mojibake pairs in subject + text + attachment names), with the
files where each one shows no text at all.

Each figure is the median of 3 runs. The ``policy.default`` side does what a caller of that
API would do for the same result: read the same headers, get_body() + get_content(), and
list the attachments. ``compat32_walk`` only parses, reads the headers and decodes every
leaf's payload to bytes (no charset decoding, no HTML conversion): a floor for the
``message_from_bytes(compat32)`` approach. Run: ``.venv/bin/python bench/mime_parse.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import importlib
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email import policy
from email.charset import BASE64, QP, Charset
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.email.mime import parse_message

WORDS = [
    "order",
    "invoice",
    "refund",
    "shipping",
    "account",
    "password",
    "login",
    "error",
    "payment",
    "subscription",
    "delivery",
    "package",
    "tracking",
    "number",
    "thanks",
    "please",
    "help",
    "urgent",
    "issue",
    "problem",
    "screen",
    "update",
    "version",
    "app",
    "crash",
    "export",
    "report",
    "customer",
    "support",
    "team",
    "monday",
    "tomorrow",
    "week",
]
NAMES = ["Alice Martin", "Jörg Müller", "Søren Kierkegaard", "José García", "Ivan Petrov"]
NAMES += ["山田 太郎", "Chloé Dubois", "Bob Smith", "Zoë O'Neil", "Ahmed Khan"]
# (charset for MIMEText, sample text in that script)
SCRIPTS = [
    ("utf-8", "Hello, thanks for the quick reply — déjà vu 👍"),
    ("utf-8", "Bonjour, je n'arrive pas à me connecter depuis hier."),
    ("iso-8859-1", "Grüße aus München, die Rechnung fehlt noch."),
    ("windows-1252", "Quote: “smart” – and € prices"),
    ("iso-2022-jp", "お世話になっております。注文の件でご連絡しました。"),
    ("koi8-r", "Здравствуйте, не могу войти в аккаунт."),
]


def sentence(rng: random.Random, extra: str = "") -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 18))
    return (" ".join(words).capitalize() + ". " + extra).strip()


def paragraph_text(rng: random.Random, extra: str) -> str:
    paragraphs = [
        " ".join(sentence(rng, extra if i == 0 else "") for _ in range(rng.randint(1, 4)))
        for i in range(rng.randint(1, 4))
    ]
    return "Hi,\n\n" + "\n\n".join(paragraphs) + "\n\nBest regards,\nA customer\n"


def quoted_thread(rng: random.Random, depth: int) -> str:
    lines = []
    for level in range(1, depth + 1):
        lines.append(f"On Mon, 3 Jun 2024 at 10:0{level}, Support <help@example.com> wrote:")
        lines += [">" * level + " " + sentence(rng) for _ in range(rng.randint(3, 8))]
    return "\n".join(lines) + "\n"


def html_of(rng: random.Random, text: str) -> str:
    rows = "".join(
        f"<tr><td style='padding:4px'>{w}</td><td>{rng.randint(1, 99)}.00 €</td></tr>"
        for w in rng.choices(WORDS, k=rng.randint(0, 6))
    )
    body = "".join(f"<p style='margin:0 0 12px 0'>{p}</p>" for p in text.split("\n\n"))
    return (
        "<html><head><meta charset='utf-8'><style>p{font-family:Arial}</style></head>"
        f"<body><div class='WordSection1'>{body}"
        f"<table border='0' cellpadding='0'>{rows}</table>"
        "<p><a href='https://example.com/account?id=42'>Open your account</a></p>"
        "<img src='cid:logo@example.com' alt='logo'></div></body></html>"
    )


def add_headers(msg: EmailMessage | MIMEMultipart | MIMEText, rng: random.Random, i: int) -> None:
    for hop in range(rng.randint(3, 8)):
        msg["Received"] = (
            f"from mx{hop}.example.net (mx{hop}.example.net [192.0.2.{hop}]) by "
            f"mail.example.com (Postfix) with ESMTPS id {rng.getrandbits(40):X} for "
            "<help@example.com>; Mon, 3 Jun 2024 10:00:00 +0200 (CEST)"
        )
    msg["DKIM-Signature"] = (
        "v=1; a=rsa-sha256; d=example.net; s=s1; bh=" + "A" * 44 + "; b=" + ("B" * 340)
    )
    name = rng.choice(NAMES)
    msg["From"] = formataddr((name, f"user{i % 700}@example.net"), charset="utf-8")
    msg["To"] = formataddr(("Support", "help@example.com"))
    if rng.random() < 0.3:
        msg["Cc"] = ", ".join(f"cc{j}@example.org" for j in range(rng.randint(1, 4)))
    prefix = rng.choice(["", "", "Re: ", "RE: AW: ", "Fwd: "])
    msg["Subject"] = prefix + rng.choice(SCRIPTS)[1][:40]
    msg["Date"] = format_datetime(datetime_for(rng))
    msg["Message-ID"] = make_msgid(domain="example.net")
    if prefix.startswith("R"):
        refs = [make_msgid(domain="example.com") for _ in range(rng.randint(1, 6))]
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    msg["MIME-Version"] = "1.0"
    msg["X-Mailer"] = "Benchmark Mailer 1.0"
    msg["List-Unsubscribe"] = "<mailto:unsub@example.net>"


def datetime_for(rng: random.Random) -> datetime:
    zone = timezone(timedelta(hours=rng.randint(-8, 9)))
    return datetime(2024, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), tzinfo=zone)


def text_part(text: str, charset: str, rng: random.Random, subtype: str = "plain") -> MIMEText:
    cs = Charset(charset)
    if charset in ("utf-8", "iso-8859-1", "windows-1252", "koi8-r"):
        # None sends the body 8-bit, unencoded (the stubs only allow the int constants).
        cs.body_encoding = rng.choice([QP, BASE64, None])  # type: ignore[assignment]
    part = MIMEText("", subtype, None)
    part.set_payload(text, cs)
    return part


def make_message(rng: random.Random, i: int) -> bytes:
    charset, sample = rng.choice(SCRIPTS)
    text = paragraph_text(rng, sample)
    if rng.random() < 0.3:
        text += "\n" + quoted_thread(rng, rng.randint(1, 3))
    kind = rng.choices(["plain", "alternative", "html", "attachments"], [40, 30, 15, 15])[0]
    msg = build(kind, text, charset, rng)
    add_headers(msg, rng, i)
    return msg.as_bytes()


def build(kind: str, text: str, charset: str, rng: random.Random) -> MIMEText | MIMEMultipart:
    if kind == "plain":
        return text_part(text, charset, rng)
    if kind == "html":
        return text_part(html_of(rng, text), "utf-8", rng, "html")
    alternative = MIMEMultipart("alternative")
    alternative.attach(text_part(text, charset, rng))
    alternative.attach(text_part(html_of(rng, text), "utf-8", rng, "html"))
    if kind == "alternative":
        return alternative
    mixed = MIMEMultipart("mixed")
    mixed.attach(alternative)
    for n in range(rng.randint(1, 3)):
        blob = rng.randbytes(rng.randint(2_000, 120_000))
        mixed.attach(MIMEApplication(blob, "pdf", Name=f"invoice-{n}.pdf"))
    return mixed


def ours(raws: list[bytes]) -> None:
    for raw in raws:
        parse_message(raw)


def stdlib_default(raws: list[bytes]) -> None:
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=policy.default)
        for name in ("subject", "from", "to", "cc", "date", "message-id", "references"):
            msg.get(name)
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()
        for attachment in msg.iter_attachments():
            attachment.get_filename()


def compat32_walk(raws: list[bytes]) -> None:
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        for name in ("subject", "from", "to", "cc", "date", "message-id", "references"):
            msg.get(name)
        for part in msg.walk():
            if not part.is_multipart():
                part.get_payload(decode=True)


Parser = Callable[[list[bytes]], None]
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "mail"


def median_seconds(parsers: list[Parser], raws: list[bytes], runs: int) -> list[float]:
    """Median time of each parser; runs are interleaved so load on the machine hits all."""
    times: list[list[float]] = [[] for _ in parsers]
    for _ in range(runs):
        for parser, samples in zip(parsers, times, strict=True):
            start = time.perf_counter()
            parser(raws)
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


# --------------------------------------------------------------------------- real corpus

# Mojibake as it shows: a UTF-8 lead byte and a continuation byte read as windows-1252.
_LEAD = "".join(bytes([b]).decode("cp1252") for b in range(0xC2, 0xF5))
_CONT = "".join(
    c for c in (bytes([b]).decode("cp1252", "replace") for b in range(0x80, 0xC0)) if c != "\ufffd"
)
_MOJIBAKE = re.compile(f"[{re.escape(_LEAD)}][{re.escape(_CONT)}]")


def damage(text: str) -> int:
    return text.count("\ufffd") + len(_MOJIBAKE.findall(text))


def view_ours(raw: bytes) -> tuple[str, str]:
    """(subject + attachment names, text) as the agent sees them."""
    p = parse_message(raw)
    return "\n".join([p.subject, *(a.filename for a in p.attachments)]), p.text


def view_default(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain", "html"))
    text = str(body.get_content()) if body is not None else ""
    names = [part.get_filename() or "" for part in msg.iter_attachments()]
    return "\n".join([str(msg.get("subject", "") or ""), *names]), text


def view_fast(raw: bytes) -> tuple[str, str]:
    fast = importlib.import_module("fast_mail_parser")
    mail = fast.parse_email(raw)
    text = "\n".join(mail.text_plain) or "\n".join(mail.text_html)
    names = [a.filename or "" for a in mail.attachments]
    return "\n".join([mail.subject or "", *names]), text


View = Callable[[bytes], tuple[str, str]]


def fidelity(view: View, raws: list[bytes]) -> dict[str, int]:
    damaged = total = failed = empty = 0
    for raw in raws:
        try:
            head, text = view(raw)
        except Exception:
            failed += 1
            continue
        score = damage(head) + damage(text)
        total += score
        damaged += score > 0
        empty += not text.strip()
    return {"damage": total, "damaged_files": damaged, "empty_text": empty, "raised": failed}


def views_of(view: View) -> Parser:
    def run(raws: list[bytes]) -> None:
        for raw in raws:
            with contextlib.suppress(Exception):  # a parser that raises still spent the time
                view(raw)

    return run


def corpus_figures(runs: int, repeat: int) -> dict[str, object]:
    raws = [path.read_bytes() for path in sorted(CORPUS.rglob("*.eml"))]
    views: dict[str, View] = {"ours": view_ours, "policy_default": view_default}
    try:
        importlib.import_module("fast_mail_parser")
        views["fast_mail_parser"] = view_fast
    except ImportError:
        pass
    batch = raws * repeat
    seconds = median_seconds([views_of(v) for v in views.values()], batch, runs)
    out: dict[str, object] = {"corpus_files": len(raws), "corpus_passes": repeat}
    for (name, view), spent in zip(views.items(), seconds, strict=True):
        out[name] = {"msg_per_s": round(len(batch) / spent), **fidelity(view, raws)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", action="store_true", help="also weigh parsers on real mail")
    parser.add_argument("--corpus-passes", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(1234)
    raws = [make_message(rng, i) for i in range(args.messages)]
    parsers: list[Parser] = [ours, stdlib_default, compat32_walk]
    ours_s, default_s, compat32_s = median_seconds(parsers, raws, args.runs)
    result: dict[str, object] = {
        "messages": len(raws),
        "seconds": round(ours_s, 3),
        "msg_per_s": round(len(raws) / ours_s),
        "policy_default_msg_per_s": round(len(raws) / default_s),
        "policy_default_seconds": round(default_s, 3),
        # message_from_bytes(compat32) + walk + get_payload(decode=True), nothing decoded to
        # text: the floor of the approach DESIGN.md §8 measured, for comparison.
        "compat32_walk_msg_per_s": round(len(raws) / compat32_s),
        "mean_message_bytes": round(sum(map(len, raws)) / len(raws)),
    }
    if args.corpus:
        result["corpus"] = corpus_figures(args.runs, args.corpus_passes)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
