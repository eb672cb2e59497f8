"""Customer satisfaction surveys by email: sent after a close, answered with one click.

Contract:
- `plan` decides whether closing a conversation sends a survey, and says why not: only email
  conversations of a tier the `SurveyPolicy` lists, whose account has an answer address, never
  after a close as spam (tag `spam`), never to a contact tagged `no-survey` (on any of their
  conversations: contacts carry no tags of their own), at most one per contact per `cooldown`
  seconds, and one per conversation.
- `queue` stores the survey (an unguessable `secrets.token_urlsafe` token) and its mail in the
  thread with an outbox item: the same outbox delivers it as any reply. The mail is the tier's
  one-line question and one `mailto:` link per rating to the account's address, the subject
  `Rating N [fd-TOKEN]`, percent-encoded as RFC 6068 asks.
- `in_reply` puts a survey into an agent's reply where a canned reply's `{{ survey }}` mark
  is, by the same rules as `plan` (else the mark is removed and the reason given); the reply
  itself then carries the links and `record` ties the survey to it.
- `take_answer` reads an inbound mail: a subject carrying `[fd-TOKEN]` of a known, unanswered
  survey, from an address of the survey's contact, with a rating on the scale, is recorded
  (comment: the mail's own text, quote cut) and files nothing. A token seen again in the mail
  that answered it is a duplicate (a resync): dropped silently. Anything else carrying a token
  (unknown, answered, wrong sender, rating off the scale) is `ignored` with the reason: the
  mail is then ingested as usual and the reason noted on the conversation it lands in.
- `withdraw` (undo of a close, a reopen, the customer writing again) takes back a survey whose
  mail has not started going out (outbox item queued, or failed outright): the item and its
  message are cancelled and the survey forgotten, so it neither counts in reports nor holds
  the contact's cooldown.
  A survey already being sent or sent stays.

Functions take `conn` and run inside the caller's transaction.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from storage import message_ids
from storage.models import InboundMessage, Rating
from storage.sanitize import clean_text

Scale = Literal["csat", "ces", "nps"]
SCALE_MAX: dict[str, int] = {"csat": 5, "ces": 7, "nps": 10}
SCALE_MIN: dict[str, int] = {"nps": 0}  # 1 for the others
DEFAULT_COOLDOWN = 14 * 86400.0
NO_SURVEY_TAG = "no-survey"
SPAM_TAG = "spam"
COMMENT_LIMIT = 4000
_TOKEN = re.compile(r"(\d{1,2})?\s*\[fd-([A-Za-z0-9_-]{16,64})\]")
# RFC 6068: in an hfvalue everything but unreserved characters is percent-encoded (UTF-8).
_HF_SAFE = ""
_ADDR_SAFE = "@!$'()*+,;:"


@dataclass(frozen=True, slots=True)
class TierSurvey:
    question: str
    scale: Scale = "csat"


@dataclass(frozen=True, slots=True)
class SurveyPolicy:
    """What the config asks: which tiers are surveyed and how, and where answers go."""

    tiers: Mapping[str, TierSurvey]
    addresses: Mapping[int, str]  # account id -> the address the rating links write to
    cooldown: float = DEFAULT_COOLDOWN


@dataclass(frozen=True, slots=True)
class Planned:
    conversation_id: int
    account_id: int
    contact_id: int
    address: str  # ours: where the answer goes
    to: tuple[str, str]  # (name, address) of the contact
    subject: str
    survey: TierSurvey


@dataclass(frozen=True, slots=True)
class Answer:
    """What `take_answer` made of a mail. outcome 'none': no token in it."""

    outcome: Literal["none", "recorded", "duplicate", "ignored"]
    reason: str = ""
    survey_conversation: int | None = None


def plan(
    conn: sqlite3.Connection, conversation_id: int, policy: SurveyPolicy, now: float
) -> Planned | str | None:
    """The survey to send, a reason not to (worth noting), or None (surveys not asked here)."""
    row = conn.execute(
        "SELECT account_id, channel, tier, contact_id, subject FROM conversations WHERE id = ?",
        (conversation_id,),
    ).fetchone()
    if row is None:
        return None
    account_id, channel, tier, contact_id, subject = row
    survey = policy.tiers.get(tier)
    address = policy.addresses.get(account_id)
    if survey is None or channel != "email" or not address:
        return None
    refusal = _refusal(conn, conversation_id, contact_id, policy.cooldown, now)
    if refusal:
        return refusal
    to = contact_address(conn, conversation_id, contact_id)
    if to is None:
        return "the contact has no email address"
    return Planned(conversation_id, account_id, contact_id, address, to, subject, survey)


def _refusal(
    conn: sqlite3.Connection, conversation_id: int, contact_id: int, cooldown: float, now: float
) -> str | None:
    if _tagged(conn, "x.conversation_id = ?", conversation_id, SPAM_TAG):
        return "closed as spam"
    where = "x.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)"
    if _tagged(conn, where, contact_id, NO_SURVEY_TAG):
        return f"the contact is tagged {NO_SURVEY_TAG}"
    if conn.execute(
        "SELECT 1 FROM surveys WHERE conversation_id = ?", (conversation_id,)
    ).fetchone():
        return "a survey was already sent for this conversation"
    recent = conn.execute(
        "SELECT max(sent_at) FROM surveys WHERE contact_id = ? AND sent_at > ?",
        (contact_id, now - cooldown),
    ).fetchone()[0]
    if recent is not None:
        return "the contact was surveyed within the cooldown"
    return None


def _tagged(conn: sqlite3.Connection, where: str, value: int, tag: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM conversation_tags x JOIN tags t ON t.id = x.tag_id"
        f" WHERE t.name = ? AND {where} LIMIT 1",
        (tag, value),
    ).fetchone()
    return found is not None


def contact_address(
    conn: sqlite3.Connection, conversation_id: int | None, contact_id: int
) -> tuple[str, str] | None:
    """The contact's address the conversation last heard from, else their first one."""
    row = (
        conn.execute(
            "SELECT i.display_name, i.address FROM messages m JOIN identities i"
            " ON i.id = m.author_identity_id WHERE m.conversation_id = ? AND m.direction = 'in'"
            " AND i.contact_id = ? AND i.kind = 'email' ORDER BY m.sent_at DESC, m.id DESC LIMIT 1",
            (conversation_id, contact_id),
        ).fetchone()
        or conn.execute(
            "SELECT display_name, address FROM identities WHERE contact_id = ? AND kind = 'email'"
            " ORDER BY id LIMIT 1",
            (contact_id,),
        ).fetchone()
    )
    return None if row is None else (str(row[0] or ""), str(row[1]))


