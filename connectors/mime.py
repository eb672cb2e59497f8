"""Parse one raw RFC 5322 message into plain, picklable data, without ever raising.

Why not ``policy.default``: it re-parses headers on every access and costs ~2 ms a message
(DESIGN.md §8). We let ``compat32`` parse each header block, decode headers ourselves (RFC
2047 words, 8-bit bytes) and split and decode bodies as bytes in C (``bytes.find``,
``binascii``): about 5x faster than ``policy.default`` on a realistic mix, and faster than
``message_from_bytes(compat32)`` alone on mail with attachments (see bench/mime_parse.py).

Why not fast-mail-parser (Stalwart's mail-parser in Rust): on the real corpus in
tests/data/mail it is ~20x faster, but shows more damage (U+FFFD or mojibake in 11 files
against our 5, Outlook's binary .msg aside), no text at all for 16 files against our 13 (a
forwarded message, a bounce, a cut-off multipart among them), and neither forwards inline,
bounce summaries, nor file-name repair. Measured by ``bench/mime_parse.py --corpus``.

Everything here is attacker-controlled input. The rules:
- never raise: every known failure is handled where it happens and recorded in
  ``ParsedMessage.problems``; a last-resort guard around each phase keeps what was read;
- bounded work: body text, HTML, header values, parts, nesting and notes are all capped;
- text that can reach a terminal goes through ``storage.sanitize`` first.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.parser
import email.utils
import functools
import html
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32
from typing import TYPE_CHECKING, TypeAlias, cast

import html2text

from storage.sanitize import clean_line, clean_text

__all__ = [
    "Address",
    "Attachment",
    "ParsedMessage",
    "find_quote_offset",
    "normalise_subject",
    "parse_many",
    "parse_message",
]

TEXT_LIMIT = 2_000_000  # characters of body text kept
HTML_LIMIT = 1_000_000  # characters of HTML stored
# html2text runs at ~1 us a character: converting more than this would stall a worker.
HTML_CONVERT_LIMIT = 300_000
MAX_HTML_NESTING = 10  # list / blockquote levels passed on to html2text
HEADER_LIMIT = 65_536  # characters of one header value we look at
MAX_DEPTH = 50  # multipart nesting we descend into
MAX_PARTS = 1_000  # MIME parts we look at
MAX_ADDRESSES = 1_000  # per address header
MAX_REFERENCES = 200
MAX_PROBLEMS = 30
QUOTE_SCAN_LINES = 10_000  # lines examined for the start of a quote
_MAX_ID_LENGTH = 998  # RFC 5322 line limit; longer "ids" are junk

# Message is generic only in the stubs.
if TYPE_CHECKING:
    _MessageBase = Message[str, str]
else:
    _MessageBase = Message


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Address:
    name: str  # display name, RFC 2047 decoded and clean_line'd; "" if none
    email: str  # lowercased and stripped


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str  # decoded, clean_line'd, without any directory part; never empty
    content_type: str
    size: int  # decoded size in bytes
    content_id: str | None = None  # without angle brackets, as HTML's "cid:" refers to it
    inline: bool = False  # Content-Disposition: inline (e.g. an image the HTML shows)
    part: str = "1"  # IMAP section ("2", "1.3"), to fetch the content later; best effort


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None  # aware, UTC
    text: str
    html: str | None  # stored for later; never render it raw
    quote_offset: int | None
    attachments: tuple[Attachment, ...]
    problems: tuple[str, ...]


# --------------------------------------------------------------------------- entry points


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse one message. Never raises: what could not be read is listed in ``problems``."""
    notes = _Notes()
    try:
        return _parse(raw, notes)
    except Exception as exc:  # last resort: the phases inside already guard themselves
        notes.add(_internal_error("the message", exc))
        return _assemble(_Head(), _Body(), notes)


def parse_many(raws: list[bytes]) -> list[ParsedMessage]:
    """Parse a batch. Meant for a ProcessPoolExecutor worker: one pickle per batch."""
    return [parse_message(raw) for raw in raws]


# --------------------------------------------------------------------------- problems


class _Notes:
    """Problem notes, deduplicated and capped so hostile input can't flood them."""

    __slots__ = ("dropped", "items")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, note: str) -> None:
        # Notes may quote attacker text (a charset name...), so they are cleaned too.
        note = clean_line(note)[:300]
        if note in self.items:
            return
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(note)
        else:
            self.dropped += 1

    def result(self) -> tuple[str, ...]:
        more = (f"... and {self.dropped} more problems",) if self.dropped else ()
        return (*self.items, *more)


def _internal_error(what: str, exc: BaseException) -> str:
    return f"could not read {what} ({type(exc).__name__}): some fields may be missing"


# --------------------------------------------------------------------------- orchestration


@dataclass(slots=True)
class _Head:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    subject: str = ""
    sender: Address | None = None
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    date: datetime | None = None


@dataclass(slots=True)
class _Body:
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()


def _parse(raw: bytes, notes: _Notes) -> ParsedMessage:
    # aioimaplib hands us bytearrays; anything else bytes-like is accepted too.
    msg = _parse_entity(raw if isinstance(raw, bytes) else bytes(raw))
    try:
        head = _read_headers(msg, notes)
    except Exception as exc:  # last resort; known header failures are handled inside
        notes.add(_internal_error("the headers", exc))
        head = _Head()
    try:
        body = _read_body(msg, notes)
    except Exception as exc:  # last resort; known body failures are handled per part
        notes.add(_internal_error("the body", exc))
        body = _Body()
    return _assemble(head, body, notes)


def _assemble(head: _Head, body: _Body, notes: _Notes) -> ParsedMessage:
    return ParsedMessage(
        message_id=head.message_id,
        in_reply_to=head.in_reply_to,
        references=head.references,
        subject=head.subject,
        sender=head.sender,
        reply_to=head.reply_to,
        to=head.to,
        cc=head.cc,
        date=head.date,
        text=body.text,
        html=body.html,
        quote_offset=find_quote_offset(body.text),
        attachments=body.attachments,
        problems=notes.result(),
    )


# --------------------------------------------------------------------------- MIME structure
#
# compat32 parses each header block; we split and decode bodies ourselves, as bytes. The
# stdlib feed parser pushes every body line through Python code (a 150 kB attachment is
# ~2,000 lines, ~2 ms) and compiles a fresh regex for every multipart boundary (~0.1 ms);
# bytes.find and binascii do the same work in C. Parts are split lazily by the body walker,
# so nesting depth and part count are bounded there, and nothing here recurses.


class _Part(_MessageBase):
    """A compat32 message (headers only) with its body kept as the bytes received."""

    raw_body: bytes = b""
    parent_type: str = ""  # content type of the enclosing multipart ("" at the root)


_HEADER_PARSER = email.parser.Parser(_class=_Part, policy=compat32)
# What the feed parser accepts as a header line (its headerRE), plus the blank line.
_HEADER_LINE = re.compile(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]|\r?\n|\r?$")


def _parse_entity(data: bytes) -> _Part:
    """Headers parsed by compat32; the body is stored, not parsed."""
    body_start = _body_start(data)
    head = data if body_start < 0 else data[:body_start]
    # The str form the stdlib parser uses: 8-bit bytes survive as lone surrogates.
    text = head.decode("ascii", "surrogateescape")
    # The parser builds _Part objects (see _class above); the stubs can't express that.
    part = cast(_Part, _HEADER_PARSER.parsestr(text, headersonly=True))
    part.set_payload("")
    junk = _first_junk_line(head) if part.defects else -1
    # Lines the parser could not read as headers are body (MissingHeaderBodySeparator).
    part.raw_body = data[junk:] if junk >= 0 else data[len(head) :]
    return part


