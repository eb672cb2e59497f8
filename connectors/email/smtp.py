"""An agent's reply as an email a mail client threads and quotes correctly, sent with aiosmtplib.

The reply answers the customer's latest message in the conversation (or, with none, our own
latest message): In-Reply-To is that message's Message-ID, References its References plus it,
To its Reply-To or else its From, Cc everyone else it was addressed to but us (reply-all, so
the people the customer copied stay in the loop) — unless the reply was queued with the
recipients the agent's composer showed (headers "to", "cc", "bcc", also `frontdesk reply --to`):
then exactly those, Bcc only on the envelope. `frontdesk reply --cc` without `--to` adds to the
reply-all Cc. The body is the agent's text, then "On <date>, <name> wrote:" and that message
quoted with "> ".
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from connectors.email.mapping import own_address
from connectors.email.settings import ImapAccountSettings
from connectors.email.stored_headers import Pair, StoredHeaders
from connectors.email.threads import reply_references, reply_subject
from connectors.email.tls import tls_context
from storage.reply_context import ReplyContext, ThreadMessage

SMTP_TIMEOUT = 60.0
QUOTE_LIMIT = 100_000  # characters of the answered message quoted; mail clients cut too


class ReplyError(Exception):
    """The reply cannot be written (no one to send it to): retrying will not help by itself."""


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    raw: bytes  # exactly what is sent, and what is appended to the Sent folder
    sender: str
    recipients: tuple[str, ...]
    message_id: str


def compose_reply(ctx: ReplyContext, settings: ImapAccountSettings) -> OutgoingMail:
    ours = own_address(settings.from_address)
    target = _answered(ctx)
    to, cc, bcc = _chosen(ctx.reply) or (*_recipients(ctx, target, ours), [])
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = settings.from_address
    msg["To"] = _join(to)
    if cc:
        msg["Cc"] = _join(cc)
    msg["Subject"] = reply_subject(ctx.subject)
    msg["Date"] = email.utils.format_datetime(_local(ctx.reply.sent_at))
    msg["Message-ID"] = ctx.reply.remote_id
    _thread_headers(msg, target)
    surveyed = StoredHeaders.from_json(ctx.reply.headers).survey is not None
    quoted = None if surveyed else target  # a survey quotes nothing
    msg.set_content(_body(ctx.reply.text, quoted))
    recipients = tuple(dict.fromkeys(address for _, address in (*to, *cc, *bcc)))
    return OutgoingMail(msg.as_bytes(), ours, recipients, ctx.reply.remote_id)


def _answered(ctx: ReplyContext) -> ThreadMessage | None:
    """The message we reply to: the customer's latest, else the latest of any direction."""
    inbound = next((m for m in ctx.earlier if m.direction == "in"), None)
    return inbound or next(iter(ctx.earlier), None)


def _chosen(reply: ThreadMessage) -> tuple[list[Pair], list[Pair], list[Pair]] | None:
    """The recipients the agent's composer showed, stored with the reply: exactly those."""
    stored = StoredHeaders.from_json(reply.headers)
    if stored.to is None:
        return None  # queued without a composer (CLI, follow-ups): reply-all as below
    if not stored.to:
        raise ReplyError("the reply names no recipient")
    return list(stored.to), list(stored.cc), list(stored.bcc)


def _recipients(
    ctx: ReplyContext, target: ThreadMessage | None, ours: str
) -> tuple[list[Pair], list[Pair]]:
    to = _reply_to(ctx, target)
    if not to:
        raise ReplyError("no address to send the reply to: the contact has no email address")
    taken = {ours, *(address for _, address in to)}
    reply = StoredHeaders.from_json(ctx.reply.headers)
    # A survey (storage/surveys.py) goes to the surveyed contact alone: no one copied.
    copied = [] if target is None or reply.survey is not None else _others(target, taken)
    for name, address in reply.cc:  # `frontdesk reply --cc` alone
        if address not in taken:
            taken.add(address)
            copied.append((name, address))
    return to, copied


def _reply_to(ctx: ReplyContext, target: ThreadMessage | None) -> list[Pair]:
    stored = StoredHeaders.from_json(None if target is None else target.headers)
    if target is not None and target.direction == "in":
        if stored.reply_to:
            return list(stored.reply_to)
        if target.author_address:
            return [(target.author_name, target.author_address)]
    if target is not None and stored.to:  # our own earlier message: to whom it went
        return list(stored.to)
    return [(ctx.contact_name, ctx.contact_email)] if ctx.contact_email else []


def _others(target: ThreadMessage, taken: set[str]) -> list[Pair]:
    found: list[Pair] = []
    stored = StoredHeaders.from_json(target.headers)
    for name, address in (*(stored.to or ()), *stored.cc):
        if address not in taken:
            taken.add(address)
            found.append((name, address))
    return found


def _join(pairs: list[Pair]) -> str:
    return ", ".join(email.utils.formataddr(pair) for pair in pairs)


def _thread_headers(msg: EmailMessage, target: ThreadMessage | None) -> None:
    if target is None or target.thread_ref is None:
        return
    ancestors = StoredHeaders.from_json(target.headers).references
    refs = reply_references(list(ancestors), target.thread_ref)
    msg["In-Reply-To"] = target.thread_ref
    msg["References"] = " ".join(refs)


def _body(text: str, target: ThreadMessage | None) -> str:
    body = text.rstrip("\n") + "\n"
    if target is None or not target.text.strip():
        return body
    when = email.utils.format_datetime(_local(target.sent_at))
    who = target.author_name or target.author_address or "you"
    if target.author_address and target.author_name:
        who = email.utils.formataddr((target.author_name, target.author_address))
    quoted = "\n".join(
        f"> {line}" if line else ">" for line in target.text[:QUOTE_LIMIT].splitlines()
    )
    return f"{body}\nOn {when}, {who} wrote:\n{quoted}\n"


def _local(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp).astimezone()


class Uncertain(Exception):
    """The server had the whole message when the connection was lost: it may have been sent.
    Never retried blindly: the outbox probes the Sent folder first."""


async def send(mail: OutgoingMail, settings: ImapAccountSettings, password: str) -> None:
    """Hand the mail to the submission server, step by step so a lost answer to the end of
    DATA is told apart (`Uncertain`) from a refusal or a failure before the message went over
    (aiosmtplib errors, OSError: nothing was sent, the caller retries)."""
    security = settings.smtp_security
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or settings.username,
        password=password,
        use_tls=security == "tls",
        start_tls=security == "starttls",
        tls_context=None if security == "none" else tls_context(settings.smtp_cafile),
        timeout=SMTP_TIMEOUT,
    )
    async with client:
        await client.mail(mail.sender)
        await _recipients_accepted(client, mail.recipients)
        try:
            await client.data(mail.raw)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise Uncertain(
                "the connection to the mail server was lost after the reply was handed over"
                f" ({type(exc).__name__}): it may have been sent"
            ) from exc


async def _recipients_accepted(client: aiosmtplib.SMTP, recipients: tuple[str, ...]) -> None:
    """RCPT each; as sendmail does, go on when at least one was accepted."""
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    for recipient in recipients:
        try:
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused.append(exc)
    if refused and len(refused) == len(recipients):
        raise refused[0]
