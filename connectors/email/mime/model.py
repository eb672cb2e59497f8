"""What a parse returns (Address, Attachment, ParsedMessage), the limits every phase
keeps, and the capped problem notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.sanitize import clean_line

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
_MAX_ID_LENGTH = 998  # RFC 5322 line limit; longer "ids" are junk


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
