"""Forwarded messages as customers really attach them: header blocks that lost their folding.

A message a customer saves from one client and attaches in another (as "shop-mail.txt",
message/rfc822) often comes back with its folded header lines flattened: "Received: from
x" followed by "(using TLSv1.3 ...)" at the start of the next line, no leading blank. A
strict parser ends the header block at that line, so From, Date and Subject, which come
later, are read as body and the forward shows no sender at all.

`refold_headers` puts the leading blank back on such lines, only when the block plainly is a
header block that lost its folding: it starts with a header field, and at least
`MIN_FIELDS_AFTER` well-formed fields follow the first line that is not one. A message
with one stray line after its headers (a missing blank line: cpython's msg_35) is left as
it is. The body walker uses it for forwarded messages only; the message itself comes from
a server, whose copy is what the sender wrote.
"""

from __future__ import annotations

import re

MIN_FIELDS_AFTER = 2  # well-formed fields after the first unfolded line
MAX_HEADER_BYTES = 262_144  # a longer "header block" is not one: left as it is

# "Name:" (RFC 5322 field name: printable ASCII but colon), a continuation, or a blank line.
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")
_CONTINUATION = re.compile(rb"[\t ]")
_BLANK_LINE = re.compile(rb"\r?\n(\r?\n)")
_LINE_BREAK = re.compile(rb"\r?\n")
_FROM_FIELD = re.compile(rb"^from[ \t]*:", re.IGNORECASE | re.MULTILINE)
MAX_JOINS = 3  # stray blank lines bridged in one header block
_MBOX_FROM = b"From "  # an mbox separator line, as compat32 accepts first


def refold_headers(data: bytes) -> bytes | None:
    """`data` with the header block's unfolded continuation lines indented again, or None
    if the block does not look like a flattened header block (see the module docstring)."""
    data = _join_split_block(data)
    head_end = _header_end(data)
    if head_end > MAX_HEADER_BYTES:
        return None
    lines = data[:head_end].splitlines(keepends=True)
    fixed: list[bytes] = []
    if lines and lines[0].startswith(_MBOX_FROM):
        fixed.append(lines.pop(0))
    if not lines or not _FIELD.match(lines[0]):
        return None
    unfolded = fields_after = 0
    for line in lines:
        if _FIELD.match(line) or _CONTINUATION.match(line):
            fields_after += bool(unfolded and _FIELD.match(line))
            fixed.append(line)
        else:
            unfolded += 1
            fixed.append(b" " + line)
    if not unfolded or fields_after < MIN_FIELDS_AFTER:
        return None
    return b"".join(fixed) + data[head_end:]


def _join_split_block(data: bytes) -> bytes:
    """A header block cut in two by a stray blank line, made one again: when what follows
    the blank line starts with a field and holds the From: field the block before lacks."""
    for _ in range(MAX_JOINS):
        end = _header_end(data)
        blank = _LINE_BREAK.match(data, end)
        if blank is None or _FROM_FIELD.search(data, 0, end) or end > MAX_HEADER_BYTES:
            return data
        after = blank.end()
        if not _FIELD.match(data, after):
            return data
        if not _FROM_FIELD.search(data, after, _header_end(data, after)):
            return data
        data = data[:end] + data[after:]
    return data


def _header_end(data: bytes, start: int = 0) -> int:
    """Index of the blank line ending the block that starts at `start` (or len(data))."""
    match = _BLANK_LINE.search(data, start)
    return match.start(1) if match else len(data)
