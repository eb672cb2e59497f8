"""Incremental sync of one IMAP folder into the store.

Checkpoint, per account, scope "folder:<name>": {"uidvalidity": V, "last_uid": U}. Every
message of the folder with a UID up to U under UIDVALIDITY V is in the store, and the
checkpoint is committed in the same transaction as the batch that moved it. So a connection
dropped mid-FETCH, or a crash, resumes after U, with nothing lost and nothing stored twice.
A different UIDVALIDITY means the UIDs we know are void: the folder is read again from the
start and the store's dedupe on Message-ID keeps what it already has.

First sync of a folder (no checkpoint yet, a new account or a newly added folder): the
checkpoint also holds `horizon` (`open_recent_days` before the pass started, by the store's
clock) until the pass is over, and every batch is stored with `Store.ingest_history`, which
closes in the same transaction the conversations that are history (storage/history.py):
last customer message older than the horizon, or flagged \\Answered (FETCH FLAGS; kept as
`answered` in the message's headers). A pass resumed after a crash keeps its horizon.

Speed (an initial sync can be 10k+ messages): bodies come in batches of BATCH per UID FETCH
(aioimaplib slows down on huge responses), over up to `connections` connections at once;
each batch is parsed in a process pool while the next ones download, and stored with one
`Store.ingest` call. Batches are stored strictly in UID order so the checkpoint stays true.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from connectors.email.imap.session import ImapSession
from connectors.email.mapping import Fetched, MapContext, parse_batch, unreadable
from connectors.progress import FolderProgress, StatusLine, track
from storage.aio import AsyncStore
from storage.models import InboundMessage
from storage.store import Store

BATCH = 100
IN_FLIGHT_PER_CONNECTION = 2  # batches downloading or parsing ahead of the store, each
# Below this many new messages a process pool costs more (start-up) than it saves.
POOL_THRESHOLD = 200

# Called after each stored batch with (folder, last UID stored): tests and progress reports.
BatchHook = Callable[[str, int], Awaitable[None]]


class Parser(Protocol):
    async def __call__(
        self, items: list[Fetched], ctx: MapContext, pooled: bool
    ) -> list[InboundMessage]: ...


def scope(folder: str) -> str:
    return f"folder:{folder}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int
    horizon: float | None = None  # set during a folder's first pass only

    @classmethod
    def load(cls, state: dict[str, object] | None) -> Checkpoint | None:
        if state is None:
            return None
        validity, last = state.get("uidvalidity"), state.get("last_uid")
        horizon = state.get("horizon")
        if isinstance(validity, int) and isinstance(last, int):
            return cls(validity, last, float(horizon) if isinstance(horizon, int | float) else None)
        return None

    def dump(self) -> dict[str, object]:
        state: dict[str, object] = {"uidvalidity": self.uidvalidity, "last_uid": self.last_uid}
        if self.horizon is not None:
            state["horizon"] = self.horizon
        return state


class ProcessParser:
    """Parses batches in a process pool (created on first use), or on a thread when small."""

    def __init__(self, make_pool: Callable[[], Executor]) -> None:
        self._make_pool = make_pool
        self._pool: Executor | None = None

    async def __call__(
        self, items: list[Fetched], ctx: MapContext, pooled: bool
    ) -> list[InboundMessage]:
        loop = asyncio.get_running_loop()
        if not pooled:
            return await asyncio.to_thread(parse_batch, items, ctx)
        if self._pool is None:
            self._pool = self._make_pool()
        try:
            return await loop.run_in_executor(self._pool, parse_batch, items, ctx)
        except Exception:  # a dead worker (BrokenProcessPool...): parse here, start afresh
            self.close()
            return await asyncio.to_thread(parse_batch, items, ctx)

    def warm(self) -> None:
        """Start the workers now, while we connect: a first sync will need them."""
        if self._pool is None:
            self._pool = self._make_pool()
            for _ in range(2):
                self._pool.submit(int)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class FolderSync:
    """Everything one folder's sync needs; `run` does it."""

    store: AsyncStore
    account_id: int
    own_address: str
    group_window: float
    parse: Parser
    on_batch: BatchHook | None = None
    sent_folder: str = ""  # its mail is ours (direction out); elsewhere, mail is a customer's
    agent_addresses: tuple[str, ...] = ()
    open_recent: float | None = None  # seconds; None: a first sync opens everything
    account_name: str = ""  # shown with the folder's progress on a terminal (progress.py)

    async def run(self, primary: ImapSession, folder: str, helpers: HelperFactory) -> int:
        """Store what is new in `folder`; returns how many messages were fetched."""
        status = await primary.select(folder)
        state = await self.store.call(Store.checkpoint, self.account_id, scope(folder))
        known = Checkpoint.load(state) or await self._first_pass(status.uidvalidity)
        last = known.last_uid if known.uidvalidity == status.uidvalidity else 0
        start = Checkpoint(status.uidvalidity, last, known.horizon)
        if status.uidnext is not None and status.uidnext <= last + 1:
            await self._finish(folder, start, state)
            return 0  # nothing new: no SEARCH, no FETCH
        uids = await primary.uids_after(last)
        if uids:
            ctx = MapContext(
                self.account_id,
                self.own_address,
                self.group_window,
                folder,
                status.uidvalidity,
                from_sent=folder == self.sent_folder,
                agent_addresses=self.agent_addresses,
            )
            sessions = [primary, *await helpers(folder, status.uidvalidity, len(uids))]
            progress = track(self.account_name, folder, len(uids))
            account = (self.account_id, self.account_name)
            line = StatusLine(self.store, account, folder, len(uids))  # the console's figures
            try:
                await line.update(0)
                await self._pipeline(sessions, uids, ctx, start.horizon, (progress, line))
            finally:
                progress.finish()
                await line.finish()
        await self._finish(folder, dataclasses.replace(start, last_uid=max([last, *uids])), state)
        return len(uids)

    async def _first_pass(self, uidvalidity: int) -> Checkpoint:
        """The starting point of a folder never synced: its horizon, by the store's clock."""
        if self.open_recent is None:
            return Checkpoint(uidvalidity, 0)
        now = await self.store.call(_store_now)
        return Checkpoint(uidvalidity, 0, now - self.open_recent)

    async def _finish(
        self, folder: str, reached: Checkpoint, saved: dict[str, object] | None
    ) -> None:
        """The pass is over: the checkpoint loses its horizon (later passes open new mail)."""
        final = dataclasses.replace(reached, horizon=None).dump()
        if final != saved:
            await self._save(folder, final)

    async def _save(self, folder: str, state: dict[str, object]) -> None:
        await self.store.call(Store.ingest, [], checkpoint=(self.account_id, scope(folder), state))

    async def _pipeline(
        self,
        sessions: list[ImapSession],
        uids: list[int],
        ctx: MapContext,
        horizon: float | None,
        reports: tuple[FolderProgress, StatusLine],
    ) -> None:
        idle: asyncio.Queue[ImapSession] = asyncio.Queue()
        for session in sessions:
            idle.put_nowait(session)
        pooled = len(uids) >= POOL_THRESHOLD
        window = IN_FLIGHT_PER_CONNECTION * len(sessions)
        pending: deque[asyncio.Task[tuple[list[InboundMessage], int]]] = deque()
        stored = 0  # batches, taken in order

        async def store_next() -> None:
            nonlocal stored
            await self._store(ctx, horizon, *await pending.popleft())
            stored += 1
            reports[0].update(min(stored * BATCH, len(uids)))
            await reports[1].update(min(stored * BATCH, len(uids)))

        try:
            for start in range(0, len(uids), BATCH):
                batch = uids[start : start + BATCH]
                pending.append(asyncio.create_task(self._download(idle, batch, ctx, pooled)))
                if len(pending) >= window:
                    await store_next()
            while pending:
                await store_next()
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _download(
        self, idle: asyncio.Queue[ImapSession], batch: Sequence[int], ctx: MapContext, pooled: bool
    ) -> tuple[list[InboundMessage], int]:
        session = await idle.get()
        try:
            fetched, failed, answered = await session.fetch(batch)
        finally:
            idle.put_nowait(session)
        messages = await self.parse(fetched, ctx, pooled)
        messages += [unreadable(Fetched(uid, None, b""), ctx, _NOT_RETURNED) for uid in failed]
        return [_flag_answered(m, answered) for m in messages], batch[-1]

    async def _store(
        self,
        ctx: MapContext,
        horizon: float | None,
        messages: list[InboundMessage],
        last_uid: int,
    ) -> None:
        state = Checkpoint(ctx.uidvalidity, last_uid, horizon).dump()
        checkpoint = (self.account_id, scope(ctx.folder), state)
        if horizon is None:
            await self.store.call(Store.ingest_mail, messages, checkpoint=checkpoint)
        else:
            await self.store.call(
                Store.ingest_history, messages, checkpoint=checkpoint, horizon=horizon
            )
        if self.on_batch is not None:
            await self.on_batch(ctx.folder, last_uid)


_NOT_RETURNED = "could not be fetched: the server refused to return it"


def _flag_answered(message: InboundMessage, answered: set[int]) -> InboundMessage:
    """Keep the server's \\Answered flag with the message (the first-sync rule reads it)."""
    if message.headers.get("uid") not in answered:
        return message
    return dataclasses.replace(message, headers={**message.headers, "answered": True})


def _store_now(store: Store) -> float:
    return store.clock()


# (folder, uidvalidity, messages to fetch) -> extra sessions with that folder selected
HelperFactory = Callable[[str, int, int], Awaitable[list[ImapSession]]]
