"""Agent replies from the outbox into their Slack thread: never lost, never posted twice.

Each reply is claimed (`sending`) before it is posted and carries message metadata naming
its outbox item. If we crash after Slack accepted it but before we recorded that, the item
is still `sending` on the next run, and we look for that metadata in the thread before
posting again. Once posted, the stored reply takes Slack's `channel:ts` as its remote id, so
the echo Slack sends back (event or history) is recognised as the same message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError

from connectors.slack_api import RateLimited, SlackApi
from connectors.slack_map import remote_id
from connectors.slack_text import escape
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store

JSON = dict[str, Any]
METADATA_TYPE = "frontdesk_reply"
RETRY_FIRST = 30.0  # seconds; doubled per failed attempt
RETRY_MAX = 3600.0
THREAD_PAGE = 200


def reply_metadata(item: OutboxItem) -> JSON:
    payload = {"outbox_id": item.id, "message_id": item.message_id}
    return {"event_type": METADATA_TYPE, "event_payload": payload}


def outbox_claim(msg: JSON) -> tuple[int, int] | None:
    """(outbox id, message id) when `msg` is a reply we posted from an outbox."""
    meta = msg.get("metadata") or {}
    if not isinstance(meta, dict) or meta.get("event_type") != METADATA_TYPE:
        return None
    payload = meta.get("event_payload") or {}
    try:
        return int(payload["outbox_id"]), int(payload["message_id"])
    except (KeyError, TypeError, ValueError):
        return None


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_MAX, RETRY_FIRST * 2 ** min(attempts, 16)))


def _store_now(store: Store) -> float:
    return store.clock()


class Outbox:
    def __init__(self, api: SlackApi, account_id: int, post_lock: asyncio.Lock) -> None:
        self.api = api
        self.account_id = account_id
        # Held from posting until the store knows the reply's ts, so an echo handled
        # meanwhile finds it stored (see SlackConnector._write_echoes).
        self.post_lock = post_lock

    async def deliver(self, store: AsyncStore) -> None:
        for item in await store.call(Store.unfinished_outbox, self.account_id):
            await self._resume(store, item)
        for item in await store.call(Store.due_outbox, self.account_id):
            await self._send(store, item)

    async def _send(self, store: AsyncStore, item: OutboxItem) -> None:
        thread = await self._thread(store, item)
        # The claim is atomic: another runner or a cancel may have taken the item meanwhile.
        if thread is not None and await store.call(Store.outbox_sending, item.id):
            await self._post(store, item, *thread)

    async def _resume(self, store: AsyncStore, item: OutboxItem) -> None:
        """Left `sending` by a crash or a lost answer: post only if Slack does not have it."""
        thread = await self._thread(store, item)
        if thread is None:
            return
        channel, thread_ts = thread
        try:
            posted_ts = await self._find_posted(channel, thread_ts, item)
        except SlackApiError as exc:  # the thread is gone or unreadable: so is our reply
            await self._failed(store, item, _describe(exc))
            return
        if posted_ts is None:
            await self._post(store, item, channel, thread_ts)
        else:
            key = remote_id(channel, posted_ts)
            await store.call(Store.outbox_sent_as, item.id, self.account_id, key, item.message_id)

    async def _thread(self, store: AsyncStore, item: OutboxItem) -> tuple[str, str] | None:
        """(channel, thread ts) the reply goes to: the conversation's first Slack message."""
        root = await store.call(Store.thread_root, item.conversation_id)
        channel, sep, ts = (root or "").partition(":")
        if sep and channel and ts:
            return channel, ts
        await self._failed(store, item, "the conversation has no Slack message to reply to")
        return None

    async def _post(self, store: AsyncStore, item: OutboxItem, channel: str, ts: str) -> None:
        try:
            async with self.post_lock:
                text, meta = escape(item.body), reply_metadata(item)
                posted = await self.api.post(channel, text, thread_ts=ts, metadata=meta)
                key = remote_id(channel, str(posted["ts"]))
                await store.call(Store.outbox_sent_as, item.id, self.account_id, key)
        except (SlackApiError, RateLimited) as exc:
            # Slack answered with an error: nothing was posted, so retrying is safe.
            await self._failed(store, item, _describe(exc))
        # Any other failure (timeout, connection lost) leaves the item `sending`: it may have
        # been posted, and the next pass looks in the thread before posting it again.

    async def _failed(self, store: AsyncStore, item: OutboxItem, error: str) -> None:
        retry_at = await store.call(_store_now) + retry_delay(item.attempts)
        await store.call(Store.outbox_failed, item.id, error, retry_at)

    async def _find_posted(self, channel: str, thread_ts: str, item: OutboxItem) -> str | None:
        wanted = (item.id, item.message_id)
        cursor: str | None = None
        while True:
            page = await self.api.replies(
                channel, thread_ts, oldest=None, cursor=cursor, limit=THREAD_PAGE
            )
            for msg in page.items:
                if outbox_claim(msg) == wanted:
                    return str(msg["ts"])
            if page.cursor is None:
                return None
            cursor = page.cursor


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack refused the reply: {exc.response.get('error', 'unknown error')}"
    return str(exc)
