"""Storing a batch of Slack messages from one channel, from history or from live events.

One batch is one `Store.ingest` call, with the checkpoint that covers it in the same
transaction: after a crash the batch is either all stored with its cursor, or not at all.
"""

from __future__ import annotations

from typing import Any

from connectors.slack.mapping import ChannelInfo, Mapper, Me, remote_id, ts_us, user_ids
from connectors.slack.outbox import outbox_claim
from connectors.slack.people import People
from storage.aio import AsyncStore
from storage.models import InboundMessage
from storage.store import Store

JSON = dict[str, Any]
Checkpoint = tuple[int, str, dict[str, object]]


def by_ts(messages: list[JSON]) -> list[JSON]:
    """Oldest first (threading and grouping look at what is stored already); versions of
    one message in the order they were edited, so the last edit wins."""
    return sorted(messages, key=_order)


def _order(msg: JSON) -> tuple[int, int]:
    edited = msg.get("edited")
    edited_ts = edited.get("ts") if isinstance(edited, dict) else None
    return ts_us(str(msg["ts"])), ts_us(str(edited_ts)) if edited_ts else 0


class PageWriter:
    def __init__(
        self, store: AsyncStore, account_id: int, me: Me, people: People, mapper: Mapper
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.me = me
        self.people = people
        self.mapper = mapper
        # Deletions seen live before the message itself (events arrive unordered).
        self.deleted: set[str] = set()

    async def write(
        self, channel: ChannelInfo, messages: list[JSON], checkpoint: Checkpoint | None = None
    ) -> None:
        messages = by_ts([m for m in messages if m.get("ts")])
        wanted = [m for m in messages if self.mapper.accepts(m) or m.get("reply_count")]
        # An anchor root (a tombstone, a bot's post) is the first replier's conversation.
        repliers = {str(u) for m in wanted for u in m.get("reply_users") or ()}
        await self.people.learn(self.store, {u for m in wanted for u in user_ids(m)} | repliers)
        pairs = []
        for msg in wanted:
            if await self._claimed_echo(channel, msg):
                continue
            record = self.mapper.inbound(channel, msg)
            if record is not None:
                pairs.append((msg, record))
        await self.store.call(Store.ingest, [r for _, r in pairs], checkpoint=checkpoint)
        for msg, record in pairs:
            await self._apply_state(msg, record)
        for msg in messages:
            if msg.get("subtype") == "tombstone":  # a root deleted after people replied
                await self._mark_deleted(remote_id(channel.id, str(msg["ts"])))

    async def _claimed_echo(self, channel: ChannelInfo, msg: JSON) -> bool:
        """True if `msg` is our own reply from the outbox, now recorded as sent."""
        claim = outbox_claim(msg) if self.me.wrote(msg) else None
        if claim is None:
            return False
        key = remote_id(channel.id, str(msg["ts"]))
        outbox_id, message_id = claim
        return await self.store.call(
            Store.outbox_sent_as, outbox_id, self.account_id, key, message_id
        )

    async def _apply_state(self, msg: JSON, record: InboundMessage) -> None:
        """Edits and deletions of messages stored earlier (ingest never rewrites a message)."""
        key = record.remote_id
        if key in self.deleted:
            await self._mark_deleted(key)
        elif isinstance(msg.get("edited"), dict):
            edited_at = ts_us(str(msg["edited"].get("ts") or msg["ts"])) / 1_000_000
            await self.store.call(
                Store.update_if_newer, self.account_id, key, record.text, edited_at
            )

    async def _mark_deleted(self, key: str) -> None:
        await self.store.call(Store.mark_deleted, self.account_id, key)
