"""Crafted raw mail (RFC 5322 bytes) and Slack texts, one named case per kind of attack.

Everything is generated here, deterministically: the two deliberately big cases (a 10 MB body,
10,000 header lines) are built in memory, so no large file is ever committed. Each mail case
has its own Message-ID and sender, so the store's threading never merges two cases and every
case is its own conversation (the tests count on that).

What a case tries to do to the agent's terminal or to the parser is said next to it.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass

SUPPORT = "help@frontdesk.test"
DATE = "Mon, 02 Mar 2026 09:30:00 +0000"

# Terminal attacks, as a customer could type or paste them.
TITLE = "\x1b]0;pwned\x07"  # OSC 0: retitle the window
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4K\x07"  # OSC 52: write "rm -rf ~" to the clipboard
HYPERLINK = "\x1b]8;;https://evil.example/\x1b\\bank.com\x1b]8;;\x1b\\"  # OSC 8 fake link
COLOUR = "\x1b[1;31m"  # CSI SGR
CURSOR = "\x1b[10A\x1b[2K"  # CSI: cursor up 10 lines, erase the line (overwrite history)
CLEAR = "\x1b[2J\x1b[H"  # CSI: clear the screen, cursor home
RESET = "\x1bc"  # RIS: full terminal reset
C1 = "\x9b31m\x9d0;c1 title\x9c\x85\x90dcs\x9c"  # the same, as 8-bit C1 controls
ANSI = TITLE + CLIPBOARD + HYPERLINK + COLOUR + CURSOR + CLEAR + RESET

# Rich / Textual markup: must show as typed, never style text or run an action.
MARKUP = "[bold red]x[/] [@click=app.quit]quit[/] [link=file:///etc/passwd]passwd[/link]"
# Bidi overrides reverse what follows; zero-width characters make different text look alike.
BIDI = "\u202einvoice\u202c \u2066fdp.exe\u2069 pay\u200bpal \ufeffsu\u200dpport\u2060"

# Slack: forged mentions and links, markup, escapes. The sender controls every label.
SLACK_TEXTS: dict[str, str] = {
    "forged-user-mention": "<@U999|admin> approved the refund",
    "forged-broadcasts": "<!everyone> <!here|@here> <!channel> <!subteam^S1|@security-team>",
    "lying-link": "log in at <https://evil.example/login|https://bank.com>",
    "lying-mailto": "write to <mailto:evil@evil.example|support@bank.com>",
    "escaped-mention": "typed, not a mention: &lt;@U1&gt; &amp;lt;b&amp;gt;",
    "markup": MARKUP,
    "ansi": f"before {ANSI} after",
    "c1": f"before {C1} after",
    "escape-in-link-label": f"<https://evil.example|{TITLE}{COLOUR}click me>",
    "escape-in-channel-label": f"see <#C999|general{CLEAR}>",
    "bidi": BIDI,
    "nul-and-controls": "a\x00b\x07c\x08d\x7fe\rf",
    "unbalanced-brackets": "<<@U1>> <https://x.example|a|b> <> <| > [ ] [/] [[",
}

# A Slack user whose profile name is itself an attack (it becomes the contact's name).
SLACK_HOSTILE_NAME = f"[@click=app.quit]Mallory[/]{TITLE}{COLOUR}\u202eadmin"


@dataclass(frozen=True, slots=True)
class HostileMail:
    name: str
    raw: bytes
    # Text the agent must see literally somewhere on the conversation screen ("" if none).
    literal: str = ""


def _headers(name: str, **fields: str | bytes | None) -> bytes:
    """A header block: defaults for a normal mail, overridden (None drops the field)."""
    values: dict[str, str | bytes | None] = {
        "From": f"Case {name} <{name}@hostile.test>",
        "To": f"Support <{SUPPORT}>",
        "Subject": f"case {name}",
        "Date": DATE,
        "Message-ID": f"<{name}@hostile.test>",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=utf-8",
    }
    values.update({key.replace("_", "-"): value for key, value in fields.items()})
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
        lines.append(key.encode() + b": " + raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _mail(name: str, body: bytes, literal: str = "", **fields: str | bytes | None) -> HostileMail:
    return HostileMail(name, _headers(name, **fields) + body, literal)


def _b64_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def _broken_boundaries() -> list[HostileMail]:
    undeclared = (
        b"preamble\r\n--other\r\nContent-Type: text/plain\r\n\r\nwrong boundary\r\n--other--\r\n"
    )
    unterminated = (
        b"--b1\r\nContent-Type: text/plain\r\n\r\nfirst part, then the mail is cut off\r\n"
        b"--b1\r\nContent-Type: text/html\r\n\r\n<p>never closed"
    )
    return [
        _mail(
            "boundary-undeclared",
            undeclared,
            Content_Type='multipart/mixed; boundary="declared"',
        ),
        _mail("boundary-missing", b"no boundary parameter\r\n", Content_Type="multipart/mixed"),
        _mail(
            "boundary-unterminated",
            unterminated,
            "first part, then the mail is cut off",
            Content_Type='multipart/alternative; boundary="b1"',
        ),
    ]


def _nested(depth: int = 100) -> HostileMail:
    """multipart inside multipart, 100 deep: a recursive parser would blow its stack."""
    body = b"Content-Type: text/plain\r\n\r\ndeepest text\r\n"
    for level in range(depth - 1, 0, -1):
        boundary = b"n%d" % level
        body = b'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n%s\r\n--%s--\r\n' % (
            boundary,
            boundary,
            body,
            boundary,
        )
    return HostileMail(
        "nested-100",
        _headers("nested-100", Content_Type='multipart/mixed; boundary="n0"')
        + b"--n0\r\n"
        + body
        + b"\r\n--n0--\r\n",
    )


def _charsets() -> list[HostileMail]:
    return [
        _mail(
            "charset-unknown",
            "Grüße in an unknown charset".encode("latin-1"),
            Content_Type="text/plain; charset=x-klingon-1",
        ),
        _mail(
            "charset-lying-ascii",
            "declared ASCII, sent UTF-8: naïve café ☕".encode(),
            Content_Type="text/plain; charset=us-ascii",
        ),
        _mail(
            "charset-lying-utf8",
            b"declared UTF-8, invalid bytes: \xff\xfe\xc3\x28 \xed\xa0\x80 end",
            Content_Type="text/plain; charset=utf-8",
        ),
        _mail(
            "charset-utf7",  # UTF-7 can smuggle '<' and ESC past byte-level filters
            b"+ABsAXQ-0;utf7 title+AAc- and +ADw-script+AD4-",
            Content_Type="text/plain; charset=utf-7",
        ),
        _mail(
            "charset-in-header-unknown",
            b"body",
            Subject="=?x-unknown?q?caf=E9?= =?utf-8?q?ok?=",
            From="=?bogus-charset?b?RXZl?= <charset-in-header-unknown@hostile.test>",
        ),
    ]


def _rfc2047() -> list[HostileMail]:
    return [
        _mail(
            "rfc2047-broken",
            b"body",
            Subject="=?utf-8?B?not*base64!?= =?utf-8?Q?unterminated =?utf-8?X?bad_encoding?= =??=",
            From="=?utf-8?q?Broken=ZZ?= <rfc2047-broken@hostile.test>",
        ),
        _mail(
            "rfc2047-controls",
            b"body with =1B[2J in plain text\r\n",
            # ESC, BEL and C1 hidden inside encoded words: only visible after decoding.
            Subject="=?utf-8?q?hi=1B]0;pwned=07there?= "
            + _b64_word(f"{CLEAR}{COLOUR}red{C1}")
            + " =?iso-8859-1?q?c1=9Bcsi?=",
            From=_b64_word(f"Eve{TITLE}{CLIPBOARD}") + " <rfc2047-controls@hostile.test>",
        ),
        _mail(
            "rfc2047-qp-body",
            f"quoted-printable body with =1B]0;pwned=07 and =9B31m{'x' * 10}=\r\n".encode(),
            Content_Transfer_Encoding="quoted-printable",
        ),
    ]


def _nul_bytes() -> HostileMail:
    return _mail(
        "nul-bytes",
        b"body\x00with\x00NULs\r\n\x00\x00\x00end\r\n",
        Subject=b"nul\x00subject",
        From=b"Nul\x00Name <nul-bytes@hostile.test>",
    )


def _big_body() -> HostileMail:
    line = b"0123456789 abcdefghij " * 4 + b"\r\n"  # 90 bytes
    body = line * (10 * 1024 * 1024 // len(line) + 1)
    return _mail("big-body-10mb", body)


def _many_header_lines() -> list[HostileMail]:
    # A subject folded over 10,000 lines, and 10,000 separate header fields.
    folded = "folded" + "".join(f"\r\n w{i}" for i in range(10_000))
    fields = b"".join(b"X-Junk-%d: value %d\r\n" % (i, i) for i in range(10_000))
    many = _headers("header-10k-fields")
    return [
        _mail("header-10k-folded", b"body", Subject=folded),
        HostileMail("header-10k-fields", fields + many + b"body after 10k header fields"),
    ]


def _html() -> HostileMail:
    rows = "".join(
        "<tr>" + "".join(f"<td>r{r}c{c}</td>" for c in range(20)) + "</tr>" for r in range(3000)
    )
    html = (
        "<html><head><script>alert(document.cookie)</script><style>p{color:red}</style></head>"
        '<body onload="steal()"><p>visible paragraph</p><script>evil()</script>'
        f'<a href="javascript:alert(1)">click</a><img src=x onerror=alert(1)>'
        f"<p>{TITLE}osc in html &#27;[2J entity escape</p><table>{rows}</table></body></html>"
    )
    return _mail("html-script-table", html.encode(), Content_Type="text/html; charset=utf-8")


def _bidi() -> list[HostileMail]:
    return [
        _mail(
            "bidi-encoded",
            f"body {BIDI}".encode(),
            Subject=_b64_word(f"bidi {BIDI}"),
            From=_b64_word(f"\u202eEve{BIDI}") + " <bidi-encoded@hostile.test>",
        ),
        _mail(  # the same as raw 8-bit UTF-8 headers (RFC 6532 style)
            "bidi-raw",
            f"body {BIDI}".encode(),
            Subject=f"bidi raw {BIDI}",
            From="\u202eMallory\u200b <bidi-raw@hostile.test>",
        ),
    ]


def _ansi() -> HostileMail:
    return _mail(
        "ansi-everywhere",
        f"body before {ANSI}{C1} body after\r\n".encode(),
        Subject=f"ansi {ANSI} subject",
        From=f'"Eve {TITLE}{COLOUR}Name" <ansi-everywhere@hostile.test>',
    )


def _c1() -> list[HostileMail]:
    return [
        _mail(  # C1 as UTF-8 (U+009B...), which is how it survives decoding
            "c1-utf8",
            f"body {C1} end".encode(),
            Subject=f"c1 {C1} subject",
            From=f'"C1{C1}Name" <c1-utf8@hostile.test>',
        ),
        _mail(  # C1 as raw 8-bit bytes in a latin-1 body and header
            "c1-latin1",
            b"body \x9b31m \x9d0;x\x9c end",
            Subject=b"c1 latin1 \x9b2J",
            Content_Type="text/plain; charset=iso-8859-1",
        ),
    ]


def _markup() -> HostileMail:
    return _mail(
        "markup",
        f"body {MARKUP}\r\n".encode(),
        literal="[bold red]x[/]",
        Subject=f"markup {MARKUP}",
        From='"[@click=app.quit]Eve[/]" <markup@hostile.test>',
    )


def _binary_junk() -> list[HostileMail]:
    rng = random.Random(8)  # fixed seed: the same junk every run
    junk = bytes(rng.randrange(256) for _ in range(20_000))
    return [
        _mail("binary-body", junk),
        HostileMail("binary-whole", junk[:4000]),  # no header block at all
        _mail(
            "binary-base64-declared-text",
            base64.encodebytes(junk[:3000]),
            Content_Transfer_Encoding="base64",
        ),
    ]


def _missing_headers() -> list[HostileMail]:
    return [
        HostileMail("missing-all-headers", b"\r\nonly a body, no headers at all\r\n"),
        HostileMail(
            "missing-from-date-id",
            b"Subject: case missing-from-date-id\r\n\r\nno From, Date or Message-ID\r\n",
        ),
        HostileMail("headers-only", _headers("headers-only").rstrip(b"\r\n")),
        _mail(
            "garbage-header-values",
            b"body",
            From="<<<@@@>>>, ,,;;",
            Date="Tomorrow at noon-ish +9999",
            To="undisclosed-recipients:;",
            In_Reply_To="<" + "x" * 5000 + ">",
            References=" ".join(f"<r{i}@x>" for i in range(2000)),
        ),
    ]


def emails() -> list[HostileMail]:
    """Every mail case; names are unique and double as Message-ID local parts."""
    cases = [
        *_broken_boundaries(),
        _nested(),
        *_charsets(),
        *_rfc2047(),
        _nul_bytes(),
        _big_body(),
        *_many_header_lines(),
        _html(),
        *_bidi(),
        _ansi(),
        *_c1(),
        _markup(),
        *_binary_junk(),
        *_missing_headers(),
    ]
    assert len({case.name for case in cases}) == len(cases), "case names must be unique"
    return cases
