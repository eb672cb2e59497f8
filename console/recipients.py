"""Who an email reply goes to, as the composer shows it, and where each address came from.

The proposal follows what a mail client's reply-all does (and what the SMTP connector did
before the composer named recipients): To is the Reply-To of the customer's latest message,
else its From; when the latest message is ours, whom it went to; else the contact's address.
Cc keeps everyone else that message was addressed to, minus our own addresses. A Reply-To on
another domain than the sender's is flagged: it is how a forged mail steers a reply away.

What the agent finally sees (and may edit) is parsed back by `parse_field`; the queued reply
carries exactly those lists (`headers` "to", "cc", "bcc"), and the connector sends to them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from connectors.email.stored_headers import pairs as stored_pairs
from storage.reply_context import ThreadMessage
from storage.sanitize import clean_line

Pair = tuple[str, str]  # (display name, address)


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    address: str
    source: str  # where it came from, as the composer says it: "Reply-To", "From", "Cc" ...


@dataclass(frozen=True, slots=True)
class Proposal:
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    warning: str | None  # a Reply-To pointing away from the sender's domain


class BadAddress(ValueError):
    """An address the agent typed cannot be sent to; the message names it."""


def propose(
    target: ThreadMessage | None,
    contact: Pair | None,
    own: Collection[str],
) -> Proposal:
    """The recipients of a reply answering `target` (None: a conversation with no mail)."""
    ours = {address.lower() for address in own}
    to = _to(target, contact)
    taken = ours | {r.address for r in to}
    cc: list[Recipient] = []
    if target is not None and target.direction == "in":
        for header, label in (("to", "To"), ("cc", "Cc")):
            for name, address in _pairs(target.headers.get(header)):
                if address not in taken:
                    taken.add(address)
                    cc.append(Recipient(name, address, f"{label} of their message"))
    return Proposal(tuple(r for r in to if r.address not in ours), tuple(cc), _warning(target))


def _to(target: ThreadMessage | None, contact: Pair | None) -> list[Recipient]:
    if target is not None and target.direction == "in":
        reply_to = _pairs(target.headers.get("reply_to"))
        if reply_to:
            return [Recipient(n, a, "Reply-To") for n, a in reply_to]
        if target.author_address:
            return [Recipient(target.author_name, target.author_address.lower(), "From")]
    if target is not None:
        sent_to = _pairs(target.headers.get("to"))
        if sent_to:
            return [Recipient(n, a, "To of our last reply") for n, a in sent_to]
    if contact is not None:
        return [Recipient(contact[0], contact[1].lower(), "contact")]
    return []


def _warning(target: ThreadMessage | None) -> str | None:
    if target is None or target.direction != "in" or not target.author_address:
        return None
    sender_domain = _domain(target.author_address)
    away = [a for _, a in _pairs(target.headers.get("reply_to")) if _domain(a) != sender_domain]
    if not away:
        return None
    return (
        f"Reply-To ({', '.join(away)}) is not the sender's domain ({sender_domain}): "
        "check before sending"
    )


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def _pairs(value: object) -> list[Pair]:
    """Stored addresses (connectors/email/stored_headers.py), names made safe to show."""
    return [(clean_line(name), address) for name, address in stored_pairs(value)]


def field_text(recipients: tuple[Recipient, ...]) -> str:
    """An editable field's text: `Name <address>, ...` (names that would not parse dropped)."""
    return ", ".join(_one(r.name, r.address) for r in recipients)


def _one(name: str, address: str) -> str:
    safe = name.replace('"', "").replace("\\", "").strip()
    if not safe or safe.lower() == address:
        return address
    return f'"{safe}" <{address}>'


def parse_field(text: str, label: str) -> list[Pair]:
    """What the agent typed in To, Cc or Bcc, as pairs; BadAddress names what cannot be sent.

    Strict on purpose: each comma-separated piece is `address`, `Name <address>` or
    `"Name" <address>`; anything else is refused rather than guessed (a lenient parser turns
    `a@b.com bob` into `a@b.combob`, which is not what was shown).
    """
    found: list[Pair] = []
    for piece in _split(text):
        if not piece:
            continue  # an empty slot between commas
        name, address = _parse_one(piece)
        if not _valid(address):
            raise BadAddress(f"{label}: {piece!r} is not an email address")
        found.append((name, address.lower()))
    return found


_NAMED = re.compile(r'(?:"([^"]*)"|([^"<>]*?))\s*<([^<>\s]+)>')


def _parse_one(piece: str) -> Pair:
    named = _NAMED.fullmatch(piece)
    if named:
        return (named.group(1) or named.group(2) or "").strip(), named.group(3)
    if any(c.isspace() or c in '<>"' for c in piece):
        return "", ""  # refused by the caller, naming the piece
    return "", piece


def _split(text: str) -> list[str]:
    """Comma-separated pieces, commas inside quotes or angle brackets kept."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = angled = False
    for char in text:
        if char == '"' and not angled:
            quoted = not quoted
        elif char in "<>" and not quoted:
            angled = char == "<"
        if char == "," and not quoted and not angled:
            pieces.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    pieces.append("".join(current).strip())
    return pieces


def _valid(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in address))
