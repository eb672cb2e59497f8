"""Agent replies from the outbox out by SMTP and into the Sent folder: each exactly once, and
never lost or left unsent without saying so.

The loop (lease, resume, claim, retry) is connectors/outbox.py's; this module is its email
part: for each item, claim it (`sending`, in the lease holder's name, with the Message-ID the
connector mints: connectors/email/message_id.py), compose the mail with the id the claim
stored, send by SMTP, mark it `sent` at once (with its Sent copy `pending`), then APPEND the
same bytes to the Sent folder.

Outcomes:
- refused, or a failure before the message went over: `failed`, retried with backoff
  (`last_error` says why, shown in the console and by `sync --once`).
- connection lost after DATA (`smtp.Uncertain`): `uncertain`. It is never resent blindly: the
  next pass probes the Sent folder for its Message-ID (providers such as Gmail file what they
  accept there); found, it is `sent`; not found, it is sent again, once. An item left
  `sending` by a crashed holder (its lease expired) is probed the same way.
- the Sent copy failing (no such folder, IMAP down) never blocks delivery: the reply is
  `sent`, its copy `failed`, retried on later passes and shown in the sync status.

The Sent folder is the configured `sent_folder`, else the folder the server flags `\\Sent`
(RFC 6154), else "Sent". The Sent copy comes back on the next sync of that folder with the
reply's Message-ID as its remote id, so the store's idempotent ingest keeps the reply we have.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiosmtplib

from connectors.delivery import DeliveryLease
from connectors.email import message_id, smtp
from connectors.email.imap.session import ImapError, ImapSession
from connectors.email.settings import ImapAccountSettings
from connectors.outbox import Absent, ChannelOutbox, Found, Probe, Unknown
from connectors.redact import redact
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store

log = logging.getLogger(__name__)
DEFAULT_SENT = "Sent"

SessionFactory = Callable[[], Awaitable[ImapSession]]


async def find_sent_folder(settings: ImapAccountSettings, session: ImapSession) -> str:
    """`sent_folder` from the config, else the server's `\\Sent` folder, else "Sent"."""
    if settings.sent_folder:
        return settings.sent_folder
    try:
        return await session.special_sent_folder() or DEFAULT_SENT
    except ImapError as exc:
        log.warning("%s: LIST failed, assuming %r: %s", settings.name, DEFAULT_SENT, exc)
        return DEFAULT_SENT


