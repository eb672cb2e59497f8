"""Raw fetched mail → `InboundMessage`, in a worker process, one batch per call.

Choices the store relies on (and the console shows):

- `remote_id` is the Message-ID, so the same message seen again (a UIDVALIDITY resync, the
  copy in another folder, our own reply coming back from the Sent folder) is stored once. A
  message without one gets `threading.synthetic_message_id` (a hash of its bytes). The
  `fingerprint` (Message-ID, sender, normalised subject, Date) tells a copy from a different
  message reusing the Message-ID; the store keeps the latter too (storage/ingest.py).
- The contact is the From address. Reply-To is kept in the headers and used only to address
  our replies: it often names a list or a ticket system, which is not the person writing.
- A message is ours (direction "out") only when it comes from our Sent folder (or is our
  outbox's own Message-ID, which the store recognises): its customer is the first recipient
  that is not us. Mail elsewhere that merely shows our address in From is a customer's, and
  is flagged as spoofing, as is a display name that shows another address than the sender's.
- `participants`: the addresses on From/To/Cc other than ours, and "list:<List-Id>"; the store
  lets a message into a conversation by its references only when its sender (or list) is one
  of them (storage/threads.py).
- Attachments are listed (name, type, size, and `remote_ref` = "imap:<folder>:<uidvalidity>:
  <uid>:<n>", the n-th attachment of that message); their contents stay on the server and
  are fetched when an agent opens one (not yet implemented).
- Nothing here raises: a message we cannot map is stored as what could be read plus a note.
- The headers kept with it are `StoredHeaders` (connectors/email/stored_headers.py), the shape
  the reply writer reads back.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import time
from dataclasses import dataclass

from connectors.email.mime import Address, ParsedMessage, parse_message
from connectors.email.stored_headers import Pair, StoredHeaders
from connectors.email.threads import (
    normalise_subject,
    parent_refs,
    subject_key,
    synthetic_message_id,
)
from storage.models import AttachmentIn, IdentityRef, InboundMessage

_SHOWN_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# List-Id: Name <id>, possibly folded; never reads on into the next header.
_LIST_ID = re.compile(rb"(?im)^list-id:(?:[^<\r\n]|\r?\n[ \t]){0,300}<([^<>\s]{1,250})>")
_LIST_POST = re.compile(rb"(?im)^list-post:(?:[^<\r\n]|\r?\n[ \t]){0,300}<mailto:([^<>?\s]{1,250})")
_MAX_HEADER_SCAN = 64_000
UNKNOWN_SENDER = IdentityRef("email", "unknown-sender", "Unknown sender")
UNDISCLOSED = IdentityRef("email", "undisclosed-recipients", "Undisclosed recipients")
# A Date more than this far after the server received the message is a lie (spam dates itself
# in the future to sit on top of the queue); the arrival time is used instead.
MAX_FUTURE_SKEW = 86_400.0


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message as the server returned it."""

    uid: int
    internaldate: float | None  # when the server received it, epoch seconds
    raw: bytes


@dataclass(frozen=True, slots=True)
class MapContext:
    """What a worker needs to know about the account and folder (picklable, small)."""

    account_id: int
    own_address: str  # lowercased address of `from_address`
    group_window: float  # seconds, for the subject + contact threading fallback
    folder: str
    uidvalidity: int
    from_sent: bool = False  # the folder is our Sent folder: its mail is ours
    agent_addresses: tuple[str, ...] = ()  # lowercased, our agents' own addresses


def own_address(from_address: str) -> str:
    return email.utils.parseaddr(from_address)[1].strip().lower()


def parse_batch(items: list[Fetched], ctx: MapContext) -> list[InboundMessage]:
    """The process pool's entry point: one pickle round trip per batch, not per message."""
    return [to_inbound(item, ctx) for item in items]


def to_inbound(item: Fetched, ctx: MapContext) -> InboundMessage:
    try:
        return _convert(parse_message(item.raw), item, ctx)
    except Exception as exc:  # parse_message never raises; this guards our mapping
        return unreadable(item, ctx, f"could not be read ({type(exc).__name__}: {exc})")


def unreadable(item: Fetched, ctx: MapContext, why: str) -> InboundMessage:
    """A placeholder that keeps a message visible when its content could not be read."""
    remote_id = synthetic_message_id(item.raw) if item.raw else _uid_id(item, ctx)
    return InboundMessage(
        account_id=ctx.account_id,
        remote_id=remote_id,
        channel="email",
        direction="in",
        author=UNKNOWN_SENDER,
        customer=UNKNOWN_SENDER,
        sent_at=item.internaldate or time.time(),
        text="",
        subject=f"(unreadable message, UID {item.uid} in {ctx.folder})",
        thread_ref=remote_id,
        headers=_location(item, ctx),
        problems=(f"the message {why}",),
    )


def _uid_id(item: Fetched, ctx: MapContext) -> str:
    return f"<uid.{item.uid}.{ctx.uidvalidity}.{ctx.folder}@frontdesk.invalid>".replace(" ", "_")


