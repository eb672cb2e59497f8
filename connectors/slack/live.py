"""Socket Mode events in: acknowledged at once, deduplicated, handed over in ts order.

Slack redelivers an event it thinks we missed in a *new* envelope with the same `event_id`,
and slack-sdk runs listeners as concurrent tasks, so events arrive repeated and unordered
(DESIGN.md §8). We ack every envelope straight away (Slack retries after 3 s), drop repeats
by `event_id`, and let a short settle time gather events that belong together (a reply
delivered before its parent) so the batch can be stored in ts order. An acked event that is
lost before it is stored (a crash) is found again by the next catch-up from the checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

JSON = dict[str, Any]
log = logging.getLogger(__name__)
SETTLE = 0.05  # seconds to wait for stragglers once an event is in
REMEMBER = 10_000  # event ids kept for de-duplication; redelivery comes within minutes


class EventInbox:
    def __init__(self, *, settle: float = SETTLE, remember: int = REMEMBER) -> None:
        self.settle = settle
        self.remember = remember
        # Set on every connection (hello): events from before it may never come to us.
        self.connected = asyncio.Event()
        self.connections = 0
        self.rate_limited = 0  # app_rate_limited notices received
        self._queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def attach(self, client: AsyncBaseSocketModeClient) -> None:
        client.socket_mode_request_listeners.append(self._on_request)
        client.message_listeners.append(self._on_frame)

    async def _on_request(
        self, client: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        # Everything before the first await runs for one envelope at a time: de-duplicate
        # here, where concurrent listener tasks cannot interleave.
        if request.type == "events_api":
            self._accept(request.payload)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    def _accept(self, payload: JSON) -> None:
        if payload.get("type") == "app_rate_limited":
            self._rate_limited(payload)
            return
        event, event_id = payload.get("event"), payload.get("event_id")
        if not isinstance(event, dict) or event.get("type") != "message":
            return
        if event_id:
            if event_id in self._seen:
                return
            self._seen[event_id] = None
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        self._queue.put_nowait(event)

    def _rate_limited(self, payload: JSON) -> None:
        """Slack stopped sending us events for a while (more than 30,000 an hour for this
        workspace: https://api.slack.com/apis/events-api#rate-limiting): whatever it dropped is
        only in history, so catch up now, as after a reconnection."""
        self.rate_limited += 1
        log.warning(
            "slack: events rate limited (minute %s); catching up from history",
            payload.get("minute_rate_limited"),
        )
        self.connected.set()

    async def _on_frame(
        self, client: AsyncBaseSocketModeClient, message: JSON, raw: str | None
    ) -> None:
        # `hello` opens every connection; the SDK reconnects by itself on `disconnect` (and on
        # a dead socket). Whatever happened while we were not connected is only in history.
        if message.get("type") == "hello":
            self.connections += 1
            self.connected.set()
        elif message.get("type") == "app_rate_limited":  # as a bare frame, too
            self._rate_limited(message)

    async def next_batch(self) -> list[JSON]:
        """Wait for an event, then take every event that arrives within `settle` seconds."""
        batch = [await self._queue.get()]
        await asyncio.sleep(self.settle)
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch
