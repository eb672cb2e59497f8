"""How fast connectors.mime parses typical mail, next to Python's ``policy.default``.

Generates ~5,000 realistic messages (plain, HTML-only, multipart/alternative, attachments,
long reply threads; utf-8, latin-1, windows-1252, iso-2022-jp, koi8-r; quoted-printable,
base64, 8bit; a realistic header block with Received/DKIM/List-* lines), parses them all on
one core, and prints JSON:

    {"messages": N, "seconds": s, "msg_per_s": r, "policy_default_msg_per_s": r2, ...}

Each figure is the median of 3 runs. The ``policy.default`` side does what a caller of that
API would do for the same result: read the same headers, get_body() + get_content(), and
list the attachments. ``compat32_walk`` only parses, reads the headers and decodes every
leaf's payload to bytes (no charset decoding, no HTML conversion): a floor for the
``message_from_bytes(compat32)`` approach. Run: ``.venv/bin/python bench/mime_parse.py``.
"""

from __future__ import annotations

import argparse
import email
import json
import random
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

from connectors.mime import parse_message

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


def median_seconds(parsers: list[Parser], raws: list[bytes], runs: int) -> list[float]:
    """Median time of each parser; runs are interleaved so load on the machine hits all."""
    times: list[list[float]] = [[] for _ in parsers]
    for _ in range(runs):
        for parser, samples in zip(parsers, times, strict=True):
            start = time.perf_counter()
            parser(raws)
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(1234)
    raws = [make_message(rng, i) for i in range(args.messages)]
    parsers: list[Parser] = [ours, stdlib_default, compat32_walk]
    ours_s, default_s, compat32_s = median_seconds(parsers, raws, args.runs)
    result = {
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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