def _convert(parsed: ParsedMessage, item: Fetched, ctx: MapContext) -> InboundMessage:
    problems = list(parsed.problems)
    remote_id = parsed.message_id or synthetic_message_id(item.raw)
    if parsed.message_id is None:
        problems.append("no Message-ID: stored under an id made from the message's hash")
    author = _identity(parsed.sender)
    if author is None:
        problems.append("no readable From address")
    outbound = ctx.from_sent
    customer = _first_other(parsed, ctx.own_address) if outbound else author
    sent_at, date_note = _sent_at(parsed, item)
    spoofing = None if outbound else _spoofing(parsed.sender, ctx.own_address)
    return InboundMessage(
        account_id=ctx.account_id,
        remote_id=remote_id,
        channel="email",
        direction="out" if outbound else "in",
        author=author or UNKNOWN_SENDER,
        customer=customer or UNKNOWN_SENDER,
        sent_at=sent_at,
        text=parsed.text,
        subject=parsed.subject,
        thread_ref=remote_id,
        parent_refs=parent_refs(remote_id, parsed.in_reply_to, parsed.references),
        group_key=subject_key(normalise_subject(parsed.subject)),
        group_window=ctx.group_window,
        html=parsed.html,
        quote_offset=parsed.quote_offset,
        headers=_headers(parsed, item, ctx),
        attachments=_attachments(parsed, item, ctx),
        problems=tuple(problems + date_note),
        participants=_participants(parsed, item.raw, ctx.own_address),
        from_agent=author is not None and author.address in ctx.agent_addresses,
        fingerprint=_fingerprint(remote_id, parsed),
        spoofing=spoofing,
    )


def _spoofing(sender: Address | None, ours: str) -> str | None:
    """Why the From looks forged, or None."""
    if sender is None or not sender.email:
        return None
    if sender.email == ours:
        return f"claims to be from {ours}, but it is neither in our Sent folder nor our outbox"
    shown = [a.lower() for a in _SHOWN_ADDRESS.findall(sender.name)]
    other = next((a for a in shown if a != sender.email), None)
    if other is not None:
        return f"the sender's name shows {other}, but the mail is from {sender.email}"
    return None


def _participants(parsed: ParsedMessage, raw: bytes, ours: str) -> tuple[str, ...]:
    people = [a.email for a in (*_one(parsed.sender), *parsed.to, *parsed.cc)]
    found = [a for a in people if a and a != ours]
    lists = [f"list:{name}" for name in list_names(raw)]
    return tuple(dict.fromkeys([*found, *lists]))


def _one(address: Address | None) -> tuple[Address, ...]:
    return () if address is None else (address,)


def list_names(raw: bytes) -> list[str]:
    """The List-Id (RFC 2919) and the List-Post address (RFC 2369) of list mail, lowercased:
    a reply sent to the list's address (without a List-Id yet) is known by the second."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    head = (raw[: min(ends)] if ends else raw)[:_MAX_HEADER_SCAN]
    found = [m.group(1) for pattern in (_LIST_ID, _LIST_POST) for m in pattern.finditer(head)]
    return list(dict.fromkeys(f.decode("ascii", "replace").lower() for f in found))


def _fingerprint(remote_id: str, parsed: ParsedMessage) -> str:
    sender = parsed.sender.email if parsed.sender else ""
    date = "" if parsed.date is None else f"{parsed.date.timestamp():.0f}"
    key = "\0".join([remote_id, sender, normalise_subject(parsed.subject), date])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _identity(address: Address | None) -> IdentityRef | None:
    if address is None or not address.email:
        return None
    return IdentityRef("email", address.email, address.name)


def _first_other(parsed: ParsedMessage, ours: str) -> IdentityRef:
    for address in (*parsed.to, *parsed.cc):
        if address.email != ours:
            return IdentityRef("email", address.email, address.name)
    return UNDISCLOSED


def _sent_at(parsed: ParsedMessage, item: Fetched) -> tuple[float, list[str]]:
    arrived = item.internaldate
    if parsed.date is None:
        note = "no readable Date: the time the server received it is used"
        return (arrived if arrived is not None else time.time()), [note]
    sent = parsed.date.timestamp()
    if arrived is not None and sent > arrived + MAX_FUTURE_SKEW:
        return arrived, ["Date is after the server received it: the arrival time is used"]
    return sent, []


def _pairs(addresses: tuple[Address, ...]) -> tuple[Pair, ...]:
    return tuple((a.name, a.email) for a in addresses)


def _headers(parsed: ParsedMessage, item: Fetched, ctx: MapContext) -> dict[str, object]:
    """What replying and re-fetching need later: ids, recipients, where the message lives."""
    return StoredHeaders(
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=tuple(parsed.references),
        reply_to=_pairs(parsed.reply_to),
        to=_pairs(parsed.to),
        cc=_pairs(parsed.cc),
        folder=ctx.folder,
        uidvalidity=ctx.uidvalidity,
        uid=item.uid,
    ).to_json()


def _location(item: Fetched, ctx: MapContext) -> dict[str, object]:
    return StoredHeaders(folder=ctx.folder, uidvalidity=ctx.uidvalidity, uid=item.uid).to_json()


def _attachments(parsed: ParsedMessage, item: Fetched, ctx: MapContext) -> tuple[AttachmentIn, ...]:
    where = f"imap:{ctx.folder}:{ctx.uidvalidity}:{item.uid}"
    return tuple(
        AttachmentIn(a.filename, a.content_type, a.size, remote_ref=f"{where}:{n}")
        for n, a in enumerate(parsed.attachments)
    )
