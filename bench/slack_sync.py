"""How fast the Slack connector backfills through the real slack-sdk (DESIGN.md §7).

Starts the local Slack (tests/slack/server.py) in this process, creates N messages (one
channel of top-level messages, every 50th with 3 thread replies, and a DM), backfills it with
`SlackConnector.sync_once` into a fresh store file, with the client-side pacing lifted (the
local server has no tiers; real Slack's limits are what bounds a real backfill). Prints JSON:

    {"messages": N, "seconds": s, "msg_per_s": r, "runs": [...], "budget_msg_per_s": 5000}

`messages` is N, every one stored once (checked); `seconds` is the median of 3 runs, each
into a new store. The server shares the process and its event loop, so its JSON
encoding is inside the measured time: the figure is a floor for the connector alone.
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

from connectors.slack import SlackConnector, SlackOptions
from connectors.slack_settings import SlackAccountSettings
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages to create")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args.messages, args.runs))))


if __name__ == "__main__":
    main()
