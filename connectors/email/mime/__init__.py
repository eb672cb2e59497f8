"""Parse one raw RFC 5322 message into plain, picklable data, without ever raising.

A package split along the parser's phases: model (results, limits, notes), structure (MIME
parts as bytes), headers, charsets, body (the walker), attachments, html, parse (entry
points). Quote detection (email/quotes.py) and subject normalisation (email/threads.py) are
not parsing: they live beside this package and are re-exported here.
Import from ``connectors.email.mime``; the modules inside are not an interface.

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

from connectors.email.mime.model import (
    HEADER_LIMIT,
    HTML_CONVERT_LIMIT,
    HTML_LIMIT,
    MAX_ADDRESSES,
    MAX_DEPTH,
    MAX_PARTS,
    MAX_PROBLEMS,
    MAX_REFERENCES,
    TEXT_LIMIT,
    Address,
    Attachment,
    ParsedMessage,
)
from connectors.email.mime.parse import parse_many, parse_message
from connectors.email.quotes import find_quote_offset
from connectors.email.threads import normalise_subject

__all__ = [
    "HEADER_LIMIT",
    "HTML_CONVERT_LIMIT",
    "HTML_LIMIT",
    "MAX_ADDRESSES",
    "MAX_DEPTH",
    "MAX_PARTS",
    "MAX_PROBLEMS",
    "MAX_REFERENCES",
    "TEXT_LIMIT",
    "Address",
    "Attachment",
    "ParsedMessage",
    "find_quote_offset",
    "normalise_subject",
    "parse_many",
    "parse_message",
]
