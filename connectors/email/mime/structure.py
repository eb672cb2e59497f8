"""MIME structure as bytes: header blocks by compat32, bodies split on boundaries and
transfer-decoded in C (bytes.find, binascii)."""

from __future__ import annotations

import binascii
import email
import email.errors
import email.parser
import email.utils
import re
from collections.abc import Iterator
from email.message import Message
from email.policy import compat32
from typing import TYPE_CHECKING, cast

from connectors.email.mime.model import HEADER_LIMIT, MAX_PARTS, _Notes

# Message is generic only in the stubs.
if TYPE_CHECKING:
    _MessageBase = Message[str, str]
else:
    _MessageBase = Message


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


def _raw_header(part: _Part, name: str) -> str | None:
    """First value of a header as a str (compat32's get() may return a Header object)."""
    for key, value in part.raw_items():
        if key.lower() == name:
            return _unfold_quietly(str(value))
    return None


def _unfold_quietly(value: str) -> str:
    return value[:HEADER_LIMIT].replace("\r", "").replace("\n", "")
