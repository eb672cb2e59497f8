"""Agent replies from the outbox out by SMTP and into the Sent folder: never lost, never sent
twice without a trace.

For each item: claim it (`sending`), send by SMTP, APPEND the same bytes to the Sent folder,
mark it `sent`. A crash leaves the item `sending`; the next pass looks for its Message-ID in
the Sent folder before doing anything: found, the reply went out and is marked sent; not
found, the crash came before (or, in a window of a few milliseconds, just after) the SMTP
server accepted it, and it is sent again with a warning in the log.

An SMTP refusal or a connection failure marks the item `failed` with the reason
(`last_error`, shown in the console) and a retry time with exponential backoff. A failed
APPEND after a successful send still marks the item sent: the customer has the reply, and a
resend would be the worse error; the missing Sent copy is logged.

The Sent copy comes back on the next sync of the Sent folder with the reply's Message-ID as
its remote id, so the store's idempotent ingest keeps the reply we already have.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiosmtplib

from connectors import smtp
from connectors.imap_client import ImapError, ImapSession
from connectors.imap_settings import ImapAccountSettings
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store

log = logging.getLogger(__name__)
RETRY_FIRST = 30.0  # seconds; doubled per failed attempt
RETRY_MAX = 3600.0

SessionFactory = Callable[[], Awaitable[ImapSession]]


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts, 16)))


def _store_now(store: Store) -> float:
    return store.clock()


class EmailOutbox:
    def __init__(
        self,
        settings: ImapAccountSettings,
        account_id: int,
        password: Callable[[], Awaitable[str]],
        imap: SessionFactory,
    ) -> None:
        self.settings = settings
        self.account_id = account_id
        self._password = password
        self._imap = imap  # opened only when an item needs the Sent folder

    async def deliver(self, store: AsyncStore) -> int:
        """Resume interrupted items, then send the due ones; returns how many went out."""
        sent = 0
        for item in await store.call(Store.unfinished_outbox, self.account_id):
            sent += await self._resume(store, item)
        for item in await store.call(Store.due_outbox, self.account_id):
            sent += await self._send(store, item, resent=False)
        return sent

    async def _resume(self, store: AsyncStore, item: OutboxItem) -> int:
        mail = await self._compose(store, item)
        if mail is None:
            return 0
        session = await self._imap()
        await session.select(self.settings.sent_folder)
        if await session.find_message_id(mail.message_id):
            log.info("outbox %d: already in %s, not sent again", item.id, self.settings.sent_folder)
            await store.call(Store.outbox_sent, item.id)
            return 0
        return await self._send(store, item, resent=True, mail=mail)

    async def _compose(self, store: AsyncStore, item: OutboxItem) -> smtp.OutgoingMail | None:
        try:
            ctx = await store.call(Store.reply_context, item.message_id)
            return smtp.compose_reply(ctx, self.settings)
        except (smtp.ReplyError, KeyError) as exc:
            await self._failed(store, item, str(exc))
            return None

    async def _send(
        self,
        store: AsyncStore,
        item: OutboxItem,
        *,
        resent: bool,
        mail: smtp.OutgoingMail | None = None,
    ) -> int:
        mail = mail or await self._compose(store, item)
        if mail is None:
            return 0
        # Connected before sending: between the server accepting the mail and its copy landing
        # in Sent, a crash would send it twice; keep that window to one APPEND round trip.
        session = await self._imap_or_none(item)
        if not await store.call(Store.outbox_sending, item.id, resuming=resent):
            return 0  # another runner claimed it, or it was cancelled
        if resent:
            log.warning("outbox %d: interrupted earlier and not in Sent: sending again", item.id)
        try:
            await smtp.send(mail, self.settings, await self._password())
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._failed(store, item, _describe(exc))
            return 0
        await self._copy_to_sent(item, mail, session)
        await store.call(Store.outbox_sent, item.id)
        return 1

    async def _imap_or_none(self, item: OutboxItem) -> ImapSession | None:
        """The Sent folder is a copy: an IMAP outage must not hold replies back."""
        try:
            return await self._imap()
        except ImapError as exc:
            log.warning("outbox %d: IMAP unavailable, no copy in Sent: %s", item.id, exc)
            return None

    async def _copy_to_sent(
        self, item: OutboxItem, mail: smtp.OutgoingMail, session: ImapSession | None
    ) -> None:
        if session is None:
            return
        try:
            await session.append(self.settings.sent_folder, mail.raw)
        except ImapError as exc:
            log.warning("outbox %d: sent, but not copied to Sent: %s", item.id, exc)

    async def _failed(self, store: AsyncStore, item: OutboxItem, error: str) -> None:
        retry_at = await store.call(_store_now) + retry_delay(item.attempts)
        await store.call(Store.outbox_failed, item.id, error, retry_at)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the mail server refused the reply: {exc.code} {exc.message}"
    return f"could not reach the mail server: {type(exc).__name__}: {exc}"
