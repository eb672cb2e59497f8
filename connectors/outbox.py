"""The one delivery loop every channel's outbox runs: never lose a reply, never send it twice
without saying so.

Under the account's delivery lease (connectors/delivery.py), one pass:
1. resume what is unfinished (`uncertain`, or left `sending` by a holder that is gone): ask
   the channel whether the reply is there already (`already_sent`). Found: record it `sent`.
   Cannot tell: it stays `uncertain`. Not found: send it again, once; a reply already sent
   again once and still not found stays `uncertain` for the agent (`resent_still_missing`).
2. claim and send what is due (`send`): the channel claims each item (`claim`: atomic, in the
   lease holder's name, before its server sees the reply) and records the outcome: `sent`,
   `failed` (`failed`: retried with backoff, `retry_delay`), `uncertain` or `held`, each
   with its reason masked of secrets (`connectors.redact.redact`).
3. the channel's own follow-up (`after_pass`: the email Sent copies).

A channel subclasses `ChannelOutbox` and implements `already_sent` and `send` (and, if it
needs to, `after_pass`); the lease, the order and the retry policy are the same for all.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.delivery import DeliveryLease, StoreLease, delivering
from connectors.redact import redact
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store

RETRY_FIRST = 30.0  # seconds; doubled per failed attempt
RETRY_MAX = 3600.0


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts, 16)))


def _store_now(store: Store) -> float:
    return store.clock()


@dataclass(frozen=True, slots=True)
class Found:
    """The channel has the reply: it went out. `remote_id`: its key there when the stored
    reply must take it (Slack's `channel:ts`), None when it has it already (a Message-ID)."""

    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class Absent:
    """The channel does not have the reply: it may be sent again, once."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """The channel could not be asked; the reply stays `uncertain` for `reason`."""

    reason: str


# None: the channel settled the item itself (failed or held) and nothing more is to be done.
Probe = Found | Absent | Unknown | None


class ChannelOutbox:
    """An account's outbox, delivered by the one loop; a channel supplies the four parts below."""

    name = "outbox"  # for the log
    resent_still_missing = "sent again once and still not found: check before resending"

    def __init__(
        self, account_id: int, *, release: bool = True, lease: DeliveryLease | None = None
    ) -> None:
        self.account_id = account_id
        self._release = release  # give the lease up after the pass (`--once`)
        self._lease = lease  # kept across live passes (renewal is cheap)
        self.standby: str | None = None  # why this process did not deliver, if it did not

    # ---- what a channel implements

    async def already_sent(self, store: AsyncStore, item: OutboxItem) -> Probe:
        """Whether the channel has `item` (an unfinished reply that may have gone out)."""
        raise NotImplementedError

    async def send(self, store: AsyncStore, item: OutboxItem, holder: str, *, resent: bool) -> int:
        """Claim (`claim`) and send `item`, recording the outcome; 1 when it went out.
        `resent`: the one resend of a reply the channel did not have."""
        raise NotImplementedError

    async def after_pass(self, store: AsyncStore) -> None:
        """Anything the channel does once the replies are out (nothing by default)."""

    # ---- the loop

    async def deliver(self, store: AsyncStore, lease: DeliveryLease | None = None) -> int:
        """Under the account's lease: settle unfinished items, send the due ones; returns how
        many went out (0 when another process holds the lease: `standby` says who)."""
        lease = lease or self._lease or StoreLease(store, self.account_id)
        async with delivering(lease, self.name, release=self._release) as standby:
            self.standby = standby
            if standby is not None:
                return 0
            return await self._deliver(store, lease.holder)

    async def _deliver(self, store: AsyncStore, holder: str) -> int:
        sent = 0
        for item in await store.call(Store.unfinished_outbox, self.account_id, holder):
            sent += await self._resume(store, item, holder)
        for item in await store.call(Store.due_outbox, self.account_id):
            sent += await self.send(store, item, holder, resent=False)
        await self.after_pass(store)
        return sent

    async def _resume(self, store: AsyncStore, item: OutboxItem, holder: str) -> int:
        """Uncertain, or left `sending` by a holder that is gone: probe, then at most one
        resend; never a blind one."""
        probe = await self.already_sent(store, item)
        if probe is None:
            return 0
        if isinstance(probe, Unknown):
            await self.uncertain(store, item, probe.reason)
            return 0
        if isinstance(probe, Found):
            await self._record_found(store, item, probe)
            return 0
        if item.resends >= 1:
            await self.uncertain(store, item, self.resent_still_missing)
            return 0
        return await self.send(store, item, holder, resent=True)

    async def _record_found(self, store: AsyncStore, item: OutboxItem, found: Found) -> None:
        if found.remote_id is None:
            await store.call(Store.outbox_sent, item.id)
        else:
            key = found.remote_id
            await store.call(Store.outbox_sent_as, item.id, self.account_id, key, item.message_id)

    # ---- what the channels share

    async def claim(
        self, store: AsyncStore, item: OutboxItem, holder: str, *, resent: bool
    ) -> bool:
        """Claim `item` before its server sees it (atomic: False when another runner or a
        cancel has it, or our lease is gone); a resend is counted (and noted in the
        conversation) once claimed."""
        claimed = await self.take(store, item, holder, resuming=resent)
        if claimed and resent:
            await store.call(Store.outbox_resending, item.id)
        return claimed

    async def take(
        self, store: AsyncStore, item: OutboxItem, holder: str, *, resuming: bool
    ) -> bool:
        """The atomic claim itself; a channel that stores something with it overrides this."""
        return bool(
            await store.call(Store.outbox_sending, item.id, resuming=resuming, holder=holder)
        )

    # Each reason is stored, shown in the console and printed by `sync --once`: a server's
    # answer may quote a secret back (connectors/redact.py), so each is masked first.

    async def failed(self, store: AsyncStore, item: OutboxItem, error: str) -> None:
        """Nothing went out: retry after the backoff for the item's attempts."""
        retry_at = await store.call(_store_now) + retry_delay(item.attempts)
        await store.call(Store.outbox_failed, item.id, redact(error), retry_at)

    async def uncertain(self, store: AsyncStore, item: OutboxItem, reason: str) -> None:
        """It may have gone out: no retry before a probe (`already_sent`) says."""
        await store.call(Store.outbox_uncertain, item.id, redact(reason))

    async def held(self, store: AsyncStore, item: OutboxItem, reason: str) -> bool:
        """It must not go as is: kept for the agent, who reads `reason`."""
        return bool(await store.call(Store.outbox_held, item.id, redact(reason)))