def _body_start(data: bytes) -> int:
    """Index just after the blank line ending the header block, or -1 if there is none."""
    if data.startswith((b"\n", b"\r\n")):
        return data.index(b"\n") + 1
    lf = data.find(b"\n\n")
    crlf = data.find(b"\n\r\n", 0, lf + 3 if lf >= 0 else len(data))
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf + 3
    if lf >= 0:
        return lf + 2
    cr = data.find(b"\r\r")  # old Mac line ends: the feed parser accepts them too
    return cr + 2 if cr >= 0 else -1


def _first_junk_line(head: bytes) -> int:
    pos = 0
    while pos < len(head):
        if not _HEADER_LINE.match(head, pos):
            return pos
        end = head.find(b"\n", pos)
        pos = len(head) if end < 0 else end + 1
    return -1


def _split_multipart(body: bytes, boundary: bytes) -> tuple[list[bytes], bool] | None:
    """The parts between boundary lines, and whether the closing line was seen.

    None if no boundary line occurs at all. A boundary line is "--boundary" or
    "--boundary--" plus optional whitespace (RFC 2046 §5.1.1); the line break before it
    belongs to it. Preamble and epilogue are dropped.
    """
    parts: list[bytes] = []
    start = -1
    for line_start, line_end, closing in _boundary_lines(body, b"--" + boundary):
        if start >= 0:
            parts.append(body[start : _before_line_break(body, line_start, start)])
        if closing or len(parts) >= MAX_PARTS:
            return parts, True
        start = line_end
    if start < 0:
        return None
    parts.append(body[start:])  # no closing line: the message was cut off
    return parts, False


def _boundary_lines(body: bytes, marker: bytes) -> Iterator[tuple[int, int, bool]]:
    """(start, end after line break, is closing) of each boundary line, in order."""
    pos = 0 if body.startswith(marker) else _next_line_with(body, marker, 0)
    while pos >= 0:
        line_end = body.find(b"\n", pos)
        line_end = len(body) if line_end < 0 else line_end + 1
        rest = body[pos + len(marker) : line_end].rstrip()
        # "--b2" is not a boundary line for "b": what follows must be "--" or nothing.
        if rest in (b"", b"--"):
            yield pos, line_end, rest == b"--"
        pos = _next_line_with(body, marker, line_end - 1)


def _next_line_with(body: bytes, marker: bytes, start: int) -> int:
    """Start of the next line beginning with ``marker``, searching from ``start``; or -1."""
    found = body.find(b"\n" + marker, start)
    return found + 1 if found >= 0 else -1


def _before_line_break(body: bytes, line_start: int, floor: int) -> int:
    end = line_start - 1 if line_start > floor else line_start
    if end > floor and body[end - 1 : end] == b"\r":
        end -= 1
    return max(end, floor)


def _boundary_bytes(part: _Part) -> bytes | None:
    boundary = part.get_boundary()
    if not boundary:
        return None
    # 8-bit boundary bytes come back surrogate-escaped; RFC 2231 ones as real text.
    return boundary.encode("utf-8", "surrogateescape")


# --- transfer encodings

_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]+")
_UUENCODE = frozenset(("x-uuencode", "uuencode", "uue", "x-uue"))
_KNOWN_CTE = frozenset(("", "7bit", "8bit", "binary", "quoted-printable", "base64")) | _UUENCODE


def _transfer_decode(part: _Part, where: str, notes: _Notes) -> bytes:
    cte = _normalise_cte(part)
    body = part.raw_body
    if cte == "base64":
        return _decode_base64(body, where, notes)
    if cte == "quoted-printable":
        return binascii.a2b_qp(body)
    if cte in _UUENCODE:
        return _decode_uu(part, body, where, notes)
    if cte not in _KNOWN_CTE:
        notes.add(f"{where}: unknown transfer encoding {cte[:40]}: not decoded")
    return body


def _decode_base64(body: bytes, where: str, notes: _Notes) -> bytes:
    pad = body.find(b"=")
    if pad >= 0 and body[pad:].strip(b"= \t\r\n"):
        # Padding mid-stream: some mailers encode each line on its own, and a2b_base64
        # would stop at the first "=".
        return b"".join(_decode_base64_run(line, where, notes) for line in body.split(b"\n"))
    return _decode_base64_run(body, where, notes)


def _decode_base64_run(data: bytes, where: str, notes: _Notes) -> bytes:
    try:
        return binascii.a2b_base64(data)  # skips line breaks and stray characters itself
    except binascii.Error:
        pass
    # Wrong padding or a cut-off final group: decode what is whole.
    notes.add(f"{where}: damaged base64 data")
    data = _NOT_BASE64.sub(b"", data)
    remainder = len(data) % 4
    data = data[:-1] if remainder == 1 else data + b"=" * (-remainder % 4)
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        return b""


def _decode_uu(part: _Part, body: bytes, where: str, notes: _Notes) -> bytes:
    # Rare enough to leave to the stdlib, which knows the format.
    part.set_payload(body.decode("ascii", "surrogateescape"))
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        notes.add(f"{where}: damaged uuencoded data")
        return body
    return data if isinstance(data, bytes) else body


def _normalise_cte(part: _Part) -> str:
    """Encoding name as a token: "base64 ", "Base64 (x)" and "BASE64" all mean base64."""
    value = _raw_header(part, "content-transfer-encoding")
    tokens = (value or "").replace("(", " ").split()
    return tokens[0].lower() if tokens else ""


# --------------------------------------------------------------------------- headers

_WANTED = frozenset(
    ("message-id", "in-reply-to", "references", "subject", "from", "reply-to", "to", "cc", "date")
)
# Two of these let a forged second From/Subject show instead of the real one in some clients.
_DUPLICATE_WATCH = ("from", "subject", "date", "message-id")


def _read_headers(msg: _Part, notes: _Notes) -> _Head:
    found = _collect_headers(msg, notes)

    def first(name: str) -> str | None:
        values = found.get(name)
        return values[0] if values else None

    return _Head(
        message_id=_first_id(first("message-id")),
        in_reply_to=_first_id(first("in-reply-to")),
        references=_references(found.get("references", []), notes),
        subject=clean_line(_decode_header(first("subject") or "", "Subject", notes)),
        sender=next(iter(_addresses(found.get("from", [])[:1], "From", notes)), None),
        reply_to=_addresses(found.get("reply-to", [])[:1], "Reply-To", notes),
        to=_addresses(found.get("to", []), "To", notes),
        cc=_addresses(found.get("cc", []), "Cc", notes),
        date=_parse_date(first("date"), notes),
    )