def new_token() -> str:
    return secrets.token_urlsafe(18)


def mailto(address: str, subject: str) -> str:
    """A `mailto:` URI (RFC 6068) writing `subject` to `address`."""
    return f"mailto:{quote(address, safe=_ADDR_SAFE)}?subject={quote(subject, safe=_HF_SAFE)}"


def answer_subject(rating: int, token: str) -> str:
    return f"Rating {rating} [fd-{token}]"


def survey_text(survey: TierSurvey, address: str, token: str) -> str:
    """The question on one line, then one link per rating, lowest first."""
    low, top = SCALE_MIN.get(survey.scale, 1), SCALE_MAX[survey.scale]
    links = [f"{n}/{top}: {mailto(address, answer_subject(n, token))}" for n in range(low, top + 1)]
    return "\n".join([survey.question, "", *links, ""])


def queue(conn: sqlite3.Connection, planned: Planned, actor: str, now: float) -> str:
    """Store the survey, its mail in the thread and its outbox item; returns the token."""
    token = new_token()
    text = survey_text(planned.survey, planned.address, token)
    headers = {"to": [list(planned.to)], "survey": token}
    # A local key until the email connector claims the mail and gives it its Message-ID (in
    # the account's domain), found from then on by threading (`thread_ref`) so a customer
    # replying to the survey lands in the conversation (storage/message_ids.py).
    remote_id = message_ids.queued_key()
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref, direction,"
        " author_name, sent_at, subject, text, headers, thread_reason, delivery, created_at)"
        " VALUES (?, ?, ?, ?, 'out', ?, ?, ?, ?, ?, 'survey', 'queued', ?)",
        (
            planned.conversation_id,
            planned.account_id,
            remote_id,
            remote_id,
            actor,
            now,
            planned.subject,
            text,
            json.dumps(headers),
            now,
        ),
    )
    message_id = cursor.lastrowid
    conn.execute(
        "INSERT INTO outbox (conversation_id, account_id, message_id, body, next_attempt_at,"
        " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (planned.conversation_id, planned.account_id, message_id, text, now, actor, now),
    )
    assert message_id is not None
    record(conn, planned, token, message_id, now)
    return token


def record(
    conn: sqlite3.Connection, planned: Planned, token: str, message_id: int, now: float
) -> None:
    """The survey row: `message_id` is the mail carrying its links (a survey, or a reply)."""
    conn.execute(
        "INSERT INTO surveys (token, conversation_id, contact_id, kind, scale_max, message_id,"
        " sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            token,
            planned.conversation_id,
            planned.contact_id,
            planned.survey.scale,
            SCALE_MAX[planned.survey.scale],
            message_id,
            now,
        ),
    )


@dataclass(frozen=True, slots=True)
class InReply:
    """A reply's text with its survey in place, what to record (None: no survey) and why not."""

    text: str
    planned: Planned | None = None
    token: str = ""
    why_not: str | None = None


