"""The Slack connector: history from checkpoints, live events, replies from the outbox.

`sync_once` (what `frontdesk sync --once` runs) catches every channel up from its checkpoint
and delivers the outbox. `run_live` (plain `frontdesk sync`) does the same, then follows
Socket Mode events as they come, catches up again after every reconnect and every
`catch_up_interval`, and delivers the outbox every `outbox_interval`.

The pieces, in this package: `api` (the SDK client, paced by `ratelimit`), `backfill` (history
and threads, checkpoints), `ingest` (a batch into the store), `mapping` and `text` (Slack JSON
to records and plain text), `people` (users, email links), `outbox` (replies) and `live`
(Socket Mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from connectors.delivery import HEARTBEAT, StoreLease, wait_for_due
from connectors.slack.api import RateLimited, SlackApi, missing_scopes
from connectors.slack.backfill import Backfill
from connectors.slack.files import SlackFile, download
from connectors.slack.ingest import PageWriter
from connectors.slack.live import SETTLE, EventInbox
from connectors.slack.mapping import ChannelInfo, Mapper, Me, is_reply, remote_id
from connectors.slack.outbox import Outbox
from connectors.slack.people import People
from connectors.slack.ratelimit import DEFAULT_BURST, DISTRIBUTED_PAGE, RateLimiter, rates_for
from connectors.slack.settings import SlackAccountSettings
from storage.aio import AsyncStore
from storage.store import Store

JSON = dict[str, Any]
log = logging.getLogger(__name__)


class SlackSyncError(Exception):
    """Some channels could not be read; the others were synced."""


@dataclass(frozen=True)
class SlackOptions:
    """Knobs with production defaults; tests and the bench lift the rate limits (`rates={}`)."""

    # Calls per minute per method; None: Slack's tiers for the account's `distribution`.
    rates: Mapping[str, float] | None = None
    burst: int = DEFAULT_BURST
    max_retry_count: int = 5  # 429s the SDK retries (honouring Retry-After) per call
    page_size: int = 200  # Slack's recommended page size for history and replies
    # Threads this recent are checked for new replies on every catch-up (one history scan of
    # the period; live events bring replies as they happen).
    thread_lookback: float = 7 * 86400.0
    # A catch-up reads again, whole, the threads of conversations still open in the store (one
    # conversations.replies each): replies, edits and deletions missed live. At most once per
    # `rescan_interval` per channel, across runs; None: never.
    rescan_interval: float | None = 900.0
    # Users stored as "Slack user U…" (Slack would not show them) are asked about again at
    # most this often, across runs; None: never.
    rename_interval: float | None = 3600.0
    catch_up_interval: float = 300.0
    # Seconds between looks at the account lease while another process listens to events.
    lease_check: float = HEARTBEAT
    outbox_interval: float = 2.0
    settle: float = SETTLE
    clock: Callable[[], float] = time.time


class SlackConnector:
    def __init__(
        self,
        settings: SlackAccountSettings,
        account_id: int,
        options: SlackOptions | None = None,
    ) -> None:
        self.settings = settings
        self.account_id = account_id
        self.options = options or SlackOptions()
        # Scopes the token lacks (from auth.test's x-oauth-scopes), known once a session opened.
        self.missing_scopes: list[str] = []
        self.live = False  # live mode keeps the delivery lease between passes
        self.delivery_note: str | None = None  # "standing by: ..." when another process sends

    async def sync_once(self, store: AsyncStore) -> None:
        async with self.session(store) as run:
            try:
                problems = await run.catch_up()
            except Exception:
                await self._deliver(run)  # replies need not wait for a channel that failed
                raise
            await self._deliver(run)
        if problems:
            raise SlackSyncError("; ".join(problems))

    async def check_scopes(self) -> list[str]:
        """The scopes the bot token lacks, by one auth.test call (for `check-config --secrets`)."""
        token = await asyncio.to_thread(self.settings.bot_token.read)
        rates, burst = self.pacing()
        limiter = RateLimiter(rates, burst=burst)
        async with SlackApi.open(self.settings.api_url, token, limiter, 0) as api:
            granted = (await api.auth_test())["scopes"]
        return missing_scopes(granted) if granted else []

    async def download_file(self, file_id: str) -> SlackFile:
        """A shared file's bytes (an attachment's `remote_ref`), with the bot token; raises
        FileUnavailable with a one-line reason. For the console's "save attachment"."""
        token = await asyncio.to_thread(self.settings.bot_token.read)
        rates, burst = self.pacing()
        limiter = RateLimiter(rates, burst=burst)
        async with SlackApi.open(self.settings.api_url, token, limiter, 0) as api:
            assert api.session is not None
            return await download(api, api.session, self.settings.api_url, token, file_id)

    async def _deliver(self, run: SlackRun) -> None:
        await run.deliver()
        self.delivery_note = run.outbox.standby

    async def run_live(self, store: AsyncStore) -> None:
        """Until cancelled: live events, periodic catch-up, and outbox delivery on a task of
        its own, so a reply never waits behind a catch-up."""
        self.live = True
        async with self.session(store) as run:
            delivery = asyncio.create_task(self._deliver_forever(run))
            try:
                await self._follow(run)
            finally:
                delivery.cancel()
                await asyncio.gather(delivery, return_exceptions=True)
                await StoreLease(store, self.account_id).release()

    async def _deliver_forever(self, run: SlackRun) -> None:
        while True:
            await _logged("delivering the outbox", self._deliver(run))
            standing_by = self.delivery_note is not None
            interval = self.options.outbox_interval
            await wait_for_due(run.store, self.account_id, interval, standing_by=standing_by)

    async def _follow(self, run: SlackRun) -> None:
        app_token = self.settings.app_token
        if app_token is None:  # no Socket Mode without an app token: poll instead
            await self._poll(run, asyncio.Event())
            return
        await self._wait_for_the_lease(run)
        token = await asyncio.to_thread(app_token.read)
        inbox = EventInbox(settle=self.options.settle)
        socket = SocketModeClient(app_token=token, web_client=run.api.client)
        inbox.attach(socket)
        # The SDK retries a failed connect forever (logging each try): meanwhile we
        # still catch up and deliver replies, by polling.
        tasks = [
            asyncio.create_task(socket.connect()),  # type: ignore[no-untyped-call]
            asyncio.create_task(self._consume(run, inbox)),
        ]
        try:
            await self._poll(run, inbox.connected)
        finally:
            for task in tasks:
                task.cancel()
            await socket.close()  # type: ignore[no-untyped-call]

    async def _wait_for_the_lease(self, run: SlackRun) -> None:
        """Return once this process holds the account's lease; meanwhile catch up by polling.

        Slack spreads an app's events over all its Socket Mode connections
        (https://api.slack.com/apis/socket-mode: "up to 10 simultaneous connections", events
        "distributed" among them), so a second `frontdesk sync` would take part of the live
        events. One process per account listens: the holder of the account's lease (the one
        that delivers its replies); another polls and takes over when the lease expires.
        """
        lease = StoreLease(run.store, self.account_id)
        holder = await lease.acquire()
        if holder == lease.holder:
            return
        log.warning("slack %s: %s listens to Slack events; polling", self.settings.name, holder)
        polling = asyncio.create_task(self._poll(run, asyncio.Event()))
        try:
            while holder != lease.holder:
                await asyncio.sleep(self.options.lease_check)
                holder = await lease.acquire()
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
        log.info("slack %s: took over listening to Slack events", self.settings.name)

    def pacing(self) -> tuple[Mapping[str, float], int]:
        """(calls per minute per method, burst): a distributed app may not burst at all."""
        distributed = self.settings.distribution == "distributed"
        rates = self.options.rates
        if rates is None:
            rates = rates_for(self.settings.distribution)
        return rates, 1 if distributed else self.options.burst

    def page_size(self) -> int:
        if self.settings.distribution == "distributed":
            return min(self.options.page_size, DISTRIBUTED_PAGE)
        return self.options.page_size

    @contextlib.asynccontextmanager
    async def session(self, store: AsyncStore) -> AsyncIterator[SlackRun]:
        """One run: a client on one HTTP session, a users cache, our bot's identity."""
        token = await asyncio.to_thread(self.settings.bot_token.read)
        rates, burst = self.pacing()
        limiter = RateLimiter(rates, burst=burst)
        api_url, retries = self.settings.api_url, self.options.max_retry_count
        async with SlackApi.open(api_url, token, limiter, retries) as api:
            auth = await api.auth_test()
            self.missing_scopes = missing_scopes(auth["scopes"]) if auth["scopes"] else []
            if self.missing_scopes:
                log.warning(
                    "slack %s: the bot token lacks %s (see slack-app-manifest.yml)",
                    self.settings.name,
                    ", ".join(self.missing_scopes),
                )
            me = Me(str(auth.get("user_id") or ""), str(auth.get("bot_id") or ""))
            yield SlackRun(self, api, store, me)

    async def _consume(self, run: SlackRun, inbox: EventInbox) -> None:
        # Events wait (queued) for the first catch-up: grouping and threading assume older
        # messages are stored first, and history starts at the oldest.
        await run.caught_up.wait()
        while True:
            batch = await inbox.next_batch()
            await _logged("applying live events", run.apply_events(batch))

    async def _poll(self, run: SlackRun, connected: asyncio.Event) -> None:
        """Catch up now, on every (re)connection and every catch_up_interval (the outbox is
        delivered by its own task meanwhile)."""
        loop = asyncio.get_running_loop()
        catch_up_at = loop.time()
        while True:
            if connected.is_set() or loop.time() >= catch_up_at:
                connected.clear()
                await _logged("catching up", run.catch_up())
                run.caught_up.set()
                catch_up_at = loop.time() + self.options.catch_up_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connected.wait(), catch_up_at - loop.time())


