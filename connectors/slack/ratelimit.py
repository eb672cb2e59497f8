"""Client-side pacing per API method, so we stay inside a server's published rate limits.

Slack answers a burst beyond a method's tier with HTTP 429 and makes us wait (Retry-After);
pacing ourselves costs less than being told to stop. The pacing is GCRA (a token bucket kept
as one timestamp per key): `burst` calls may go at once, then one per interval.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping

# Calls per minute, from https://api.slack.com/docs/rate-limits (Tier 2: 20+, Tier 3: 50+,
# Tier 4: 100+). chat.postMessage is "special": about one message per second per channel.
SLACK_RATES: Mapping[str, float] = {
    "conversations.list": 20,
    "users.conversations": 20,
    "conversations.info": 50,
    "conversations.history": 50,
    "conversations.replies": 50,
    "users.info": 100,
    "chat.postMessage": 60,
}
# Apps distributed outside the Slack Marketplace (created after 29 May 2025, or any from March
# 2026): conversations.history and conversations.replies at 1 request per minute, at most 15
# messages a page. https://api.slack.com/changelog/2025-05-terms-rate-limit-update-and-faq
DISTRIBUTED_RATES: Mapping[str, float] = {
    **SLACK_RATES,
    "conversations.history": 1,
    "conversations.replies": 1,
}
DISTRIBUTED_PAGE = 15


def rates_for(distribution: str) -> Mapping[str, float]:
    """Per-method pacing for an app installed as `distribution`: an internal (workspace's own)
    app or a Marketplace app keeps the published tiers."""
    return DISTRIBUTED_RATES if distribution == "distributed" else SLACK_RATES


# Methods whose limit applies per channel rather than per workspace.
PER_CHANNEL = frozenset({"chat.postMessage"})
# Slack tolerates short bursts above the tier rate; a few calls back to back are fine.
DEFAULT_BURST = 3


class RateLimiter:
    """Waits before each call just long enough to keep every method inside its rate.

    `per_minute` maps a method to its calls per minute; methods not listed (or listed with
    `math.inf`) are not paced. Tests and benchmarks pass `{}` to lift every limit.
    """

    def __init__(
        self,
        per_minute: Mapping[str, float] = SLACK_RATES,
        *,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = {m: 60.0 / r for m, r in per_minute.items() if 0 < r < math.inf}
        self._tolerance = max(0, burst - 1)
        self._clock = clock
        self._sleep = sleep
        self._tat: dict[tuple[str, str], float] = {}  # theoretical arrival time per key
        self._paused: dict[tuple[str, str], float] = {}  # no call before (a 429's Retry-After)
        self._first_tat: dict[tuple[str, str], float] = {}  # the `first` calls' own pacing

    async def acquire(self, method: str, key: str = "", *, first: bool = False) -> None:
        """Return when a call to `method` (for `key`, e.g. a channel) may be made.

        `first`: ahead of the calls already waiting (an agent's reply before a catch-up)."""
        delay = self.reserve_first(method, key) if first else self.reserve(method, key)
        if delay > 0:
            await self._sleep(delay)

    def reserve_first(self, method: str, key: str = "") -> float:
        """Book a call ahead of the ordinary queue: it waits only for the other `first` calls
        (paced among themselves) and for a pause the server asked for (429); the ordinary
        calls move back one interval, so the method's rate holds."""
        slot_key = (method, key if method in PER_CHANNEL else "")
        interval = self._interval.get(method, 0.0)
        if not interval and slot_key not in self._tat:
            return 0.0
        now = self._clock()
        self._tat[slot_key] = max(self._tat.get(slot_key, now), now) + interval
        first_tat = max(self._first_tat.get(slot_key, now), now)
        self._first_tat[slot_key] = first_tat + interval
        ahead = first_tat - now - self._tolerance * interval
        return max(0.0, ahead, self._paused.get(slot_key, 0.0) - now)

    def reserve(self, method: str, key: str = "") -> float:
        """Book the next slot and return how long to wait for it (synchronously, so callers
        running concurrently never book the same slot)."""
        interval = self._interval.get(method, 0.0)
        slot_key = (method, key if method in PER_CHANNEL else "")
        if not interval and slot_key not in self._tat:
            return 0.0  # not paced and never paused: the common case in tests and benches
        now = self._clock()
        tat = max(self._tat.get(slot_key, now), now)
        self._tat[slot_key] = tat + interval
        return max(0.0, tat - now - self._tolerance * interval)

    def pause(self, method: str, seconds: float, key: str = "") -> None:
        """The server said wait (a 429 with Retry-After): no call to `method` before then."""
        slot_key = (method, key if method in PER_CHANNEL else "")
        interval = self._interval.get(method, 0.0)
        resume = self._clock() + seconds + self._tolerance * interval
        self._tat[slot_key] = max(self._tat.get(slot_key, 0.0), resume)
        self._paused[slot_key] = max(self._paused.get(slot_key, 0.0), self._clock() + seconds)
