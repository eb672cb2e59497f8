"""Entry points: parse one raw message or a batch, never raising."""

from __future__ import annotations

from connectors.email.mime.body import _read_body
from connectors.email.mime.headers import _read_headers
from connectors.email.mime.model import ParsedMessage, _Body, _Head, _internal_error, _Notes
from connectors.email.mime.structure import _parse_entity
from connectors.email.quotes import find_quote_offset


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
