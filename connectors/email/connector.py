"""The email connector: IMAP in (one pass, or live with IDLE), SMTP out.

`sync_once` (what `frontdesk sync --once` runs): every configured folder and the Sent folder
are synced incrementally (connectors/email/sync.py), then the outbox is delivered
(connectors/email/outbox.py). A dropped connection is retried a few times within the pass,
resuming from the checkpoints.

`run_live`: the same, then IDLE on the first folder. New mail there is fetched as the server
announces it (Dovecot pushes ~0.5 s after delivery); every IDLE_REISSUE seconds IDLE is ended
and re-issued (servers drop an IDLE after ~29 minutes) and every folder is checked. Any drop
reconnects with exponential backoff and jitter. The outbox is delivered by its own task on
its own connection, so a reply never waits for the mailbox to go quiet.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor

from connectors.delivery import StoreLease, wait_for_due
from connectors.email.imap.session import (
    ConnectionLost,
    ImapError,
    ImapSession,
    LoginRefused,
    backoff_delay,
)
from connectors.email.lifeline import die_with
from connectors.email.mapping import own_address
from connectors.email.outbox import EmailOutbox, find_sent_folder
from connectors.email.settings import ImapAccountSettings
from connectors.email.sync import (
    POOL_THRESHOLD,
    BatchHook,
    FolderSync,
    ProcessParser,
    scope,
)
from storage.aio import AsyncStore
from storage.store import Store

log = logging.getLogger(__name__)

CONNECTIONS = 3  # for a large sync: others stream while one waits on a FETCH round trip
SYNC_ATTEMPTS = 4  # within one `sync --once` pass, on dropped connections
IDLE_REISSUE = 300.0  # well inside the ~29 min after which servers end an IDLE
OUTBOX_POLL = 2.0  # seconds between looks at the outbox in live mode
PARSE_WORKERS = max(1, min(2, os.cpu_count() or 1))


def parse_pool() -> Executor:
    """Worker processes for parsing. forkserver, not fork: the parent runs threads (the store's)
    and forking those is unsafe; the server preloads the parser so workers start warm. Each
    worker dies with this process, even SIGKILLed (connectors/email/lifeline.py)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["connectors.email.mapping", "connectors.email.lifeline"])
    return ProcessPoolExecutor(
        max_workers=PARSE_WORKERS,
        mp_context=context,
        initializer=die_with,
        initargs=(os.getpid(),),
    )


class Sessions:
    """The IMAP connections of one pass: a primary, and helpers opened for large syncs."""

    def __init__(self, settings: ImapAccountSettings, password: Callable[[], Awaitable[str]]):
        self.settings = settings
        self._password = password
        self._primary: ImapSession | None = None
        self._helpers: list[ImapSession] = []

    async def primary(self) -> ImapSession:
        if self._primary is None or self._primary.lost.is_set():
            self._primary = await ImapSession.open(self.settings, await self._password())
        return self._primary

    async def helpers(self, folder: str, uidvalidity: int, count: int) -> list[ImapSession]:
        """Extra connections with `folder` selected, for a sync of `count` messages."""
        if count < POOL_THRESHOLD:
            return []
        self._helpers = [s for s in self._helpers if not s.lost.is_set()]
        missing = CONNECTIONS - 1 - len(self._helpers)
        if missing > 0:
            password = await self._password()
            opened = await asyncio.gather(
                *(ImapSession.open(self.settings, password) for _ in range(missing)),
                return_exceptions=True,  # a helper that cannot connect is simply not used
            )
            self._helpers += [s for s in opened if isinstance(s, ImapSession)]
        return [s for s in self._helpers if await _selects(s, folder, uidvalidity)]

    async def close(self) -> None:
        sessions = [*self._helpers, *([self._primary] if self._primary else [])]
        self._primary, self._helpers = None, []
        await asyncio.gather(*(s.close() for s in sessions))


async def _selects(session: ImapSession, folder: str, uidvalidity: int) -> bool:
    """A helper is only used if it sees the folder as the primary does."""
    try:
        return (await session.select(folder)).uidvalidity == uidvalidity
    except ImapError:
        return False