def in_reply(
    conn: sqlite3.Connection,
    conversation_id: int,
    text: str,
    mark: str,
    policy: SurveyPolicy | None,
    now: float,
) -> InReply:
    """A reply whose text holds `mark` (a canned reply's `{{ survey }}`): the survey's question
    and links take the mark's place. Without a survey to give (none for the tier, the
    cooldown...) the mark is removed and the reason given, for the conversation's history."""
    planned = None if policy is None else plan(conn, conversation_id, policy, now)
    if not isinstance(planned, Planned):
        why = planned or "no survey is set up for this conversation's tier and channel"
        return InReply(text.replace(mark, "").strip("\n"), why_not=why)
    token = new_token()
    links = survey_text(planned.survey, planned.address, token).strip("\n")
    return InReply(text.replace(mark, links, 1).replace(mark, ""), planned, token)


def find_token(subject: str) -> tuple[str, int | None] | None:
    """(token, rating written before it) from a subject such as `Re: Rating 4 [fd-XYZ]`."""
    match = _TOKEN.search(subject)
    if match is None:
        return None
    return match.group(2), None if match.group(1) is None else int(match.group(1))


def take_answer(conn: sqlite3.Connection, message: InboundMessage, now: float) -> Answer:
    """Record `message` as a survey answer when it is one (see the module's contract)."""
    found = find_token(message.subject) if message.direction == "in" else None
    if found is None:
        return Answer("none")
    token, rating = found
    row = conn.execute(
        "SELECT id, conversation_id, contact_id, scale_max, state, answer_remote_id, kind"
        " FROM surveys WHERE token = ?",
        (token,),
    ).fetchone()
    if row is None:
        return Answer("ignored", "unknown survey token")
    survey_id, conversation_id, contact_id, top, state, answered_by, kind = row
    if state == "answered":
        if answered_by == message.remote_id:
            return Answer("duplicate", survey_conversation=conversation_id)
        return Answer("ignored", "survey already answered", conversation_id)
    if not _from_contact(conn, message, contact_id):
        return Answer("ignored", "sender is not the surveyed contact", conversation_id)
    low = SCALE_MIN.get(kind, 1)
    if rating is None or not low <= rating <= top:
        return Answer("ignored", f"no rating from {low} to {top}", conversation_id)
    conn.execute(
        "UPDATE surveys SET state = 'answered', rating = ?, comment = ?, answered_at = ?,"
        " answer_remote_id = ? WHERE id = ?",
        (rating, _comment(message), now, message.remote_id, survey_id),
    )
    return Answer("recorded", survey_conversation=conversation_id)


def _from_contact(conn: sqlite3.Connection, message: InboundMessage, contact_id: int) -> bool:
    if message.author.kind != "email":
        return False
    address = message.author.address.strip()
    rows = conn.execute(
        "SELECT contact_id FROM identities WHERE kind = 'email' AND address IN (?, ?)",
        (address, address.lower()),
    ).fetchall()
    return any(int(r[0]) == contact_id for r in rows)


def _comment(message: InboundMessage) -> str | None:
    text = message.text
    if message.quote_offset is not None:
        text = text[: message.quote_offset]
    text = clean_text(text).strip()[:COMMENT_LIMIT]
    return text or None


def latest_rating(conn: sqlite3.Connection, conversation_id: int) -> Rating | None:
    row = conn.execute(
        "SELECT kind, rating, scale_max, comment, answered_at FROM surveys"
        " WHERE conversation_id = ? AND state = 'answered' ORDER BY answered_at DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    return None if row is None else Rating(*row)


def survey_ids(conn: sqlite3.Connection, conversation_id: int) -> frozenset[int]:
    rows = conn.execute("SELECT id FROM surveys WHERE conversation_id = ?", (conversation_id,))
    return frozenset(int(r[0]) for r in rows)


@dataclass(frozen=True, slots=True)
class Withdrawn:
    withdrawn: int = 0
    too_late: int = 0  # already being sent, or sent


def withdraw(
    conn: sqlite3.Connection, conversation_id: int, keep: frozenset[int] = frozenset()
) -> Withdrawn:
    """Withdraw the conversation's surveys other than `keep` whose mail has not gone out."""
    rows = conn.execute(  # survey mails only: a reply carrying links is the agent's to take back
        "SELECT s.id, s.message_id FROM surveys s JOIN messages m ON m.id = s.message_id"
        " WHERE s.conversation_id = ? AND s.state = 'sent' AND m.thread_reason = 'survey'",
        (conversation_id,),
    ).fetchall()
    withdrawn = too_late = 0
    for survey_id, message_id in rows:
        if survey_id in keep:
            continue
        cancelled = conn.execute(
            "UPDATE outbox SET status = 'cancelled' WHERE message_id = ?"
            " AND status IN ('queued', 'failed') AND outcome IS NULL",
            (message_id,),
        ).rowcount
        if not cancelled:
            too_late += 1
            continue
        conn.execute("UPDATE messages SET delivery = 'cancelled' WHERE id = ?", (message_id,))
        conn.execute("DELETE FROM surveys WHERE id = ?", (survey_id,))
        withdrawn += 1
    return Withdrawn(withdrawn, too_late)