def _collect_headers(msg: _Part, notes: _Notes) -> dict[str, list[str]]:
    """One pass over the header block (it may be 10k lines) for the headers we use."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = name.strip().lower()
        if key in _WANTED:
            found.setdefault(key, []).append(_unfold(str(value), name, notes))
    for key in _DUPLICATE_WATCH:
        if len(found.get(key, ())) > 1:
            notes.add(f"more than one {key} header: the first is used")
    return found


def _unfold(value: str, name: str, notes: _Notes) -> str:
    if len(value) > HEADER_LIMIT:
        notes.add(f"header {name} longer than {HEADER_LIMIT} characters: truncated")
        value = value[:HEADER_LIMIT]
    # compat32 keeps the folding line breaks; the whitespace after them is the separator.
    return value.replace("\r", "").replace("\n", "")


def _decode_header(value: str, name: str, notes: _Notes) -> str:
    """Raw 8-bit bytes and RFC 2047 encoded words to text (not yet cleaned)."""
    value = _raw_8bit(value, name, notes)
    return _decode_encoded_words(value, name, notes) if "=?" in value else value


def _raw_8bit(value: str, name: str, notes: _Notes) -> str:
    """Headers with raw 8-bit bytes (common, though not allowed) arrive surrogate-escaped."""
    if value.isascii():
        return value
    try:
        data = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # already real text, not escaped bytes
        return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        where = f"header {name}"
        return _utf8_or_legacy(data, where, notes, "raw 8-bit text, not UTF-8", guess=False)


# Python's own decode_header turns unencoded runs into raw-unicode-escape bytes, which
# mangles a literal "\u" in a subject; a small decoder of our own avoids that and lets
# a broken word stay as written instead of failing the whole header.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([QqBb])\?([^?]*)\?=")


def _decode_encoded_words(value: str, name: str, notes: _Notes) -> str:
    items: list[str | tuple[bytes, str]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap, pos = value[pos : match.start()], match.end()
        word = _encoded_word_bytes(match)
        after_word = bool(items) and isinstance(items[-1], tuple)
        # RFC 2047 §6.2: whitespace between two encoded words is not part of the text.
        if gap and not (word is not None and after_word and gap.isspace()):
            items.append(gap)
        if word is None:
            notes.add(f"malformed encoded word in header {name}: kept as written")
            items.append(match.group(0))
        else:
            _append_word(items, word)
    items.append(value[pos:])
    where = f"header {name}"
    return "".join(i if isinstance(i, str) else _decode_bytes(*i, where, notes) for i in items)


def _append_word(items: list[str | tuple[bytes, str]], word: tuple[bytes, str]) -> None:
    # Mailers split a multibyte character across adjacent words: join their bytes first.
    last = items[-1] if items else None
    if isinstance(last, tuple) and last[1] == word[1]:
        items[-1] = (last[0] + word[0], word[1])
    else:
        items.append(word)


def _encoded_word_bytes(match: re.Match[str]) -> tuple[bytes, str] | None:
    charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 adds "*language"
    text = match.group(3)
    if not text.isascii():
        return None
    try:
        if match.group(2) in "qQ":
            return binascii.a2b_qp(text, header=True), charset
        # Strict: a word with stray characters is broken, and is better shown as written.
        return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True), charset
    except (binascii.Error, ValueError):
        return None


# --- addresses, ids, date


def _addresses(values: list[str], name: str, notes: _Notes) -> tuple[Address, ...]:
    decoded = [_raw_8bit(v, name, notes) for v in values]
    pairs = _simple_addresses(decoded)
    if pairs is None:
        try:
            pairs = email.utils.getaddresses(decoded)
        except (ValueError, IndexError, TypeError):
            notes.add(f"malformed header {name}")
            return ()
    found: dict[str, Address] = {}
    for display, addr in pairs:
        address = _address(display, addr, name, notes)
        if address is not None:
            found.setdefault(address.email, address)
        if len(found) >= MAX_ADDRESSES:
            notes.add(f"more than {MAX_ADDRESSES} addresses in header {name}: the rest skipped")
            break
    return tuple(found.values())


# The forms nearly all mail uses: a@b, Name <a@b>, "Last, First" <a@b>, <a@b>. getaddresses
# is a full RFC 5322 parser in Python (~10 us an address); these take a regex match. Anything
# else (comments, groups, escapes, domain literals, junk) goes to getaddresses.
_ADDR_SPEC = r"[^<>\s\",;:()\\\[\]@]+@[^<>\s\",;:()\\\[\]@]+"
# No two adjacent parts of the pattern can match the same spaces: a 64 kB header of
# spaces must not make the regex try every way of splitting them.
_SIMPLE_ADDRESS = re.compile(
    rf'(?:\s*"([^"\\]*)"\s*|([^",<>()@;:\\\[\]]*))<({_ADDR_SPEC})>\s*(?:,|$)'
    rf"|\s*({_ADDR_SPEC})\s*(?:,|$)"
)


def _simple_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """(name, address) pairs if every value is a list of simple forms, else None."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        pos = 0
        while pos < len(value):
            match = _SIMPLE_ADDRESS.match(value, pos)
            if match is None or match.end() == pos:
                return None
            display = match.group(1) or (match.group(2) or "").strip()
            pairs.append((display, match.group(3) or match.group(4)))
            pos = match.end()
    return pairs


def _address(display: str, addr: str, header: str, notes: _Notes) -> Address | None:
    mail = clean_line(addr).strip("<>").lower()
    if not mail:
        return None
    if "@" not in mail:
        notes.add(f"address without a domain in header {header}")
    return Address(name=clean_line(_decode_header(display, header, notes)), email=mail)


_MESSAGE_ID = re.compile(r"<([^<>]*)>")


def _message_ids(value: str) -> list[str]:
    ids: list[str] = []
    for match in _MESSAGE_ID.finditer(value):
        inner = clean_line("".join(match.group(1).split())).replace(" ", "")
        if inner and len(inner) <= _MAX_ID_LENGTH:
            ids.append(f"<{inner}>")
    return ids


def _first_id(value: str | None) -> str | None:
    if value is None:
        return None
    ids = _message_ids(value)
    if ids:
        return ids[0]
    # Some mailers drop the angle brackets; add them back so ids compare equal.
    bare = clean_line(value)
    if "@" in bare and " " not in bare and len(bare) <= _MAX_ID_LENGTH:
        return f"<{bare}>"
    return None


def _references(values: list[str], notes: _Notes) -> tuple[str, ...]:
    ids = list(dict.fromkeys(i for v in values for i in _message_ids(v)))
    if len(ids) > MAX_REFERENCES:
        # Threading needs the root (first) and the recent parents (last); drop the middle.
        notes.add(f"more than {MAX_REFERENCES} references: the middle ones were dropped")
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return tuple(ids)


def _parse_date(value: str | None, notes: _Notes) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000" means "UTC, zone unknown" (RFC 5322 §3.3)
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, IndexError, OverflowError):
        notes.add("malformed header Date")
        return None


# --------------------------------------------------------------------------- charsets

# Names mailers use that Python doesn't know, or knows as a narrower charset than the one
# actually meant (WHATWG practice: "iso-8859-1" mail is really windows-1252, and so on).
_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "x-mac-roman": "mac-roman",
    "x-user-defined": "cp1252",
    "unicode-1-1-utf-7": "utf-7",
}
_SUPERSETS = {
    "ascii": "utf-8",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "big5": "cp950",
}
# "No idea" labels: treated as if nothing were declared.
_UNDECLARED = frozenset(("unknown-8bit", "x-unknown", "unknown", "8bit", "default", ""))
# Text codecs no mail uses that would let a sender pick odd decoding (punycode is also
# quadratic in Python: a cheap way to burn a worker's CPU).
_REFUSED = frozenset(("idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined"))
_LATIN = frozenset(("cp1252", "cp1254"))


@functools.lru_cache(maxsize=512)
def _codec(charset: str) -> str | None:
    """Python codec for a declared charset, or None if unknown or refused."""
    try:
        info = codecs.lookup(_CHARSET_ALIASES.get(charset, charset))
    except (LookupError, ValueError):  # ValueError: NUL in the name
        return None
    if not info._is_text_encoding or info.name in _REFUSED:
        return None  # base64, zlib, rot13...: codecs, but not charsets
    return _SUPERSETS.get(info.name, info.name)


