"""Who delivers an account's outbox: one process at a time, by lease.

`DeliveryLease` is the one small interface the outboxes use. `StoreLease` implements it on
the store's `delivery_leases` row (holder, heartbeat, expiry, taken atomically); a PostgreSQL
store would implement the same three calls with `pg_try_advisory_lock(account_id)` on a
dedicated session (released by `pg_advisory_unlock`, or by the server when that session dies,
which plays the part of expiry).

`delivering(lease)` takes the lease for the length of a delivery pass and renews it by
heartbeat meanwhile; it yields False when another process holds it: that process delivers,
this one stands by (ingests only) and says so in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from storage.aio import AsyncStore
from storage.store import Store

log = logging.getLogger(__name__)
LEASE_TTL = 30.0  # seconds a holder may go without a heartbeat before others take over
HEARTBEAT = LEASE_TTL / 3
WAKE = 0.2  # seconds between cheap looks for a newly queued reply in live mode
# This process's name on leases and claims: host, pid and a random part (pids are reused).
PROCESS_HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryLease(Protocol):
    holder: str

    async def acquire(self) -> str:
        """Take or renew the lease; return its holder (ours when it equals `holder`)."""

    async def release(self) -> None:
        """Give it up now, so another process need not wait for the expiry."""


class StoreLease:
    """The lease as a row of the store (SQLite)."""

    def __init__(
        self,
        store: AsyncStore,
        account_id: int,
        holder: str = PROCESS_HOLDER,
        ttl: float = LEASE_TTL,
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.holder = holder
        self.ttl = ttl
        self._renewed = -math.inf  # when we last renewed it (monotonic)

    async def acquire(self) -> str:
        # Renewed moments ago: no write (each write wakes every console on the store).
        if time.monotonic() - self._renewed < self.ttl / 6:
            return self.holder
        holder = await self.store.call(Store.take_lease, self.account_id, self.holder, self.ttl)
        self._renewed = time.monotonic() if holder == self.holder else -math.inf
        return holder

    async def release(self) -> None:
        self._renewed = -math.inf
        await self.store.call(Store.release_lease, self.account_id, self.holder)


def standby_note(holder: str) -> str:
    return f"standing by: {holder} delivers this account's replies; ingesting only"


@contextlib.asynccontextmanager
async def delivering(
    lease: DeliveryLease, name: str, *, release: bool = True, heartbeat: float = HEARTBEAT
) -> AsyncIterator[str | None]:
    """Hold `lease` while the body delivers; yield None when ours, else a standby note.

    `release=False` (live mode) keeps it between passes: the next pass renews it."""
    holder = await lease.acquire()
    if holder != lease.holder:
        note = standby_note(holder)
        log.warning("%s: %s", name, note)
        yield note
        return
    beat = asyncio.create_task(_heartbeat(lease, name, heartbeat))
    try:
        yield None
    finally:
        beat.cancel()
        # Cancelled (shutting down): no store round trip now; the lease simply expires.
        if release and not _cancelling():
            await lease.release()


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _heartbeat(lease: DeliveryLease, name: str, every: float) -> None:
    # A lost lease needs no action here: every claim checks the lease in the same
    # transaction, so a holder that lost it can no longer claim anything.
    while True:
        await asyncio.sleep(every)
        if await lease.acquire() != lease.holder:
            log.warning("%s: the delivery lease was taken over; no further claims", name)


async def wait_for_due(
    store: AsyncStore, account_id: int, interval: float, *, standing_by: bool = False
) -> None:
    """Return after `interval` seconds, or as soon as a reply is due: a reply queued by a
    console goes out within WAKE seconds, not at the next full pass. Standing by, another
    process sends it: just wait."""
    if standing_by:
        await asyncio.sleep(interval)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + interval
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(WAKE, left))
        if await store.call(Store.outbox_due_now, account_id):
            return
