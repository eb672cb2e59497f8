"""Headers we use: RFC 2047 words and raw 8-bit text decoded, addresses, ids, the date,
and subjects normalised for threading."""

from __future__ import annotations

import binascii
import email
import email.errors
import email.parser
import email.utils
import re
from datetime import UTC, datetime

from connectors.email.mime.charsets import _decode_bytes, _utf8_or_legacy
from connectors.email.mime.model import (
    _MAX_ID_LENGTH,
    HEADER_LIMIT,
    MAX_ADDRESSES,
    MAX_REFERENCES,
    Address,
    _Head,
    _Notes,
)
from connectors.email.mime.structure import _Part
from storage.sanitize import clean_line

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