class ImapConnector:
    def __init__(
        self,
        settings: ImapAccountSettings,
        account_id: int,
        *,
        on_batch: BatchHook | None = None,
        agent_addresses: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.account_id = account_id
        self.on_batch = on_batch
        # Our agents' own addresses: their mail may join any conversation it refers to.
        self.agent_addresses = tuple(a.strip().lower() for a in agent_addresses)
        self._parser = ProcessParser(parse_pool)
        self._secret: str | None = None
        self.idling = asyncio.Event()  # set while live mode waits in IDLE (tests, status)
        self.delivery_note: str | None = None  # "standing by: ..." when another process sends
        self._sent: str | None = None
        self._lease: StoreLease | None = None  # kept across live passes (renewal is cheap)

    async def folders(self, sessions: Sessions) -> list[str]:
        """The configured folders, then Sent: replies sent from other clients join threads."""
        if self._sent is None:
            self._sent = await find_sent_folder(self.settings, await sessions.primary())
        return list(dict.fromkeys([*self.settings.folders, self._sent]))

    async def _password(self) -> str:
        if self._secret is None:  # a password command may be slow (gpg): run it once, off-loop
            self._secret = await asyncio.to_thread(self.settings.password.read)
        return self._secret

    def _folder_sync(self, store: AsyncStore) -> FolderSync:
        window = self.settings.thread_window_days * 86_400
        address = own_address(self.settings.from_address)
        recent = self.settings.open_recent_days * 86_400
        return FolderSync(
            store,
            self.account_id,
            address,
            window,
            self._parser,
            self.on_batch,
            open_recent=recent,
            sent_folder=self._sent or self.settings.sent_folder or "",  # after folders()
            agent_addresses=self.agent_addresses,
            account_name=self.settings.name,
        )

    def _outbox(self, sessions: Sessions, *, release: bool = True) -> EmailOutbox:
        return EmailOutbox(
            self.settings,
            self.account_id,
            self._password,
            sessions.primary,
            release=release,
            lease=self._lease,
        )

    async def _deliver(self, store: AsyncStore, sessions: Sessions, *, release: bool) -> None:
        outbox = self._outbox(sessions, release=release)
        await outbox.deliver(store)
        self.delivery_note = outbox.standby

    # ------------------------------------------------------------------ one pass

    async def sync_once(self, store: AsyncStore) -> None:
        try:
            for attempt in range(SYNC_ATTEMPTS):
                try:
                    await self._pass(store)
                    return
                except ConnectionLost as exc:
                    if attempt + 1 == SYNC_ATTEMPTS:
                        raise
                    log.warning("%s: %s; resuming from the checkpoint", self.settings.name, exc)
                    await asyncio.sleep(backoff_delay(attempt, first=0.2, cap=5.0))
        finally:
            self._close_parser()

    async def _pass(self, store: AsyncStore) -> None:
        await self._warm_parser_for_a_first_sync(store)
        sessions = Sessions(self.settings, self._password)
        try:
            await self._sync_folders(store, sessions, await self.folders(sessions))
            await self._deliver(store, sessions, release=True)
        finally:
            await sessions.close()

    async def _sync_folders(self, store: AsyncStore, sessions: Sessions, folders: list[str]) -> int:
        sync, fetched = self._folder_sync(store), 0
        for folder in folders:
            try:
                fetched += await sync.run(await sessions.primary(), folder, sessions.helpers)
            except ConnectionLost:
                raise
            except ImapError as exc:
                if folder in self.settings.folders:
                    raise
                # The Sent folder is only read for context: its absence must not stop replies.
                log.warning("%s: %s: skipped (%s)", self.settings.name, folder, exc)
        return fetched

    async def _warm_parser_for_a_first_sync(self, store: AsyncStore) -> None:
        first = scope(self.settings.folders[0])
        never_synced = await store.call(Store.checkpoint, self.account_id, first) is None
        if never_synced:
            self._parser.warm()

    def _close_parser(self) -> None:
        self._parser.close()

    # ------------------------------------------------------------------ live

    async def run_live(self, store: AsyncStore) -> None:
        """Until cancelled: ingest as mail arrives, deliver replies as they are queued.

        Connection trouble is retried inside; anything else ends both loops and propagates
        (the runner restarts the connector)."""
        tasks = [
            asyncio.create_task(self._ingest_forever(store)),
            asyncio.create_task(self._outbox_forever(store)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._close_parser()

    async def _ingest_forever(self, store: AsyncStore) -> None:
        failures = 0
        while True:
            sessions = Sessions(self.settings, self._password)
            try:
                await self._sync_folders(store, sessions, await self.folders(sessions))
                failures = 0
                await self._idle_loop(store, sessions)
            except LoginRefused:
                # Retrying cannot fix a wrong password: the runner shows "auth failed" and
                # tries again after its restart delay, without hammering the server.
                raise
            except ImapError as exc:
                delay = backoff_delay(failures)
                failures += 1
                log.warning("%s: %s; reconnecting in %.1f s", self.settings.name, exc, delay)
                await asyncio.sleep(delay)
            finally:
                self.idling.clear()
                await sessions.close()

    async def _idle_loop(self, store: AsyncStore, sessions: Sessions) -> None:
        folder = self.settings.folders[0]
        sync = self._folder_sync(store)
        while True:
            # Fetch until a SELECT shows nothing new: mail that arrived during a FETCH was
            # announced then (and dropped by aioimaplib), so IDLE would not announce it again.
            while await sync.run(await sessions.primary(), folder, sessions.helpers):
                pass
            primary = await sessions.primary()
            self.idling.set()
            new_mail = await primary.idle(IDLE_REISSUE)
            self.idling.clear()
            if not new_mail:
                folders = await self.folders(sessions)
                await self._sync_folders(store, sessions, folders[1:])

    async def _outbox_forever(self, store: AsyncStore) -> None:
        self._lease = StoreLease(store, self.account_id)
        try:
            await self._outbox_loop(store)
        finally:  # the next holder need not wait for the lease to expire
            await self._lease.release()

    async def _outbox_loop(self, store: AsyncStore) -> None:
        failures = 0
        while True:
            sessions = Sessions(self.settings, self._password)
            try:
                # The lease is kept between passes (renewed by each): one live process sends.
                await self._deliver(store, sessions, release=False)
                failures = 0
                standing_by = self.delivery_note is not None
                await wait_for_due(store, self.account_id, OUTBOX_POLL, standing_by=standing_by)
            except ImapError as exc:
                failures += 1
                log.warning("%s outbox: %s", self.settings.name, exc)
                await asyncio.sleep(backoff_delay(failures))
            finally:
                await sessions.close()
