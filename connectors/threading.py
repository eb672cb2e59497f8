"""Email threading: which stored messages a new one points at, and how a reply points back.

The store threads a message by trying its `parent_refs` in order against the `thread_ref`
(Message-ID) of every stored message of the account, then falls back to the same contact and
normalised subject within a window (storage/ingest.py `find_thread`), and records which rule
matched. This module computes the refs, JWZ-style:

- In-Reply-To first: it names the message the sender actually answered;
- then References newest first: the last entry is the parent, the first the thread's root,
  so a reply whose direct parent we never saw (a colleague's reply from another client, a
  message deleted before we synced) still joins the conversation through an older ancestor.

Messages are stored in the order they arrive (UID order per folder), so a reply seen before
its parent starts a conversation of its own unless an ancestor or the subject fallback joins
it; the subject fallback covers most of those cases in practice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

# The domain of ids we make up: ".invalid" is reserved (RFC 2606), so it never collides.
SYNTHETIC_DOMAIN = "frontdesk.invalid"
# How many References a reply carries: the root plus the most recent ancestors. Long threads
# otherwise grow the header without bound (RFC 5322 §3.6.4 allows trimming the middle).
MAX_REPLY_REFERENCES = 20
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def parent_refs(
    message_id: str | None, in_reply_to: str | None, references: Sequence[str]
) -> tuple[str, ...]:
    """The ids a message points at, most specific first, without itself or repeats."""
    ordered = [in_reply_to] if in_reply_to else []
    ordered += reversed(references)
    return tuple(dict.fromkeys(ref for ref in ordered if ref and ref != message_id))


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