class EmailOutbox(ChannelOutbox):
    resent_still_missing = (
        "sent again once and still not in the Sent folder: check before resending"
    )

    def __init__(
        self,
        settings: ImapAccountSettings,
        account_id: int,
        password: Callable[[], Awaitable[str]],
        imap: SessionFactory,
        *,
        release: bool = True,
        lease: DeliveryLease | None = None,
    ) -> None:
        super().__init__(account_id, release=release, lease=lease)
        self.name = settings.name
        self.settings = settings
        self._password = password
        self._imap = imap  # opened only when an item needs the Sent folder
        self._sent: str | None = None

    async def after_pass(self, store: AsyncStore) -> None:
        """Sent replies whose Sent copy failed: copy them now."""
        for outbox_id in await store.call(Store.outbox_copies_due, self.account_id):
            await self._retry_copy(store, outbox_id)

    async def _sent_folder(self, session: ImapSession) -> str:
        if self._sent is None:
            self._sent = await find_sent_folder(self.settings, session)
        return self._sent

    async def _in_sent(self, message_id: str) -> bool:
        """Whether the Sent folder holds the message; ImapError when we cannot tell."""
        session = await self._imap()
        await session.select(await self._sent_folder(session))
        return bool(await session.find_message_id(message_id))

    async def already_sent(self, store: AsyncStore, item: OutboxItem) -> Probe:
        mail = await self._compose(store, item)
        if mail is None:
            return None
        try:
            found = await self._in_sent(mail.message_id)
        except ImapError as exc:
            return Unknown(f"may have been sent; the Sent folder could not be checked: {exc}")
        if found:
            log.info("outbox %d: found in Sent, not sent again", item.id)
            return Found()
        return Absent()  # sent again under the same stored Message-ID (message_id.py)

    async def _compose(self, store: AsyncStore, item: OutboxItem) -> smtp.OutgoingMail | None:
        try:
            ctx = await store.call(Store.reply_context, item.message_id)
            return smtp.compose_reply(ctx, self.settings)
        except (smtp.ReplyError, KeyError) as exc:
            await self.failed(store, item, str(exc))
            return None

    async def take(
        self, store: AsyncStore, item: OutboxItem, holder: str, *, resuming: bool
    ) -> bool:
        """Claim the item and, in the same transaction, store its Message-ID: a fresh one
        from the account's domain, unless an earlier claim stored one (message_id.py)."""
        minted = message_id.mint(self.settings.from_address)
        carried = await store.call(
            Store.outbox_claim_with_id, item.id, minted, resuming=resuming, holder=holder
        )
        return carried is not None

    async def send(self, store: AsyncStore, item: OutboxItem, holder: str, *, resent: bool) -> int:
        if resent:
            log.warning("outbox %d: may have been sent, not in Sent: sending again once", item.id)
        # Connected before sending: the copy follows the send by one APPEND round trip.
        session = await self._imap_or_none(item)
        if not await self.claim(store, item, holder, resent=resent):
            return 0  # another runner holds it, our lease is gone, or it was cancelled
        mail = await self._compose(store, item)  # with the Message-ID the claim stored
        if mail is None:
            return 0
        try:
            await smtp.send(mail, self.settings, await self._password())
        except smtp.Uncertain as exc:
            await self.uncertain(store, item, str(exc))
            return 0
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self.failed(store, item, _describe(exc))
            return 0
        await store.call(Store.outbox_sent, item.id, sent_copy="pending")
        await self._copy_to_sent(store, item.id, mail, session)
        return 1

    async def _imap_or_none(self, item: OutboxItem) -> ImapSession | None:
        """The Sent folder is a copy: an IMAP outage must not hold replies back."""
        try:
            return await self._imap()
        except ImapError as exc:
            log.warning("outbox %d: IMAP unavailable, Sent copy later: %s", item.id, exc)
            return None

    async def _copy_to_sent(
        self,
        store: AsyncStore,
        outbox_id: int,
        mail: smtp.OutgoingMail,
        session: ImapSession | None,
    ) -> None:
        try:
            if session is None:
                raise ImapError("the IMAP server could not be reached")
            await session.append(await self._sent_folder(session), mail.raw)
        except ImapError as exc:
            log.warning("outbox %d: sent, but not copied to Sent: %s", outbox_id, exc)
            await _copy_failed(store, outbox_id, str(exc))
            return
        await store.call(Store.outbox_copy, outbox_id, None)

    async def _retry_copy(self, store: AsyncStore, outbox_id: int) -> None:
        """A sent reply without its Sent copy: add it, unless it is there already."""
        item = await store.call(Store.outbox_item, outbox_id)
        try:
            ctx = await store.call(Store.reply_context, item.message_id)
            mail = smtp.compose_reply(ctx, self.settings)
        except (smtp.ReplyError, KeyError) as exc:
            await _copy_failed(store, outbox_id, str(exc))
            return
        try:
            if await self._in_sent(mail.message_id):
                await store.call(Store.outbox_copy, outbox_id, None)
                return
        except ImapError as exc:
            await _copy_failed(store, outbox_id, str(exc))
            return
        await self._copy_to_sent(store, outbox_id, mail, await self._imap_or_none(item))


async def _copy_failed(store: AsyncStore, outbox_id: int, error: str) -> None:
    """The reply went out, its Sent copy did not: retried later, `error` (masked) shown."""
    await store.call(Store.outbox_copy, outbox_id, "failed", redact(error))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the mail server refused the reply: {exc.code} {exc.message}"
    return f"could not reach the mail server: {type(exc).__name__}: {exc}"
