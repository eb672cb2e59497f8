"""Email threading: which ids a new message points at, and how a reply points back.

The store threads a message JWZ-style (storage/threads.py): every id a conversation's messages
are or point at is linked to it, so replies to a message never stored join through the id
they share, and a late parent merges the conversations its replies formed; membership rules
keep outsiders out. This module computes the ids:

- In-Reply-To first: it names the message the sender actually answered;
- then References newest first: the last entry is the parent, the first the thread's root.
- Junk ids are dropped: no `@` (`<yes>`, `<1234>`, bare words some mailers write into
  In-Reply-To) or with spaces; they would join unrelated mail.
- Placeholder subjects ("...", "Subject Unavailable", encrypted-mail stand-ins) get no
  subject key, so the subject fallback never joins mail on them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from storage.sanitize import clean_line

# The domain of ids we make up: ".invalid" is reserved (RFC 2606), so it never collides.
SYNTHETIC_DOMAIN = "frontdesk.invalid"
# How many References a reply carries: the root plus the most recent ancestors. Long threads
# otherwise grow the header without bound (RFC 5322 §3.6.4 allows trimming the middle).
MAX_REPLY_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


# Subjects that say nothing: encrypted mail (PGP "...", Outlook/S-MIME placeholders), empty.
PLACEHOLDER_SUBJECTS = frozenset(
    {
        "",
        "...",
        "subject unavailable",
        "encrypted message",
        "encrypted subject",
        "[...]",
        "(no subject)",
        "no subject",
        "p≡p",
        "pep",
    }
)
_ID = re.compile(r"^<?[^<>@\s]+@[^<>@\s]+>?$")


def usable_id(ref: str | None) -> bool:
    """Whether an id can thread: local@domain, nothing else (`<yes>` cannot)."""
    return bool(ref) and _ID.match(ref or "") is not None


def parent_refs(
    message_id: str | None, in_reply_to: str | None, references: Sequence[str]
) -> tuple[str, ...]:
    """The ids a message points at, most specific first, without itself, repeats or junk."""
    ordered = [in_reply_to] if in_reply_to else []
    ordered += reversed(references)
    return tuple(dict.fromkeys(ref for ref in ordered if usable_id(ref) and ref != message_id))


def subject_key(normalised: str) -> str:
    """The subject fallback's key: "" for placeholder subjects (never joined on)."""
    stripped = normalised.strip()
    if stripped in PLACEHOLDER_SUBJECTS or not any(c.isalnum() for c in stripped):
        return ""
    return stripped


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for a message that has no Message-ID: a hash of its raw bytes.

    The whole message is hashed, not only its headers, so two different messages with the same
    headers (automated mail often has no Message-ID and identical From/Subject/Date) stay two
    messages. The same bytes seen again (a UIDVALIDITY resync, the copy in another folder) get
    the same id, which is what makes the store's ingest idempotent for them.
    """
    digest = hashlib.sha256(raw).hexdigest()[:40]
    return f"<nomsgid.{digest}@{SYNTHETIC_DOMAIN}>"


def reply_subject(subject: str) -> str:
    """'Re: ' added once: a subject that already starts with Re: keeps its single prefix."""
    subject = subject.strip()
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def reply_references(ancestors: Iterable[str], parent: str | None) -> list[str]:
    """References for a reply to `parent`: its own References, then its id, trimmed.

    Trimming keeps the root (first) and the newest ids, which are the ones threading uses.
    """
    refs = list(dict.fromkeys([*ancestors, *([parent] if parent else [])]))
    if len(refs) > MAX_REPLY_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REPLY_REFERENCES - 1) :]
    return refs


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
