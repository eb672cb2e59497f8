"""How fast the Slack connector backfills through the real slack-sdk (DESIGN.md §7).

Starts the local Slack (tests/slack/server.py) in this process, creates N messages (one
channel of top-level messages, every 50th with 3 thread replies, and a DM), backfills it with
`SlackConnector.sync_once` into a fresh store file, with the client-side pacing lifted (the
local server has no tiers; real Slack's limits are what bounds a real backfill). Prints JSON:

    {"messages": N, "seconds": s, "msg_per_s": r, "runs": [...], "budget_msg_per_s": 5000,
     "reply_wait_s": w, "reply_waits": [...], "budget_reply_wait_s": 2}

`messages` is N, every one stored once (checked); `seconds` is the median of 3 runs, each
into a new store. The server shares the process and its event loop, so its JSON
encoding is inside the measured time: the figure is a floor for the connector alone.

`reply_wait_s` (median of 3): a reply queued while live mode catches up 30 changed threads,
paced at Slack's published rates (connectors/slack/ratelimit.py SLACK_RATES: conversations.replies
50/min, so that catch-up alone takes ~35 s), until the local Slack has it posted.
Run: `.venv/bin/python bench/slack_sync.py [--messages N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.slack.connector import SlackConnector, SlackOptions
from connectors.slack.settings import SlackAccountSettings
from storage.aio import AsyncStore
from storage.store import Store
from tests.slack.server import LocalSlack

BUDGET = 5000
TOKEN_ENV = "FRONTDESK_BENCH_SLACK_TOKEN"
THREADS_EVERY, REPLIES = 50, 3


def fill(slack: LocalSlack, n: int) -> None:
    """`n` messages: top-level ones in a channel (every 50th with 3 replies), the rest in a DM."""
    channel = slack.add_channel("support")
    users = [
        slack.add_user(f"customer{i}", real_name=f"Customer {i}", email=f"c{i}@example.com")
        for i in range(20)
    ]
    tops = n - 1
    while tops + (tops // THREADS_EVERY) * REPLIES >= n:
        tops -= 1
    slack.bulk_history(channel, tops, threads_every=THREADS_EVERY, replies=REPLIES, users=users)
    dm = slack.add_im(users[0])
    for i in range(n - tops - (tops // THREADS_EVERY) * REPLIES):
        slack.post(dm, users[0], f"direct message {i}", emit=False)


async def one_run(slack: LocalSlack, folder: Path) -> tuple[float, int]:
    settings = SlackAccountSettings(
        name="bench", kind="slack", bot_token_env=TOKEN_ENV, api_url=slack.api_url
    )
    store = AsyncStore(lambda: Store(folder / "bench.db"))
    try:
        account_id = await store.call(Store.ensure_account, "bench", "slack")
        connector = SlackConnector(settings, account_id, SlackOptions(rates={}))
        started = time.perf_counter()
        await connector.sync_once(store)
        seconds = time.perf_counter() - started
        stored = (await store.call(Store.stats))["messages"]
    finally:
        await store.aclose()
    return seconds, int(str(stored))


async def bench(n: int, runs: int) -> dict[str, object]:
    os.environ[TOKEN_ENV] = "xoxb-bench"
    async with LocalSlack(bot_token="xoxb-bench") as slack:
        fill(slack, n)
        timings = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
                seconds, stored = await one_run(slack, Path(tmp))
            if stored != n:
                raise SystemExit(f"stored {stored} messages, expected {n}")
            timings.append(seconds)
    seconds = statistics.median(timings)
    return {
        "messages": n,
        "seconds": round(seconds, 3),
        "msg_per_s": round(n / seconds),
        "runs": [round(t, 3) for t in timings],
        "budget_msg_per_s": BUDGET,
    }


CHANGED_THREADS = 30
T0 = 1_700_000_000.0  # the local Slack's first ts


async def reply_wait(folder: Path) -> float:
    """Seconds from queueing a reply, during a catch-up of 30 changed threads, to its post."""
    async with LocalSlack(bot_token="xoxb-bench") as slack:
        channel = slack.add_channel("support")
        alice = slack.add_user("alice", real_name="Alice")
        roots = [slack.post(channel, alice, f"q{n}", emit=False) for n in range(CHANGED_THREADS)]
        for root in roots:
            slack.post(channel, alice, "details", root, emit=False)
        settings = SlackAccountSettings(
            name="bench", kind="slack", bot_token_env=TOKEN_ENV, api_url=slack.api_url
        )
        store = AsyncStore(lambda: Store(folder / "reply.db"))
        try:
            account_id = await store.call(Store.ensure_account, "bench", "slack")
            clock = lambda: T0 + 3600  # noqa: E731  (threads an hour old: inside the rescan)
            fast = SlackOptions(rates={}, clock=clock)
            await SlackConnector(settings, account_id, fast).sync_once(store)
            conversation = int(str((await store.call(Store.stats))["conversations"]))
            for root in roots:
                slack.post(channel, alice, "any news?", root, emit=False)
            live = SlackConnector(settings, account_id, SlackOptions(clock=clock))
            return await _time_reply(slack, store, live, conversation)
        finally:
            await store.aclose()


async def _time_reply(
    slack: LocalSlack, store: AsyncStore, live: SlackConnector, conversation: int
) -> float:
    before = len(slack.calls_to("conversations.replies"))
    task = asyncio.create_task(live.run_live(store))
    try:  # queued once the catch-up is under way (past the limiter's burst)
        await slack.wait_until(
            lambda: len(slack.calls_to("conversations.replies")) >= before + 5, timeout=60
        )
        queued = time.perf_counter()
        await store.call(
            Store.queue_reply, conversation, "Sam", "on it", remote_id="<bench@frontdesk.test>"
        )
        await slack.wait_until(lambda: bool(slack.posted), timeout=120)
        waited = time.perf_counter() - queued
        if len(slack.calls_to("conversations.replies")) - before >= CHANGED_THREADS:
            raise SystemExit("the catch-up ended before the reply went out: nothing measured")
        return waited
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages to create")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(bench(args.messages, args.runs))
    waits = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
            waits.append(asyncio.run(reply_wait(Path(tmp))))
    result["reply_wait_s"] = round(statistics.median(waits), 3)
    result["reply_waits"] = [round(w, 3) for w in waits]
    result["budget_reply_wait_s"] = 2
    print(json.dumps(result))


if __name__ == "__main__":
    main()