def _decode_bytes(data: bytes, declared: str | None, where: str, notes: _Notes) -> str:
    """Decode with the declared charset, falling back (and saying so) when it lies.

    Damage costs locally: text that is UTF-8 but for a few bad bytes keeps its UTF-8 and
    shows one U+FFFD per bad sequence; only text that is not UTF-8 at all is read as a
    legacy charset.
    """
    label = (declared or "").strip().strip("\"'").lower()
    if label in _UNDECLARED:
        return _decode_undeclared(data, where, notes)
    codec = _codec(label) if len(label) <= 64 else None
    if codec is None:
        return _decode_unknown(data, label, where, notes)
    try:
        text = data.decode(codec)
    except UnicodeError:
        return _decode_fallback(data, codec, label, where, notes)
    if codec in _LATIN and not data.isascii():
        return _prefer_utf8(data, text, label, where, notes)
    return text


_HIGH_BYTES = bytes(range(0x80, 0x100))
_REPLACEMENT_UTF8 = "\ufffd".encode()


def _damaged_utf8(data: bytes) -> tuple[str, int] | None:
    """(text, bad sequences) if ``data`` is UTF-8 with a few bad bytes, else None.

    Each bad sequence becomes one U+FFFD (Python's "replace" follows WHATWG). It counts as
    UTF-8 when its valid multibyte characters are at least as many as its bad sequences:
    latin-1 or cp1251 text read as UTF-8 is nearly all bad sequences, hardly ever a valid
    one ("caf\\xe9" alone stays latin-1).
    """
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)
    ascii_count = len(data.translate(None, _HIGH_BYTES))
    valid = len(text) - ascii_count - bad  # non-ASCII characters decoded cleanly
    return (text, bad) if valid >= bad > 0 else None


def _legacy(data: bytes, where: str, notes: _Notes, why: str) -> str:
    """Text that is not UTF-8: windows-1252, unless it plainly is another script."""
    text = data.decode("cp1252", "replace")
    guess = None if _looks_latin(text) else _guess_charset(data)
    if guess is None:
        notes.add(f"{where}: {why}: decoded as windows-1252")
        return text
    notes.add(f"{where}: {why}: decoded as {guess} (guessed)")
    return data.decode(guess, "replace")


