"""Agent replies from the outbox into their Slack thread: never lost, never posted twice,
never posted in public by mistake.

The loop (lease, resume, claim, retry) is connectors/outbox.py's; this module is its Slack
part. Each reply is claimed (`sending`) before it is posted and carries message metadata
naming its outbox item. Once posted, the stored reply takes Slack's `channel:ts` as its remote
id, so the echo Slack sends back (event or history) is recognised as the same message.

Outcomes:
- Slack refuses (`is_archived`, `channel_not_found`, 429...): nothing was posted; `failed`,
  retried with backoff.
- `fatal_error`, `internal_error` or HTTP 5xx: Slack documents for chat.postMessage that
  "some aspect of the operation succeeded" may still hold
  (https://api.slack.com/methods/chat.postMessage#errors), and a lost connection says nothing
  either: `uncertain`. The next pass looks for the metadata in the thread
  (conversations.replies): found, it is `sent` with that ts; not found, it is posted again,
  once; never a blind repost. An item left `sending` by a crashed holder is probed alike.
- the thread root was deleted by the customer and has no replies: Slack would post a
  `thread_ts` reply top-level, in front of the whole channel. The reply is `held` ("the
  customer deleted the message you answer") for the agent to decide: take it back
  (`Store.take_back`), post it in the channel (`Store.post_held_in_channel`) or send it to the
  customer as a direct message (`Store.send_held_as_dm`: the DM with the customer who asked is
  opened with conversations.open and the reply posted there; an uncertain DM post is looked
  for in that DM's history before any resend).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from connectors.delivery import DeliveryLease
from connectors.outbox import Absent, ChannelOutbox, Found, Probe, Unknown
from connectors.slack.api import RateLimited, SlackApi
from connectors.slack.mapping import remote_id
from connectors.slack.text import ReplyTooLong, escape, split_reply
from storage.aio import AsyncStore
from storage.models import OutboxItem
from storage.store import Store

JSON = dict[str, Any]
METADATA_TYPE = "frontdesk_reply"
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


class Outbox(ChannelOutbox):
    name = "slack"
    resent_still_missing = "posted again once and still not in the thread: check before reposting"

    def __init__(
        self,
        api: SlackApi,
        account_id: int,
        post_lock: asyncio.Lock,
        *,
        release: bool = True,
        lease: DeliveryLease | None = None,
    ) -> None:
        super().__init__(account_id, release=release, lease=lease)
        self.api = api
        # Held from posting until the store knows the reply's ts, so an echo handled
        # meanwhile finds it stored (see SlackConnector._write_echoes).
        self.post_lock = post_lock

    async def send(self, store: AsyncStore, item: OutboxItem, holder: str, *, resent: bool) -> int:
        if resent:
            return await self._resend(store, item, holder)
        try:
            split_reply(item.body)  # Slack would cut past 40,000 characters: hold, never cut
        except ReplyTooLong as exc:
            await self.held(store, item, f"{exc}: shorten it and send again")
            return 0
        try:
            thread = await self._target(store, item)
            if thread is None:
                return 0
            if _in_thread(item) and not await self._root_alive(store, item, *thread):
                return 0
        except (SlackApiError, RateLimited) as exc:  # nothing posted: retry later
            await self.failed(store, item, _describe(exc))
            return 0
        # The claim is atomic: another runner or a cancel may have taken the item meanwhile.
        if await self.claim(store, item, holder, resent=False):
            return await self._post(store, item, *thread)
        return 0

    async def already_sent(self, store: AsyncStore, item: OutboxItem) -> Probe:
        """Uncertain, or left `sending` by a holder that is gone: whether the thread has it."""
        try:
            thread = await self._target(store, item)
            if thread is None:
                return None
            channel, thread_ts = thread
            posted_ts = await self._find_posted(channel, thread_ts, item)
        except (SlackApiError, RateLimited) as exc:  # cannot tell: ask again next pass
            return Unknown(f"may have been posted: {exc}")
        if posted_ts is not None:
            return Found(remote_id(channel, posted_ts))
        return Absent()

    async def _resend(self, store: AsyncStore, item: OutboxItem, holder: str) -> int:
        """The thread does not have it: post it once more, unless its root is gone."""
        try:
            thread = await self._target(store, item)
            if thread is None:
                return 0
            channel, thread_ts = thread
            if _in_thread(item) and not await self._root_alive(store, item, channel, thread_ts):
                return 0
        except (SlackApiError, RateLimited) as exc:  # still uncertain: look again next pass
            await self.uncertain(store, item, f"may have been posted: {exc}")
            return 0
        if await self.claim(store, item, holder, resent=True):
            return await self._post(store, item, channel, thread_ts)
        return 0

    async def _thread(self, store: AsyncStore, item: OutboxItem) -> tuple[str, str] | None:
        """(channel, thread ts) the reply goes to: the conversation's first Slack message."""
        root = await store.call(Store.thread_root, item.conversation_id)
        channel, sep, ts = (root or "").partition(":")
        if sep and channel and ts:
            return channel, ts
        await self.failed(store, item, "the conversation has no Slack message to reply to")
        return None

    async def _target(self, store: AsyncStore, item: OutboxItem) -> tuple[str, str] | None:
        """(channel, thread ts) the reply goes to; for a DM, the DM channel with the customer
        who asked, and the question's ts (its history is searched from there). Raises what
        conversations.open raises."""
        thread = await self._thread(store, item)
        if thread is None or not item.as_dm:
            return thread
        user = await store.call(Store.customer_slack_user, item.conversation_id)
        if user is None:
            await self.failed(store, item, "no Slack user asked in this conversation: no DM")
            return None
        return await self.api.open_dm(user), thread[1]

    async def _root_alive(self, store: AsyncStore, item: OutboxItem, channel: str, ts: str) -> bool:
        """False (and the item held) when the message answered is gone without a thread:
        Slack would then post the reply top-level, for the whole channel to read."""
        try:
            page = await self.api.replies(
                channel, ts, oldest=None, cursor=None, limit=1, first=True
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in ("thread_not_found", "message_not_found"):
                raise
            page = None
        first = page.items[0] if page is not None and page.items else None
        if first is not None and str(first.get("ts")) == ts:
            return True  # there, or a tombstone that still holds its replies
        await self.held(store, item, HELD_DELETED_ROOT)
        return False

    async def _post(self, store: AsyncStore, item: OutboxItem, channel: str, ts: str) -> int:
        """Post the claimed `item` and record the outcome; 1 when posted."""
        try:
            async with self.post_lock:
                text, meta = escape(item.body), reply_metadata(item)
                thread_ts = ts if _in_thread(item) else None  # the agent chose the channel/DM
                posted = await self.api.post(channel, text, thread_ts=thread_ts, metadata=meta)
                key = remote_id(channel, str(posted["ts"]))
                await store.call(Store.outbox_sent_as, item.id, self.account_id, key)
        except SlackApiError as exc:
            if _maybe_posted(exc):
                await self.uncertain(store, item, _uncertain(exc))
            else:  # a plain refusal: nothing was posted, retrying is safe
                await self.failed(store, item, _describe(exc))
            return 0
        except RateLimited as exc:
            await self.failed(store, item, _describe(exc))
            return 0
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            await self.uncertain(store, item, _uncertain(exc))
            return 0
        return 1

    async def _find_posted(self, channel: str, thread_ts: str, item: OutboxItem) -> str | None:
        """The ts of our post of `item` (its metadata) in the thread, or, for a reply posted
        top-level or as a DM, in that channel since the question; None when Slack does not
        have it."""
        wanted = (item.id, item.message_id)
        cursor: str | None = None
        while True:
            if not _in_thread(item):
                page = await self.api.history(
                    channel, oldest=thread_ts, cursor=cursor, limit=THREAD_PAGE
                )
            else:
                page = await self.api.replies(
                    channel, thread_ts, oldest=None, cursor=cursor, limit=THREAD_PAGE, first=True
                )
            for msg in page.items:
                if outbox_claim(msg) == wanted:
                    return str(msg["ts"])
            if page.cursor is None:
                return None
            cursor = page.cursor


HELD_DELETED_ROOT = "the customer deleted the message you answer"
# chat.postMessage errors after which the message may exist all the same (Slack's docs:
# "The server could not complete your operation(s) without encountering a catastrophic
# error. It's possible some aspect of the operation succeeded before the error was raised.").
MAYBE_POSTED = frozenset(
    {"fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)


def _in_thread(item: OutboxItem) -> bool:
    """Whether the reply goes into its question's thread (not the channel, not a DM)."""
    return not item.top_level and not item.as_dm


def _maybe_posted(exc: SlackApiError) -> bool:
    status = getattr(exc.response, "status_code", 200)
    return exc.response.get("error") in MAYBE_POSTED or status >= 500


def _uncertain(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        what = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    else:
        what = type(exc).__name__
    return f"may have been posted (Slack answered {what}): the thread is checked before any retry"


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return f"Slack refused the reply: {exc.response.get('error', 'unknown error')}"
    return str(exc)
