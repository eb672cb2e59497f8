"""Backfill and catch-up of Slack history, resumable from checkpoints.

Checkpoints (the `sync_state` rows, one per scope):

* `channel:<id>`: `{"oldest": ts}` when idle: every top-level message up to `ts` is stored.
  During a pass it also holds `cursor` (the next history page), `newest` (the newest ts the
  pass has stored) and `threads` (`[ts, latest_reply]` of the parents on the last stored
  page, whose replies may still be missing). Each page is stored with its checkpoint in one
  transaction, so a restart resumes at the next page and loses at most one page's work.
* `thread:<channel>:<ts>`: `{"latest": ts}`, the newest reply stored (plus `cursor` and
  `newest` mid-thread). Replies never appear in conversations.history, so later passes
  compare a parent's `latest_reply` with this to fetch only threads with something new.

A channel seen for the first time is read whole, and once that pass is over the
conversations with nothing newer than `backfill_days` are closed (`horizon` in its checkpoint
until then): the customers' past is kept as context, not opened as work. Later passes never
close anything. Every `rescan_interval`, the threads of conversations still open are read
again whole (`rescan_open_threads`): replies, edits and deletions no live event brought.
`pending:<channel>` lists threads a live batch could not fetch, fetched first.

History is read forward from `oldest` (with only `oldest` given, Slack pages from the
oldest end), so messages are stored in the order they were written.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from connectors.slack.api import SlackApi
from connectors.slack.ingest import PageWriter
from connectors.slack.mapping import ChannelInfo, is_reply, remote_id, thread_parents, ts_us
from storage.aio import AsyncStore
from storage.store import Store

JSON = dict[str, Any]
Parent = tuple[str, str | None]  # a thread parent's ts and its latest_reply
BEGINNING = "0"
# conversations.replies on a message that is gone (https://api.slack.com/methods/conversations.replies#errors).
GONE_THREAD_ERRORS = frozenset({"thread_not_found", "message_not_found"})
log = logging.getLogger(__name__)


def _newest(current: str | None, messages: Iterable[JSON]) -> str | None:
    stamps = [str(m["ts"]) for m in messages if m.get("ts")]
    if current is not None:
        stamps.append(current)
    return max(stamps, key=ts_us) if stamps else None


@dataclass(frozen=True, slots=True)
class ChannelMark:
    oldest: str = BEGINNING
    cursor: str | None = None
    newest: str | None = None
    threads: tuple[Parent, ...] = ()
    # First pass of a newly visible channel: conversations whose last message is older than
    # this (epoch seconds) are closed once the pass is over (history, not work to do).
    horizon: float | None = None

    @classmethod
    def load(cls, state: dict[str, object] | None) -> ChannelMark:
        state = state or {}
        cursor, newest, threads = state.get("cursor"), state.get("newest"), state.get("threads")
        horizon = state.get("horizon")
        return cls(
            oldest=str(state.get("oldest") or BEGINNING),
            cursor=str(cursor) if cursor else None,
            newest=str(newest) if newest else None,
            threads=tuple(_parent(t) for t in threads) if isinstance(threads, list) else (),
            horizon=float(horizon) if isinstance(horizon, int | float) else None,
        )

    def dump(self) -> dict[str, object]:
        state: dict[str, object] = {"oldest": self.oldest}
        if self.cursor:
            state.update(cursor=self.cursor, newest=self.newest)
        if self.threads:
            state["threads"] = [list(t) for t in self.threads]
        if self.horizon is not None:
            state["horizon"] = self.horizon
        return state

    def after_page(
        self, messages: list[JSON], cursor: str | None, threads: tuple[Parent, ...]
    ) -> ChannelMark:
        newest = _newest(self.newest, messages)
        if cursor is None:  # the pass is over: everything up to its newest message is stored
            return ChannelMark(newest or self.oldest, None, None, threads, self.horizon)
        return ChannelMark(self.oldest, cursor, newest, threads, self.horizon)


@dataclass(frozen=True, slots=True)
class ThreadMark:
    latest: str | None = None
    cursor: str | None = None
    newest: str | None = None

    @classmethod
    def load(cls, state: dict[str, object] | None) -> ThreadMark:
        state = state or {}
        return cls(
            *(str(state[k]) if state.get(k) else None for k in ("latest", "cursor", "newest"))
        )

    def dump(self) -> dict[str, object]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    def has(self, latest_reply: str | None) -> bool:
        """True if the replies up to `latest_reply` are all stored."""
        if latest_reply is None or self.latest is None or self.cursor:
            return False
        return ts_us(latest_reply) <= ts_us(self.latest)

    def after_page(self, replies: list[JSON], cursor: str | None) -> ThreadMark:
        newest = _newest(self.newest, replies)
        if cursor is None:
            return ThreadMark(newest or self.latest, None, None)
        return ThreadMark(self.latest, cursor, newest)


class Backfill:
    def __init__(
        self,
        api: SlackApi,
        store: AsyncStore,
        writer: PageWriter,
        *,
        page_size: int,
        thread_lookback: float,
        clock: Callable[[], float],
        rescan_every: float | None = 0.0,
        backfill_days: float | None = None,
        sparse: bool = False,
    ) -> None:
        self.api = api
        self.store = store
        self.writer = writer
        self.account_id = writer.account_id
        self.page_size = page_size
        self.thread_lookback = thread_lookback
        self.clock = clock
        # History costs a minute a call (a distributed app): the lookback scan for new replies
        # runs with the open-thread rescan, every `rescan_every`, not on every catch-up.
        self.sparse = sparse
        self.backfill_days = backfill_days  # history older than this is imported closed
        self.rescan_every = rescan_every  # seconds between rescans of open threads; None: never

    async def channel(self, channel: ChannelInfo) -> None:
        """Store what is new in `channel` since its checkpoint, then refresh recent threads."""
        scope = f"channel:{channel.id}"
        await self._pending_threads(channel)
        saved = await self.store.call(Store.checkpoint, self.account_id, scope)
        mark = ChannelMark.load(saved)
        if saved is None and self.backfill_days is not None:  # a channel seen for the first time
            mark = dataclasses.replace(mark, horizon=self.clock() - self.backfill_days * 86400)
        start = mark.oldest
        await self._threads(channel, mark.threads)  # a crash may have left them unfetched
        while True:
            page = await self.api.history(
                channel.id, oldest=mark.oldest, cursor=mark.cursor, limit=self.page_size
            )
            await self._broadcast_threads(channel, page.items)
            parents = thread_parents(page.items)
            before, mark = mark, mark.after_page(page.items, page.cursor, tuple(parents))
            if page.items or mark != before:
                await self.writer.write(channel, page.items, (self.account_id, scope, mark.dump()))
            await self._threads(channel, parents)
            if page.cursor is None:
                break
        if mark.horizon is not None:
            await self.store.call(
                Store.close_older, self.account_id, channel.id, mark.horizon, HISTORY_ACTOR
            )
        if mark.threads or mark.horizon is not None:
            await self._save(scope, dataclasses.replace(mark, threads=(), horizon=None).dump())
        due = await self._rescan_due(channel)
        if due or not self.sparse:  # a slow (distributed) app scans only with the rescan
            await self._refresh_threads(channel, start, self._lookback(due))
        if due:
            await self.rescan_open_threads(channel, upto=start)
            await self._save(f"rescan:{channel.id}", {"at": self.clock()})

    async def _rescan_due(self, channel: ChannelInfo) -> bool:
        """True every `rescan_every` seconds per channel, across runs (`--once` from cron
        included: the time of the last complete rescan is in the `rescan:<channel>` row)."""
        if self.rescan_every is None:
            return False
        state = await self.store.call(Store.checkpoint, self.account_id, f"rescan:{channel.id}")
        last = (state or {}).get("at")
        return not isinstance(last, int | float) or self.clock() - last >= self.rescan_every

    async def rescan_open_threads(self, channel: ChannelInfo, upto: str) -> None:
        """Every thread (and top-level message) of a conversation still open in the store, read
        again whole: new replies, edits and deletions that no live event brought (an outage,
        poll mode, a crash after the ack) are applied. A message Slack no longer returns was
        deleted; a root Slack no longer knows (`thread_not_found`) was deleted with its thread.
        Threads started after `upto` were read by this very pass.
        """
        stored = await self.store.call(Store.open_threads, self.account_id, channel.id)
        limit = ts_us(upto)
        for root_ts in sorted((t for t in stored if ts_us(t) <= limit), key=ts_us):
            seen = await self._read_whole_thread(channel, root_ts)
            for ts in sorted(stored[root_ts] - seen):
                key = remote_id(channel.id, ts)
                await self.store.call(Store.mark_deleted, self.account_id, key)

    async def _read_whole_thread(self, channel: ChannelInfo, root_ts: str) -> set[str]:
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            try:
                page = await self.api.replies(
                    channel.id, root_ts, oldest=None, cursor=cursor, limit=self.page_size
                )
            except SlackApiError as exc:
                if exc.response.get("error") in GONE_THREAD_ERRORS:
                    return set()
                raise
            await self.writer.write(channel, page.items)
            seen.update(str(m["ts"]) for m in page.items if m.get("ts"))
            if page.cursor is None:
                return seen
            cursor = page.cursor

    async def thread(self, channel: ChannelInfo, parent_ts: str, latest: str | None) -> None:
        """Store the replies of one thread that are newer than its checkpoint."""
        scope = f"thread:{channel.id}:{parent_ts}"
        mark = ThreadMark.load(await self.store.call(Store.checkpoint, self.account_id, scope))
        if mark.has(latest):
            return
        while True:
            page = await self.api.replies(
                channel.id, parent_ts, oldest=mark.latest, cursor=mark.cursor, limit=self.page_size
            )
            replies = [m for m in page.items if is_reply(m)]  # every page repeats the parent
            mark = mark.after_page(replies, page.cursor)
            await self.writer.write(channel, page.items, (self.account_id, scope, mark.dump()))
            if page.cursor is None:
                return

    async def _broadcast_threads(self, channel: ChannelInfo, messages: list[JSON]) -> None:
        """A reply also sent to the channel whose parent is not stored (on another page, older
        than the checkpoint, or a post we skipped then): its thread first, parent included."""
        on_page = {str(m["ts"]) for m in messages if m.get("ts")}
        roots = sorted({str(m["thread_ts"]) for m in messages if is_reply(m)} - on_page)
        if not roots:
            return
        keys = [remote_id(channel.id, ts) for ts in roots]
        known = await self.store.call(Store.known_remote_ids, self.account_id, keys)
        for ts in roots:
            if remote_id(channel.id, ts) not in known:
                await self.thread(channel, ts, None)

    async def try_thread(self, channel: ChannelInfo, parent_ts: str) -> bool:
        """Fetch one thread; on failure remember it for the next catch-up and return False."""
        try:
            await self.thread(channel, parent_ts, None)
        except Exception:
            log.warning(
                "slack: thread %s in %s failed; kept for the next catch-up",
                parent_ts,
                channel.id,
                exc_info=True,
            )
            await self._remember_pending(channel, parent_ts)
            return False
        return True

    async def _remember_pending(self, channel: ChannelInfo, parent_ts: str) -> None:
        scope = f"pending:{channel.id}"
        threads = _listed(await self.store.call(Store.checkpoint, self.account_id, scope))
        if parent_ts not in threads:
            await self._save(scope, {"threads": [*threads, parent_ts]})

    async def _pending_threads(self, channel: ChannelInfo) -> None:
        """Threads a live batch could not fetch: fetched first (an error here is the channel's)."""
        scope = f"pending:{channel.id}"
        threads = _listed(await self.store.call(Store.checkpoint, self.account_id, scope))
        for done, parent_ts in enumerate(threads):
            await self.thread(channel, parent_ts, None)
            await self._save(scope, {"threads": threads[done + 1 :]})

    async def _threads(self, channel: ChannelInfo, parents: Iterable[Parent]) -> None:
        for parent_ts, latest in parents:
            await self.thread(channel, parent_ts, latest)

    def _lookback(self, rescan: bool) -> float:
        """Seconds of history scanned for threads with new replies: `thread_lookback` on every
        catch-up; with the rescan, back to `backfill_days` too, so a reply to a *closed*
        conversation's thread (which the open-thread rescan does not read) that no live event
        brought is found as long as its thread is younger than the history horizon."""
        if not rescan or self.backfill_days is None:
            return self.thread_lookback
        return max(self.thread_lookback, self.backfill_days * 86400)

    async def _refresh_threads(self, channel: ChannelInfo, upto: str, lookback: float) -> None:
        """New replies to threads started before this pass: history shows each parent's
        `latest_reply`, so one history scan of the recent past finds the threads to fetch."""
        since = self.clock() - lookback
        if upto == BEGINNING or ts_us(upto) <= since * 1_000_000:
            return
        cursor: str | None = None
        while True:
            page = await self.api.history(
                channel.id,
                oldest=f"{max(since, 0):.6f}",
                latest=upto,
                cursor=cursor,
                limit=self.page_size,
            )
            await self._threads(channel, thread_parents(page.items))
            if page.cursor is None:
                return
            cursor = page.cursor

    async def _save(self, scope: str, state: dict[str, object]) -> None:
        await self.store.call(Store.ingest, [], checkpoint=(self.account_id, scope, state))


def _parent(saved: object) -> Parent:
    ts, latest = saved if isinstance(saved, list) and len(saved) == 2 else (saved, None)
    return str(ts), str(latest) if latest else None


def _listed(state: dict[str, object] | None) -> list[str]:
    threads = (state or {}).get("threads")
    return [str(t) for t in threads] if isinstance(threads, list) else []


HISTORY_ACTOR = "Slack history import"