_LONG_WORD = re.compile(r"\w{4,}")
# What the guesser may answer: the legacy charsets mail actually uses. Left free, it names
# cp1006 or hp_roman8 for short texts.
_GUESSABLE = [
    *("cp1252", "cp1250", "cp1251", "koi8_r", "koi8_u", "cp1253", "cp1254", "cp1255"),
    *("cp1256", "cp1257", "cp874", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr"),
]
GUESS_SAMPLE = 8_192  # bytes the charset guesser looks at
GUESS_MIN_CHARS = 16  # fewer non-ASCII characters than this: windows-1252, no guess


def _looks_latin(text: str) -> bool:
    """Whether windows-1252 text reads like a Latin script, judged on its first 8k chars.

    Few non-ASCII characters at all: assumed Latin (a guess needs more to go on).
    Latin text has few non-ASCII letters, and they sit inside mostly-ASCII words ("Grüße");
    Cyrillic or CJK bytes read as windows-1252 give words made of accented letters and
    symbols ("Çäðàâñòâóéòå").
    """
    sample = text[:GUESS_SAMPLE]
    letters = sum(1 for c in sample if c.isalpha())
    high = sum(1 for c in sample if c > "\x7f")
    if high < GUESS_MIN_CHARS:  # too little to tell a script by
        return True
    if high * 10 > letters * 3:
        return False
    words = [w for w in _LONG_WORD.findall(sample) if not w.isascii()]
    odd = sum(1 for w in words if 2 * sum(1 for c in w if c > "\x7f") > len(w))
    return odd * 5 < len(words) or not words


def _guess_charset(data: bytes) -> str | None:
    """charset-normalizer's guess among the legacy mail charsets, or None."""
    import charset_normalizer  # imported late: only undeclared non-UTF-8 text needs it

    best = charset_normalizer.from_bytes(data[:GUESS_SAMPLE], cp_isolation=_GUESSABLE).best()
    return None if best is None else str(best.encoding)


def _utf8_or_legacy(data: bytes, where: str, notes: _Notes, why: str, *, guess: bool = True) -> str:
    """Damaged UTF-8 with its bad bytes replaced, else a legacy charset (guessed if asked)."""
    damaged = _damaged_utf8(data)
    if damaged is not None:
        text, bad = damaged
        notes.add(f"{where}: damaged UTF-8 text: {bad} bad byte sequence(s) replaced")
        return text
    if not guess:  # too short to guess from (a header): windows-1252
        notes.add(f"{where}: {why}: decoded as windows-1252")
        return data.decode("cp1252", "replace")
    return _legacy(data, where, notes, why)


def _decode_undeclared(data: bytes, where: str, notes: _Notes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _utf8_or_legacy(data, where, notes, "no charset declared and not UTF-8")


def _decode_unknown(data: bytes, label: str, where: str, notes: _Notes) -> str:
    if data.isascii():  # the charset can't matter
        return data.decode("ascii")
    try:
        text = data.decode("utf-8")
        notes.add(f"unknown charset {label[:40]} in {where}: decoded as UTF-8")
        return text
    except UnicodeDecodeError:
        why = f"unknown charset {label[:40]} and not UTF-8"
        return _utf8_or_legacy(data, where, notes, why)


def _decode_fallback(data: bytes, codec: str, label: str, where: str, notes: _Notes) -> str:
    label = label[:40]
    if codec == "utf-8":
        # Either a few damaged bytes in UTF-8 text, or the classic lie: "utf-8" (or
        # "us-ascii") on a windows-1252 / latin-1 body.
        return _utf8_or_legacy(data, where, notes, f"declared {label} but is not")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _undo_double_encoding(text, codec, label, where, notes)
    # A multibyte charset with a few bad bytes: keep the charset, mark the damage locally.
    notes.add(f"{where}: damaged {label} text: bad bytes replaced")
    return data.decode(codec, "replace")


def _undo_double_encoding(text: str, codec: str, label: str, where: str, notes: _Notes) -> str:
    """UTF-8 text in a part labelled otherwise; maybe the labelled bytes encoded twice.

    A gateway that read big5 bytes as latin-1 and wrote them out as UTF-8 leaves text such
    as "³nÅé": encoded back to latin-1, those bytes are the big5 the label promised.
    """
    if max(text, default="\0") <= "\xff" and not text.isascii():
        try:
            repaired = text.encode("latin-1").decode(codec)
        except UnicodeError:
            pass
        else:
            notes.add(f"{where}: {label} text encoded twice (as UTF-8): repaired")
            return repaired
    notes.add(f"{where}: declared {label} but is UTF-8: decoded as UTF-8")
    return text


def _prefer_utf8(data: bytes, text: str, label: str, where: str, notes: _Notes) -> str:
    # Latin-1 labels never fail to decode, so a UTF-8 body labelled latin-1 would show as
    # mojibake ("Ã©"). Real latin-1 text is almost never valid UTF-8, so trust UTF-8.
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        return text
    notes.add(f"{where}: declared {label[:40]} but is UTF-8: decoded as UTF-8")
    return utf8


# --------------------------------------------------------------------------- body

_BODY_TYPES = frozenset(("text/plain", "text/html"))
# Header-block defects compat32 reports that the agent should know about.
_DEFECT_NOTES: tuple[tuple[type[email.errors.MessageDefect], str], ...] = (
    (email.errors.MissingHeaderBodySeparatorDefect, "malformed header lines read as body"),
    (email.errors.FirstHeaderLineIsContinuationDefect, "malformed first header line"),
)
# A boundary line followed by a part header: used to recover from a wrong declared boundary.
_BOUNDARY_LINE = re.compile(rb"^--([^\s-][^\r\n]{0,69}?)[ \t]*\r?\n(?i:content-)", re.MULTILINE)

_Task: TypeAlias = (
    "tuple[_Part, str, int, bool]"  # part, path ("" = root, else "1.2"), depth, want text
)


class _BodyReader:
    """Walks the MIME tree once, collecting text, the first HTML part and attachments."""

    def __init__(self, notes: _Notes, prefix: str = "", parts: int = 1, level: int = 0) -> None:
        self.notes = notes
        self.level = level  # forwarded messages this one is inside
        self.prefix = prefix  # IMAP section of the message/rfc822 part being read, or ""
        self.texts: list[str] = []
        self.text_len = 0
        self.truncated = False
        self.html: str | None = None
        self.html_used = False
        self.attachments: list[Attachment] = []
        self.summaries: list[str] = []  # delivery-status summaries, shown before the text
        self.parts = parts  # entities parsed so far, the root included

    def walk(self, root: _Part, depth: int = 0) -> None:
        # An explicit stack, not recursion: nesting depth is chosen by the sender.
        stack: list[_Task] = [(root, "", depth, True)]
        while stack:
            part, path, depth, want_text = stack.pop()
            self._read_guarded(part, path, depth, want_text, stack)

    def _read_guarded(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        try:
            self._read_part(part, path, depth, want, stack)
        except Exception as exc:  # last resort: one unreadable part must not lose the rest
            self.notes.add(_internal_error(_where(path), exc))
        self._note_defects(part, path)

    def _read_part(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        ctype = part.get_content_type()
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart":
            self._split_children(part, ctype, path, depth, want, stack)
        elif maintype == "message":
            self._add_message_part(part, ctype, path, depth, want)
        elif ctype in _BODY_TYPES and not _is_attachment(part, is_root=not path):
            self._add_body_part(part, ctype, path, want)
        else:
            self._add_attachment(part, path)
            if want and ctype in _PKCS7_TYPES:
                self._append_text(_smime_notice(part))
            elif want and ctype == "text/rfc822-headers":  # a bounce returning headers only
                head = _read_headers(_parse_entity(self._payload_bytes(part, path)), _Notes())
                self._append_text(_quoted_message("Returned message headers", head, ""))

    def _section(self, path: str) -> str:
        """IMAP section of a part ("2.1"); a single-part message's body is section 1."""
        if self.prefix:
            return f"{self.prefix}.{path or 1}"
        return path or "1"

    def _split_children(
        self, part: _Part, ctype: str, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        if depth >= MAX_DEPTH:
            self.notes.add(f"multipart nesting deeper than {MAX_DEPTH} levels: inner parts skipped")
            return
        boundary = _boundary_bytes(part)
        split = _split_multipart(part.raw_body, boundary) if boundary else None
        if split is None:
            self._recover_multipart(part, path, depth, want, stack)
            return
        texts, closed = split
        if ctype == "multipart/encrypted":
            self.notes.add("encrypted message: the content cannot be shown")
            if want:  # its parts are a version stamp and a blob: nothing to read
                self._append_text(_encrypted_notice(part))
                want = False
        if not closed:
            self.notes.add(f"{_where(path)}: closing MIME boundary missing (cut off?)")
        self._push_children(texts, ctype, path, depth, want, stack)

    def _push_children(
        self, texts: list[bytes], ctype: str, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        # One budget for the whole tree: 50 levels of 1,000 parts each must not mean 50,000.
        room = MAX_PARTS - self.parts
        if len(texts) > room:
            self.notes.add(f"more than {MAX_PARTS} MIME parts: the rest skipped")
            texts = texts[: max(room, 0)]
        self.parts += len(texts)
        children = [_parse_entity(text) for text in texts]
        for child in children:
            child.parent_type = ctype
        if ctype == "multipart/digest":  # RFC 2046 §5.1.5: parts default to messages
            for child in children:
                child.set_default_type("message/rfc822")
        chosen = _preferred_alternative(children) if ctype == "multipart/alternative" else None
        # Pushed in reverse so they pop in document order.
        for index in range(len(children) - 1, -1, -1):
            child_want = want and (chosen is None or index == chosen)
            child_path = f"{path}.{index + 1}" if path else str(index + 1)
            stack.append((children[index], child_path, depth + 1, child_want))

    def _recover_multipart(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        """A multipart whose boundary is missing or wrong: look for the one actually used."""
        found = _BOUNDARY_LINE.search(part.raw_body, 0, 65_536)
        split = _split_multipart(part.raw_body, found.group(1)) if found else None
        if split is not None:
            self.notes.add(f"{_where(path)}: declared MIME boundary not found: parts recovered")
            self._push_children(split[0], part.get_content_type(), path, depth, want, stack)
        elif want:
            self.notes.add(f"{_where(path)}: MIME boundary missing or wrong: shown as raw text")
            self._append_text(_decode_bytes(part.raw_body, None, _where(path), self.notes))

    def _add_body_part(self, part: _Part, ctype: str, path: str, want: bool) -> None:
        is_html = ctype == "text/html"
        # A plain alternative we didn't choose adds nothing; an HTML one is kept as `html`.
        if not want and not (is_html and self.html is None):
            return
        text = self._decode_text(part, path, is_html)
        if not is_html:
            self._append_text(_unflow_if_flowed(part, text))
            return
        if self.html is None:
            self.html = self._cap_html(text)
        if want:
            self.html_used = True
            self._append_text(_html_to_text(text, self.notes))

    def _cap_html(self, text: str) -> str:
        if len(text) > HTML_LIMIT:
            self.notes.add(f"HTML body longer than {HTML_LIMIT:,} characters: stored truncated")
            text = text[:HTML_LIMIT]
        return clean_text(text)

    def _decode_text(self, part: _Part, path: str, is_html: bool) -> str:
        data = self._payload_bytes(part, path)
        charset = part.get_content_charset()
        if charset is None and is_html:
            charset = _sniff_meta_charset(data)
        return _decode_bytes(data, charset, _where(path), self.notes)

    def _payload_bytes(self, part: _Part, path: str) -> bytes:
        return _transfer_decode(part, _where(path), self.notes)

    def _append_text(self, text: str) -> None:
        if self.truncated:
            return
        room = TEXT_LIMIT - self.text_len
        if len(text) > room:
            self.notes.add(f"body truncated at {TEXT_LIMIT // 1_000_000} M characters")
            text, self.truncated = text[:room], True
        self.texts.append(text)
        self.text_len += len(text)

    def _add_attachment(self, part: _Part, path: str) -> None:
        size = len(self._payload_bytes(part, path))
        name = _attachment_name(part, path, self.notes)
        self.attachments.append(_attachment(part, self._section(path), name, size))

    def _add_message_part(self, part: _Part, ctype: str, path: str, depth: int, want: bool) -> None:
        data = self._payload_bytes(part, path)  # the attached message (or report) as received
        if ctype in _DSN_TYPES:
            self._add_attachment(part, path)
            if want:  # first in the text: it is what a bounce is about
                self.summaries.append(_delivery_summary(data))
            return
        self._add_message_attachment(part, path, data)
        if want and ctype in _EMBEDDED_TYPES:
            self._add_embedded(data, path, depth, _embedded_label(part))

    def _add_message_attachment(self, part: _Part, path: str, data: bytes) -> None:
        name = _filename(part, path, self.notes)
        if not name:
            inner = _parse_entity(data[:HEADER_LIMIT])
            subject = _raw_header(inner, "subject")
            name = (_safe_filename(subject or "", path, self.notes) or "message") + ".eml"
        self.attachments.append(_attachment(part, self._section(path), name, len(data)))

    def _add_embedded(self, data: bytes, path: str, depth: int, label: str) -> None:
        """A forwarded (or returned) message, shown as a quoted block with its own headers."""
        # Each level re-quotes the text inside it: the levels shown inline are few.
        if depth + 1 >= MAX_DEPTH or self.level >= MAX_EMBEDDED:
            self.notes.add(f"forwarded messages nested deeper than {self.level}: listed only")
            return
        inner = _parse_entity(data)
        head = _read_headers(inner, _Notes())  # its header quirks are not this message's
        section = self._section(path)
        reader = _BodyReader(self.notes, section, self.parts, self.level + 1)
        reader.walk(inner, depth + 1)
        self.parts = reader.parts
        body = reader.result()
        self.attachments.extend(body.attachments)
        self._append_text(_quoted_message(label, head, body.text))

    def _note_defects(self, part: _Part, path: str) -> None:
        for defect in part.defects:
            for kind, note in _DEFECT_NOTES:
                if isinstance(defect, kind):
                    self.notes.add(f"{_where(path)}: {note}")

    def result(self) -> _Body:
        texts = self.summaries + self.texts
        text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
        if not text.strip() and self.html and not self.html_used:
            # The plain alternative was empty: the HTML is the message.
            text = _html_to_text(self.html, self.notes)
        # Blank lines around the text carry nothing; inside it they are kept.
        text = clean_text(text).rstrip().lstrip("\n")
        return _Body(text, self.html, tuple(self.attachments))


_EMBEDDED_TYPES = frozenset(("message/rfc822", "message/global"))
_DSN_TYPES = frozenset(("message/delivery-status", "message/global-delivery-status"))
_PKCS7_TYPES = frozenset(("application/pkcs7-mime", "application/x-pkcs7-mime"))
ENCRYPTED_PGP = "[encrypted message (PGP): the content cannot be shown]"
ENCRYPTED_SMIME = "[encrypted message (S/MIME): the content cannot be shown]"
SIGNED_SMIME = "[signed message (S/MIME): the content is inside the signature, not shown]"
MAX_EMBEDDED = 5  # forwarded messages within forwarded messages shown inline
MAX_DSN_RECIPIENTS = 20  # recipients listed in a delivery-status summary


def _encrypted_notice(part: _Part) -> str:
    protocol = str(part.get_param("protocol", "")).lower()
    return ENCRYPTED_SMIME if "pkcs7" in protocol else ENCRYPTED_PGP


def _smime_notice(part: _Part) -> str:
    kind = str(part.get_param("smime-type", "")).lower()
    return SIGNED_SMIME if kind in ("signed-data", "certs-only") else ENCRYPTED_SMIME


def _embedded_label(part: _Part) -> str:
    if part.parent_type == "multipart/report":
        return "Returned message"  # the message a bounce sends back
    if part.parent_type == "multipart/digest":
        return "Digest message"
    return "Forwarded message"


def _quoted_message(label: str, head: _Head, text: str) -> str:
    """A "---------- Forwarded message ----------" line, then headers and text quoted."""
    lines: list[str] = []
    if head.sender is not None:
        lines.append(f"From: {_format_address(head.sender)}")
    if head.date is not None:
        lines.append(f"Date: {email.utils.format_datetime(head.date)}")
    if head.subject:
        lines.append(f"Subject: {head.subject}")
    if head.to:
        shown = ", ".join(_format_address(a) for a in head.to[:10])
        lines.append(f"To: {shown}" + (", ..." if len(head.to) > 10 else ""))
    if text:
        lines.extend(["", *text.split("\n")])
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"---------- {label} ----------\n{quoted}"


def _format_address(address: Address) -> str:
    return f"{address.name} <{address.email}>" if address.name else address.email


_DSN_BLOCK_BREAK = re.compile(r"\r?\n[ \t]*\r?\n")
_DSN_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")


def _delivery_summary(data: bytes) -> str:
    """RFC 3464 delivery status as one line per recipient: address, action, status, reason."""
    text = data[:HEADER_LIMIT].decode("utf-8", "replace")  # the fields are ASCII (or UTF-8)
    rows: list[str] = []
    for block in _DSN_BLOCK_BREAK.split(text.strip()):
        row = _dsn_row(_dsn_fields(block))
        if row:
            rows.append(row)
    if not rows:
        return "Delivery status report (no recipient listed)."
    more = len(rows) - MAX_DSN_RECIPIENTS
    shown = rows[:MAX_DSN_RECIPIENTS] + ([f"... and {more} more recipients"] if more > 0 else [])
    return "Delivery status report:\n" + "\n".join(f"- {row}" for row in shown)


def _dsn_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and last:  # a folded continuation line
            fields[last] += " " + line.strip()
            continue
        match = _DSN_FIELD.match(line)
        if match:
            last = match.group(1).lower()
            fields.setdefault(last, match.group(2).strip())
    return fields


def _dsn_row(fields: dict[str, str]) -> str | None:
    recipient = fields.get("final-recipient") or fields.get("original-recipient")
    action = fields.get("action")
    if not recipient or not action:
        return None
    row = f"{recipient.split(';', 1)[-1].strip()}: {action.lower()}"
    if fields.get("status"):
        row += f", status {fields['status']}"
    diagnostic = fields.get("diagnostic-code", "").split(";", 1)[-1].strip()
    return f"{row} ({diagnostic[:300]})" if diagnostic else row


def _unflow_if_flowed(part: _Part, text: str) -> str:
    """RFC 3676: join the soft-broken lines of format=flowed text (the terminal wraps)."""
    # Past 50k lines the per-line loop would cost real time, and reflowing a giant body
    # buys nothing; it is shown as sent.
    if str(part.get_param("format", "")).lower() != "flowed" or text.count("\n") > 50_000:
        return text
    delsp = str(part.get_param("delsp", "")).lower() == "yes"
    out: list[str] = []
    paragraph: list[str] = []
    depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        line_depth, content, soft = _flowed_line(line, delsp)
        if paragraph and line_depth != depth:  # a quote level change ends a paragraph
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
        paragraph.append(content)
        depth = line_depth
        if not soft:
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        out.append(_quoted(depth, "".join(paragraph)))
    return "\n".join(out)


def _flowed_line(line: str, delsp: bool) -> tuple[int, str, bool]:
    """(quote depth, content without stuffing, whether the line continues on the next)."""
    content = line.lstrip(">")
    depth = len(line) - len(content)
    if content.startswith(" "):  # space-stuffing (or the space after the quote marks)
        content = content[1:]
    soft = content.endswith(" ") and content != "-- "
    if soft and delsp:
        content = content[:-1]
    return depth, content, soft


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text


def _read_body(msg: _Part, notes: _Notes) -> _Body:
    reader = _BodyReader(notes)
    reader.walk(msg)
    return reader.result()


def _where(path: str) -> str:
    return f"part {path}" if path else "message body"


def _preferred_alternative(children: list[_Part]) -> int:
    """Index of the alternative to read: plain text, else a nested multipart, else HTML."""
    kinds = [c.get_content_type() for c in children]
    for wanted in ("text/plain", "multipart/", "text/html"):
        for index, kind in enumerate(kinds):
            if kind.startswith(wanted) and not _is_attachment(children[index], is_root=False):
                return index
    return len(children) - 1  # RFC 2046: the last alternative is the richest


def _raw_header(part: _Part, name: str) -> str | None:
    """First value of a header as a str (compat32's get() may return a Header object)."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return _unfold_quietly(str(value))
    return None


def _unfold_quietly(value: str) -> str:
    return value[:HEADER_LIMIT].replace("\r", "").replace("\n", "")


def _disposition(part: _Part) -> str:
    value = _raw_header(part, "content-disposition")
    return value.split(";", 1)[0].strip().lower() if value is not None else ""


def _is_attachment(part: _Part, *, is_root: bool) -> bool:
    disposition = _disposition(part)
    if disposition == "attachment":
        return True
    if disposition == "inline" or is_root:  # a single-part message is its own body
        return False
    return bool(part.get_param("filename", None, "content-disposition") or part.get_param("name"))


_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]{1,40})", re.I)


def _sniff_meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


# --- attachments


def _attachment(part: _Part, section: str, name: str, size: int) -> Attachment:
    raw_id = _raw_header(part, "content-id") or ""
    content_id = clean_line(raw_id).strip("<> ")[:_MAX_ID_LENGTH]
    return Attachment(
        filename=name,
        content_type=clean_line(part.get_content_type())[:255],
        size=size,
        content_id=content_id or None,
        inline=_disposition(part) == "inline",
        part=section,
    )


def _filename(part: _Part, path: str, notes: _Notes) -> str:
    """The file name from Content-Disposition (filename) or Content-Type (name), decoded."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = _raw_header(part, header)
        if value is None or param not in value.lower():
            continue
        try:
            raw = _param_text(part, value, header, param, _where(path), notes)
        except (ValueError, IndexError, TypeError, LookupError, UnicodeError):
            notes.add(f"{_where(path)}: malformed file name")
            return ""
        if raw:
            return _safe_filename(raw, path, notes)
    return ""


def _param_text(
    part: _Part, value: str, header: str, param: str, where: str, notes: _Notes
) -> str | None:
    """One parameter of a header, raw 8-bit bytes and RFC 2231 (name*=) decoded by our rules.

    compat32 replaces raw 8-bit bytes with U+FFFD before parsing parameters, and decodes RFC
    2231 bytes with the declared charset or nothing; so the value is decoded first, then
    parsed, then the RFC 2231 bytes decoded like any text.
    """
    holder = part
    if not value.isascii():
        holder = _Part()
        holder[header] = _raw_8bit(value, f"{header} of {where}", notes)
    got = holder.get_param(param, None, header)
    if got is None or isinstance(got, str):
        return email.utils.collapse_rfc2231_value(got).strip() if got else got
    charset, _language, text = got  # RFC 2231: the bytes arrive as a latin-1 str
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # raw 8-bit text inside an RFC 2231 value, already decoded
        return text.strip()
    return _decode_bytes(data, charset, f"file name in {where}", notes).strip()


def _attachment_name(part: _Part, path: str, notes: _Notes) -> str:
    name = _filename(part, path, notes)
    if name:
        return name
    extension = mimetypes.guess_extension(part.get_content_type(), strict=False) or ""
    return f"part-{path or '1'}{extension}"


def _safe_filename(raw: str, path: str, notes: _Notes) -> str:
    # Many mailers put RFC 2047 words in filename="..." although RFC 2231 is the rule.
    name = clean_line(_decode_header(raw, f"filename of {_where(path)}", notes))
    # A name is only a name: "../../.bashrc" must not steer a later "save attachment".
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "" if name in ("", ".", "..") else name[:255]


# --------------------------------------------------------------------------- HTML


def _html_converter() -> html2text.HTML2Text:
    # bodywidth=0: the terminal wraps; re-wrapping here would break quotes and links.
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True  # "é", not "e"; "“", not '"'
    return converter


# The lookbehind makes each run of spaces one attempt, not one per space (quadratic).
_TRAILING_SPACE = re.compile(r"(?<![ \t])[ \t]+$", re.MULTILINE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_BLANK_RUN = re.compile(r"\n{3,}")


def _html_to_text(source: str, notes: _Notes) -> str:
    """Readable text from an HTML body; script and style content never shows."""
    if len(source) > HTML_CONVERT_LIMIT:
        notes.add(f"HTML body longer than {HTML_CONVERT_LIMIT:,} characters: only the start shown")
        source = source[:HTML_CONVERT_LIMIT]
    try:
        markdown = _html_converter().handle(_HtmlDefuser(source).run())
    except (AssertionError, IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:
        notes.add(f"HTML could not be converted ({type(exc).__name__}): tags stripped instead")
        return _strip_tags(source)
    # html2text writes Markdown: undo its hard-break spaces and backslash escapes.
    text = _MD_ESCAPE.sub(r"\1", _TRAILING_SPACE.sub("", markdown))
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


_TAG_START = re.compile(r"</?[A-Za-z]")
_TAG_NAME = re.compile(r"/?\s*([A-Za-z][\w:-]*)")
_NESTING_TAGS = frozenset(("ul", "ol", "dl", "menu", "dir", "blockquote"))


class _HtmlDefuser:
    """Rewrites HTML so html2text, on Python 3.11's HTMLParser, runs in linear time.

    That parser rescans the rest of the document at every unclosed construct: 60 kB of
    "<a " or "<!--" takes minutes. html2text also indents each nested list or quote level,
    so 2,000 nested <ul> make gigabytes of spaces. In one pass here, with str.find: comments
    are dropped (an unclosed one hides the rest, as in a browser), declarations (<!DOCTYPE,
    <![CDATA[, <?xml) are dropped, a "<" that starts no complete tag becomes "&lt;",
    unbalanced quotes in a tag are removed, and list/quote nesting is capped.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[str] = []
        self.next_gt = 0  # cached position of the next ">" (-1: there is none left)
        self.depth = 0  # open list/quote levels passed on
        self.excess = 0  # open list/quote levels dropped

    def run(self) -> str:
        pos = 0
        while (lt := self.source.find("<", pos)) >= 0:
            self.out.append(self.source[pos:lt])
            pos = self._construct(lt)
        self.out.append(self.source[pos:])
        return "".join(self.out)

    def _construct(self, lt: int) -> int:
        """Emit what the "<" at ``lt`` starts; return where plain text resumes."""
        source = self.source
        if source.startswith("<!--", lt):
            end = source.find("-->", lt + 4)
            return len(source) if end < 0 else end + 3
        gt = self._find_gt(lt)
        inner_lt = source.find("<", lt + 1, gt) if gt >= 0 else -1
        is_tag = _TAG_START.match(source, lt) is not None
        if gt < 0 or inner_lt >= 0 or not (is_tag or source.startswith(("<!", "<?"), lt)):
            self.out.append("&lt;")
            return lt + 1
        if is_tag:
            self._tag(source[lt + 1 : gt])
        return gt + 1

    def _find_gt(self, lt: int) -> int:
        # Positions only grow, so each ">" is searched for once: linear overall.
        if 0 <= self.next_gt <= lt:
            self.next_gt = self.source.find(">", lt + 1)
        return self.next_gt

    def _tag(self, inner: str) -> None:
        for quote in "\"'":
            if inner.count(quote) % 2:
                inner = inner.replace(quote, "")
        if self._within_nesting_limit(inner):
            self.out.append(f"<{inner}>")

    def _within_nesting_limit(self, inner: str) -> bool:
        name = _TAG_NAME.match(inner)
        if name is None or name.group(1).lower() not in _NESTING_TAGS:
            return True
        if inner.startswith("/"):
            if self.excess:
                self.excess -= 1
                return False
            self.depth = max(self.depth - 1, 0)
            return True
        if self.depth >= MAX_HTML_NESTING:
            self.excess += 1
            return False
        self.depth += 1
        return True


_TAG = re.compile(r"<[^<>]*>")
_HIDDEN_BLOCK = re.compile(r"<(script|style)\b", re.IGNORECASE)


def _strip_tags(source: str) -> str:
    """Crude fallback when html2text fails: drop script/style blocks, then all tags."""
    lowered = source.lower()
    kept: list[str] = []
    pos = 0
    while (match := _HIDDEN_BLOCK.search(source, pos)) is not None:
        kept.append(source[pos : match.start()])
        closer = f"</{match.group(1).lower()}"
        end = lowered.find(closer, match.end())
        pos = len(source) if end < 0 else end + len(closer)
    kept.append(source[pos:])
    return html.unescape(_TAG.sub(" ", "".join(kept)))


# --------------------------------------------------------------------------- quotes

_SIGNATURE = frozenset(("-- ", "--"))
# "On <date>, <name> wrote:" and its common translations. A digit or "@" must appear, so a
# customer's own "On Monday the system wrote:" followed by an error message is not folded.
_ATTRIBUTION = re.compile(
    r"\s*(?:On|Am|Le|El|Il|Op|Den|W dniu)\s.{1,250}?"
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|napisał)\s?.{0,80}?:\s*"
)
_ATTRIBUTION_START = re.compile(r"\s*(?:On|Am|Le|El|Il|Op|Den|W dniu)\s")
_OUTLOOK_FROM = re.compile(r"\s*\**(?:From|Von|De|Van|Från|Fra|Da|Od)\s?:\**\s")
_OUTLOOK_SENT = re.compile(
    r"\s*\**(?:Sent|Date|Gesendet|Datum|Envoyé|Verzonden|Skickat|Sendt|Inviato|Enviado|Wysłano)"
    r"\s?:\**\s"
)
_ORIGINAL = re.compile(
    r"\s*-{3,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Oorspronkelijk bericht|Mensaje original|Messaggio originale|Originalmeddelande)\s*-{3,}\s*",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"\s*(?:-{3,}\s*Forwarded message|Begin forwarded message:)", re.I)
_UNDERSCORES = re.compile(r"\s*_{20,}\s*")
# Cheap first look: only lines starting like a marker (or ending in ":") get the full tests.
_CANDIDATE = re.compile(
    r"\s*(?:[>_*-]|On\s|Am\s|Le\s|El\s|Il\s|Op\s|Den\s|W\s|[A-ZÅ][a-zå]{1,3}\s?:)"
)


def find_quote_offset(text: str) -> int | None:
    """Offset in ``text`` where quoted reply text or a signature begins, or None.

    Folds: a signature ("-- "), "-----Original Message-----", an Outlook "From:/Sent:" block,
    an "On ... wrote:" attribution, and a trailing block of ">" lines. A ">" block with new
    text after it (an interleaved reply) is not folded; neither is a forwarded message,
    whose content is what the customer wants us to read.
    """
    # Only the first lines are examined one by one (Python speed); the rest is summarised
    # by two regex searches, so a 2 MB body of one-character lines costs milliseconds.
    lines = text.split("\n", QUOTE_SCAN_LINES)
    rest = lines.pop() if len(lines) > QUOTE_SCAN_LINES else None
    tail = _quoted_tail(lines, rest)
    offset = 0
    for index, line in enumerate(lines):
        if _CANDIDATE.match(line):
            if _FORWARD.match(line):
                return None
            if _starts_fold(lines, index, tail):
                return offset
        offset += len(line) + 1
    return None


def _quoted_tail(lines: list[str], rest: str | None) -> list[bool]:
    """tail[i]: from line i on there are only quoted or blank lines (or a signature)."""
    tail = [True] * (len(lines) + 1)
    tail[-1] = rest is None or _only_quoted(rest)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line in _SIGNATURE:
            tail[index] = True
        elif line.startswith(">") or not line.strip():
            tail[index] = tail[index + 1]
        else:
            tail[index] = False
    return tail


_NEW_TEXT_LINE = re.compile(r"^(?!>)(?!-- ?$)[^\n]*\S", re.MULTILINE)
_SIGNATURE_LINE = re.compile(r"^-- ?$", re.MULTILINE)


def _only_quoted(text: str) -> bool:
    """Whether ``text`` has no new (unquoted, non-blank) line before any signature."""
    new = _NEW_TEXT_LINE.search(text)
    return new is None or _SIGNATURE_LINE.search(text, 0, new.start()) is not None


def _starts_fold(lines: list[str], index: int, tail: list[bool]) -> bool:
    line = lines[index]
    if line in _SIGNATURE or _ORIGINAL.fullmatch(line):
        return True
    if line.startswith(">"):
        return tail[index]
    if _OUTLOOK_FROM.match(line):
        return _is_outlook_block(lines, index)
    if _UNDERSCORES.fullmatch(line):
        following = _next_nonblank(lines, index + 1)
        return following is not None and _is_outlook_block(lines, following)
    return _is_attribution(lines, index, tail)


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_SENT.match(line) for line in lines[index + 1 : index + 5])


def _is_attribution(lines: list[str], index: int, tail: list[bool]) -> bool:
    line = lines[index]
    if len(line) > 400 or not _ATTRIBUTION_START.match(line):
        return False
    end = index
    if not _ATTRIBUTION.fullmatch(line):
        # Long attributions are often wrapped onto a second line.
        next_line = lines[index + 1][:400] if index + 1 < len(lines) else ""
        joined = f"{line} {next_line}"
        if not _ATTRIBUTION.fullmatch(joined):
            return False
        end = index + 1
    attribution = " ".join(lines[index : end + 1])
    if not any(c.isdigit() or c == "@" for c in attribution):
        return False
    following = _next_nonblank(lines, end + 1)
    # Quoted with ">": fold only if nothing new follows (else it's an interleaved reply).
    if following is not None and lines[following].startswith(">"):
        return tail[following]
    return True


def _next_nonblank(lines: list[str], start: int) -> int | None:
    for index in range(start, min(len(lines), start + 50)):
        if lines[index].strip():
            return index
    return None


# --------------------------------------------------------------------------- subjects

_SUBJECT_PREFIX = re.compile(
    r"(?:\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|doorst|tr|rif|r|enc|res|rv|odp|pd|ynt)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]|\[[^\[\]]{0,80}\]|\((?:fwd?)\)))+",
    re.IGNORECASE,
)


def normalise_subject(s: str) -> str:
    """Subject for threading fallback: no Re:/Fwd:/AW:/SV:/[tag] prefixes, lowercased."""
    s = clean_line(s)
    prefix = _SUBJECT_PREFIX.match(s)
    if prefix:
        s = s[prefix.end() :]
    return " ".join(s.casefold().split())
