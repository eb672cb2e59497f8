"""IMAP syntax we write and aioimaplib responses we read: pure functions, no I/O.

aioimaplib hands back a command's untagged lines with the leading "* " removed, each literal
as one `bytearray` element, and the tagged status text as the last line. In a FETCH response
the items after a literal sit on the following line (")" or " UID 7)").
"""

from __future__ import annotations

import base64
import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from connectors.email.mapping import Fetched

_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")


@dataclass(frozen=True, slots=True)
class FolderStatus:
    uidvalidity: int
    uidnext: int | None  # None when the server did not say (then we SEARCH)
    exists: int


def quote_mailbox(name: str) -> str:
    """A mailbox name as a quoted IMAP string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    encoded = encode_mutf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_mutf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []
    for char in name:
        if " " <= char <= "~":
            out.append(_mutf7_run(pending))
            pending = []
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    out.append(_mutf7_run(pending))
    return "".join(out)


def _mutf7_run(chars: list[str]) -> str:
    if not chars:
        return ""
    data = base64.b64encode("".join(chars).encode("utf-16-be")).decode("ascii")
    return "&" + data.rstrip("=").replace("/", ",") + "-"


def parse_select(lines: Sequence[object]) -> FolderStatus:
    """UIDVALIDITY, UIDNEXT and EXISTS from a SELECT response; ValueError without UIDVALIDITY."""
    uidvalidity = uidnext = exists = None
    for line in _byte_lines(lines):
        uidvalidity = uidvalidity or _int(_UIDVALIDITY.search(line))
        uidnext = uidnext or _int(_UIDNEXT.search(line))
        exists = exists if exists is not None else _int(_EXISTS.match(line))
    if uidvalidity is None:
        raise ValueError("the server sent no UIDVALIDITY: incremental sync is impossible")
    return FolderStatus(uidvalidity, uidnext, exists or 0)


def parse_search(lines: Sequence[object]) -> list[int]:
    """UIDs of a UID SEARCH response (the last line is the tagged status text)."""
    found: list[int] = []
    for line in _byte_lines(lines[:-1]):
        found += [int(word) for word in line.split() if word.isdigit()]
    return found


def parse_fetch(lines: Sequence[object]) -> tuple[list[Fetched], set[int]]:
    """The messages of a `UID FETCH (UID INTERNALDATE BODY.PEEK[])` response, in order, and
    the UIDs that came without a body (a flag change reported meanwhile, or BODY[] NIL)."""
    found: list[Fetched] = []
    bodiless: set[int] = set()
    for uid, date, body, _ in _records(lines):
        if uid is not None and body is not None:
            found.append(Fetched(uid, date, body))
        elif uid is not None:
            bodiless.add(uid)
    return found, bodiless


def answered_uids(lines: Sequence[object]) -> set[int]:
    """The UIDs a FETCH response reports with the `\\Answered` flag (FETCH ... FLAGS)."""
    return {uid for uid, _, _, answered in _records(lines) if uid is not None and answered}


_Record = tuple[int | None, float | None, bytes | None, bool]


def _records(lines: Sequence[object]) -> Iterator[_Record]:
    uid: int | None = None
    date: float | None = None
    body: bytes | None = None
    answered = started = False
    for line in lines:
        if isinstance(line, bytearray):  # a literal (the body): never read for items
            body = bytes(line)
            continue
        if not isinstance(line, bytes):
            continue
        if _FETCH_START.match(line):
            if started:
                yield uid, date, body, answered
            uid, date, body, answered, started = None, None, None, False, True
        uid = uid or _int(_UID.search(line))
        date = date or _internaldate(line)
        answered = answered or _has_answered(line)
    if started:
        yield uid, date, body, answered


def _has_answered(line: bytes) -> bool:
    flags = _FLAGS.search(line)
    return flags is not None and b"\\answered" in flags.group(1).lower().split()


def uid_set(uids: Sequence[int]) -> str:
    """A compact IMAP sequence set: [1, 2, 3, 7] → "1:3,7"."""
    parts: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid != prev + 1:
            parts.append(_range(start, prev))
            start = uid
        prev = uid
    parts.append(_range(start, prev))
    return ",".join(parts)


def _range(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}:{end}"


def exists_pushed(lines: Sequence[object]) -> bool:
    """Did an IDLE push say new mail arrived (EXISTS), or that something was expunged?"""
    return any(
        line.endswith((b"EXISTS", b"EXPUNGE")) or b"RECENT" in line for line in _byte_lines(lines)
    )


def _byte_lines(lines: Sequence[object]) -> Iterator[bytes]:
    for line in lines:
        if isinstance(line, bytes):
            yield line


def _int(match: re.Match[bytes] | None) -> int | None:
    return int(match.group(1)) if match else None


_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}


def _internaldate(line: bytes) -> float | None:
    """'17-Jul-1996 02:44:25 -0700' → epoch seconds (strptime costs 50 µs; this, 3)."""
    match = _INTERNALDATE.search(line)
    if match is None:
        return None
    try:
        date, clock, zone = match.group(1).decode("ascii").split()
        day, month, year = date.split("-")
        hour, minute, second = (int(part) for part in clock.split(":"))
        fields = (int(year), _MONTHS[month.title()], int(day), hour, minute, second)
        offset = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (-1 if zone[0] == "-" else 1)
    except (ValueError, KeyError, IndexError):
        return None
    return float(calendar.timegm(fields) - offset)


_LIST_LINE = re.compile(rb'^(?:LIST )?\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.+)$', re.IGNORECASE)


def sent_folder_in_list(lines: Sequence[object]) -> str | None:
    """The mailbox a LIST answer flags `\\Sent` (RFC 6154 SPECIAL-USE), decoded; else None."""
    for line in _byte_lines(lines):
        match = _LIST_LINE.match(line.strip())
        if match is None:
            continue
        flags = {flag.lower() for flag in match.group(1).split()}
        if b"\\sent" in flags and b"\\noselect" not in flags:
            return decode_mutf7(_unquote(match.group(2).decode("utf-8", "replace")))
    return None


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name


def decode_mutf7(name: str) -> str:
    """A mailbox name from the server, modified UTF-7 (RFC 3501 5.1.3) decoded."""
    return re.sub(r"&([A-Za-z0-9+,]*)-", _mutf7_decode_run, name)


def _mutf7_decode_run(match: re.Match[str]) -> str:
    run = match.group(1)
    if not run:
        return "&"
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        return base64.b64decode(padded).decode("utf-16-be")
    except (ValueError, UnicodeDecodeError):
        return match.group(0)  # not valid modified UTF-7: keep it as the server wrote it