async def _logged(what: str, work: Awaitable[object]) -> None:
    # Live mode keeps going through errors: nothing is lost, the next catch-up retries.
    try:
        problems = await work
    except Exception:
        log.exception("slack: %s failed", what)
        return
    if isinstance(problems, list) and problems:
        log.warning("slack: %s: %s", what, "; ".join(map(str, problems)))


class SlackRun:
    """The state of one connection: API client, users, channels, the writers built on them."""

    def __init__(self, connector: SlackConnector, api: SlackApi, store: AsyncStore, me: Me):
        options, settings = connector.options, connector.settings
        self.settings = settings
        self.account_id = connector.account_id
        self.api, self.store, self.me = api, store, me
        self.channels: dict[str, ChannelInfo] = {}
        self.people = People(api)
        window = settings.group_window_minutes * 60
        mapper = Mapper(
            self.account_id, me, window, self.people.users, self.channels, settings.accept_bots
        )
        self.writer = PageWriter(store, self.account_id, me, self.people, mapper)
        self.backfill = Backfill(
            api,
            store,
            self.writer,
            page_size=connector.page_size(),
            thread_lookback=options.thread_lookback,
            clock=options.clock,
            rescan_every=options.rescan_interval,
            backfill_days=settings.backfill_days,
            sparse=settings.distribution == "distributed",
        )
        self.post_lock = asyncio.Lock()
        self.outbox = Outbox(
            api,
            self.account_id,
            self.post_lock,
            release=not connector.live,
            lease=StoreLease(store, self.account_id),
        )
        self.clock = options.clock
        self.rename_interval = options.rename_interval
        self._catching_up = asyncio.Lock()
        self.caught_up = asyncio.Event()  # set once the first catch-up has run

    async def deliver(self) -> None:
        await self.outbox.deliver(self.store)

    async def catch_up(self) -> list[str]:
        """Every wanted channel from its checkpoint; returns the channels that failed."""
        async with self._catching_up:
            await self._rename_unnamed()
            channels, problems = await self._wanted_channels()
            for channel in channels:
                try:
                    await self.backfill.channel(channel)
                except SlackApiError as exc:
                    problems.append(f"#{channel.name} ({channel.id}): {_error(exc)}")
            return problems

    async def _rename_unnamed(self) -> None:
        """Names Slack would not give before: a failure here costs only the names."""
        if self.rename_interval is None:
            return
        try:
            await self.people.rename_unnamed(
                self.store, self.account_id, self.clock, self.rename_interval
            )
        except (SlackApiError, RateLimited) as exc:
            log.warning("slack: users stay unnamed for now: %s", exc)

    async def _wanted_channels(self) -> tuple[list[ChannelInfo], list[str]]:
        listed = [ChannelInfo.from_json(c) for c in await self.api.conversations()]
        self.channels.update((c.id, c) for c in listed)
        wanted = [c for c in listed if c.is_member and self.wanted(c)]
        found = {c.id for c in wanted} | {c.name for c in wanted}
        missing = [c for c in self.settings.channels if c.removeprefix("#") not in found]
        return wanted, [f"{c}: not found, or the bot is not a member" for c in missing]

    def wanted(self, channel: ChannelInfo) -> bool:
        if channel.is_im:
            return self.settings.dms
        configured = self.settings.channels
        names = (channel.id, channel.name, f"#{channel.name}")
        return not configured or any(name in configured for name in names)

    async def apply_events(self, events: list[JSON]) -> None:
        """Store a batch of `message` events: new, changed and deleted messages."""
        by_channel: dict[str, list[JSON]] = {}
        for event in events:
            message = _message_of(event)
            if message is not None and event.get("channel"):
                by_channel.setdefault(str(event["channel"]), []).append(message)
        for channel_id, messages in by_channel.items():
            channel = self._channel_of(channel_id, events)
            if self.wanted(channel):
                # One channel's failure costs that channel's events only; its top-level
                # messages come back with the next catch-up (the checkpoint did not move).
                await _logged(
                    f"storing live events of {channel_id}", self._write_live(channel, messages)
                )
        for event in events:
            if event.get("subtype") == "message_deleted":
                await self._delete(event)

    def _channel_of(self, channel_id: str, events: list[JSON]) -> ChannelInfo:
        known = self.channels.get(channel_id)
        if known is not None:
            return known
        # A DM opened after the last users.conversations: the other end is its human author.
        first = next(e for e in events if e.get("channel") == channel_id)
        is_im = first.get("channel_type") == "im"
        user = first.get("user") if is_im and not self.me.wrote(first) else None
        channel = ChannelInfo(channel_id, channel_id, is_im, str(user) if user else None)
        if user:
            self.channels[channel_id] = channel
        return channel

    async def _write_live(self, channel: ChannelInfo, messages: list[JSON]) -> None:
        failed = await self._fetch_unknown_threads(channel, messages)
        if failed:  # those replies wait for their thread: the next catch-up fetches it whole
            messages = [m for m in messages if str(m.get("thread_ts")) not in failed]
        if not any(self.me.wrote(m) for m in messages):
            await self.writer.write(channel, messages)
            return
        # Our own reply may echo back before the outbox has stored its ts: wait for that,
        # then the echo is recognised as the message already stored.
        async with self.post_lock:
            await self.writer.write(channel, messages)

    async def _fetch_unknown_threads(self, channel: ChannelInfo, messages: list[JSON]) -> set[str]:
        """A reply whose parent we never stored: fetch the whole thread, parent first.

        Returns the threads that could not be fetched; they are remembered for the next
        catch-up, and a failure costs only that thread.
        """
        in_batch = {str(m["ts"]) for m in messages if m.get("ts")}
        parents = {str(m["thread_ts"]) for m in messages if is_reply(m)} - in_batch
        keys = [remote_id(channel.id, ts) for ts in sorted(parents)]
        known = await self.store.call(Store.known_remote_ids, self.account_id, keys)
        failed: set[str] = set()
        for ts in sorted(parents):
            if remote_id(channel.id, ts) not in known and not await self.backfill.try_thread(
                channel, ts
            ):
                failed.add(ts)
        return failed

    async def _delete(self, event: JSON) -> None:
        key = remote_id(str(event["channel"]), str(event.get("deleted_ts")))
        self.writer.deleted.add(key)  # if the message itself is still on its way
        await self.store.call(Store.mark_deleted, self.account_id, key)


def _message_of(event: JSON) -> JSON | None:
    """The message an event carries: itself, or the new version of an edited one."""
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        return None
    if subtype == "message_changed":
        inner = event.get("message")
        if not isinstance(inner, dict):
            return None
        # Recorded events may carry the new version without its ts (bolt-python's
        # test_message_changed.py fixture): it is the previous version's.
        previous = event.get("previous_message")
        if not inner.get("ts") and isinstance(previous, dict) and previous.get("ts"):
            return {**inner, "ts": previous["ts"]}
        return inner
    return event


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc)
