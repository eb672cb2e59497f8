"""The Slack Web API as the connector uses it: one aiohttp session, paced, 429-aware.

slack-sdk 3.47 opens a new aiohttp session per call unless given one, and retries a 429 only
with `AsyncRateLimitErrorRetryHandler` installed (DESIGN.md §8): both are set up here. Pages
come back with their next cursor so callers can checkpoint it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors.base import AuthFailed
from connectors.slack.ratelimit import RateLimiter

log = logging.getLogger(__name__)

JSON = dict[str, Any]
HTTP_TIMEOUT = 30
# Every kind of conversation a bot can be in: channels, private channels, DMs, group DMs.
CONVERSATION_TYPES = "public_channel,private_channel,im,mpim"


# What the connector calls needs (each method's "Required scopes" at https://api.slack.com/methods);
# slack-app-manifest.yml grants them. users:read.email is optional but links Slack to email.
REQUIRED_SCOPES = (
    "channels:history",
    "channels:read",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "mpim:history",
    "mpim:read",
    "users:read",
    "users:read.email",
    "chat:write",
    "files:read",  # files customers share, downloaded with the bot token (files.py)
    "im:write",  # conversations.open: a held reply sent to the customer as a DM
)


def missing_scopes(granted: list[str]) -> list[str]:
    """The scopes the connector needs that `granted` lacks, in REQUIRED_SCOPES order."""
    have = set(granted)
    return [scope for scope in REQUIRED_SCOPES if scope not in have]


# Answers meaning the token itself is refused: the admin must act, retrying cannot help.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})


class SlackAuthFailed(SlackApiError, AuthFailed):
    """Slack refused the token. Still a SlackApiError, so the callers' handlers catch it."""

    def __str__(self) -> str:
        return f"Slack said {self.response.get('error', '')}"


def _refused_token(exc: SlackApiError) -> None:
    """Raise `SlackAuthFailed` when `exc` says the token is refused (the channel's edge)."""
    if str(exc.response.get("error", "")) in AUTH_ERRORS:
        raise SlackAuthFailed(str(exc), exc.response) from exc  # type: ignore[no-untyped-call]


class RateLimited(Exception):
    """Slack kept answering 429 after the SDK's retries; nothing was lost, try again later."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(f"{method} is rate limited; retry in {retry_after:g} s")
        self.method = method
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Page:
    items: list[JSON]
    cursor: str | None  # the next page's cursor; None on the last page


class SlackApi:
    def __init__(self, client: AsyncWebClient, poster: AsyncWebClient, limiter: RateLimiter):
        self.client = client  # reads: retried on 429 and on a dropped connection
        self.poster = poster  # chat.postMessage: retried on 429 only (see open())
        self.limiter = limiter
        self.session: aiohttp.ClientSession | None = None  # the run's HTTP session (files)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, base_url: str, token: str, limiter: RateLimiter, max_retry_count: int
    ) -> AsyncIterator[SlackApi]:
        """Clients for one run, on one shared HTTP session closed on the way out."""
        session = aiohttp.ClientSession()

        def client(*retry: AsyncRetryHandler) -> AsyncWebClient:
            rate_limit = AsyncRateLimitErrorRetryHandler(max_retry_count=max_retry_count)
            return AsyncWebClient(
                token=token,
                base_url=base_url,
                session=session,
                timeout=HTTP_TIMEOUT,
                retry_handlers=[*retry, rate_limit],
            )

        # A post whose connection dropped may have been posted all the same: it must not be
        # re-sent blindly (the outbox looks in the thread first). A 429 is a plain refusal.
        try:
            api = cls(client(*async_default_handlers()), client(), limiter)
            api.session = session
            yield api
        finally:
            await session.close()

    async def _call(
        self,
        method: str,
        send: Callable[[], Awaitable[AsyncSlackResponse]],
        key: str = "",
        *,
        first: bool = False,
    ) -> JSON:
        await self.limiter.acquire(method, key, first=first)
        try:
            response = await send()
        except SlackApiError as exc:
            _refused_token(exc)
            if exc.response.status_code != 429:
                raise
            retry_after = _retry_after(exc.response.headers)
            self.limiter.pause(method, retry_after, key)
            raise RateLimited(method, retry_after) from exc
        data = response.data
        if not isinstance(data, dict):
            raise TypeError(f"{method} answered with {type(data).__name__}, not JSON")
        return data

    async def auth_test(self) -> JSON:
        """auth.test's answer, plus `scopes`: what the token was granted, from the
        `x-oauth-scopes` response header (https://api.slack.com/authentication/oauth-v2)."""
        await self.limiter.acquire("auth.test")
        try:
            response = await self.client.auth_test()
        except SlackApiError as exc:
            _refused_token(exc)
            raise
        data = dict(response.data) if isinstance(response.data, dict) else {}
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        raw = headers.get("x-oauth-scopes") or ""
        value = raw[0] if isinstance(raw, list) and raw else raw
        data["scopes"] = sorted(s.strip() for s in str(value or "").split(",") if s.strip())
        return data

    async def conversations(self) -> list[JSON]:
        """Every conversation the bot is a member of (all pages): users.conversations, not
        conversations.list, which walks every public channel of the workspace."""
        found: list[JSON] = []
        cursor: str | None = None
        while True:
            page = await self._call(
                "users.conversations",
                partial(
                    self.client.users_conversations,
                    types=CONVERSATION_TYPES,
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor,
                ),
            )
            found += page.get("channels", [])
            cursor = _next_cursor(page)
            if cursor is None:
                return found

    async def history(
        self,
        channel: str,
        *,
        oldest: str,
        cursor: str | None,
        limit: int,
        latest: str | None = None,
    ) -> Page:
        """One page of top-level messages after `oldest` (and up to `latest`, inclusive)."""
        page = await self._call(
            "conversations.history",
            lambda: self.client.conversations_history(
                channel=channel,
                oldest=oldest,
                latest=latest,
                inclusive=True if latest else None,
                cursor=cursor,
                limit=limit,
                include_all_metadata=True,
            ),
        )
        return Page(page.get("messages", []), _next_cursor(page))

    async def replies(
        self,
        channel: str,
        ts: str,
        *,
        oldest: str | None,
        cursor: str | None,
        limit: int,
        first: bool = False,
    ) -> Page:
        """`first`: for the outbox, ahead of a catch-up's calls (a reply never waits)."""
        page = await self._call(
            "conversations.replies",
            lambda: self.client.conversations_replies(
                channel=channel,
                ts=ts,
                oldest=oldest,
                cursor=cursor,
                limit=limit,
                include_all_metadata=True,
            ),
            first=first,
        )
        return Page(page.get("messages", []), _next_cursor(page))

    async def user(self, user_id: str) -> JSON | None:
        """users.info's `user`, or None for an id Slack does not know or will not show us.

        `user_not_visible` (documented for users.info: a user of another organisation, a guest)
        costs that one name, never the page or batch that mentions the user: the caller shows
        the id and asks again in a later run.
        """
        try:
            found = await self._call("users.info", lambda: self.client.users_info(user=user_id))
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "users_not_found"):
                return None
            if exc.response.get("error") == "user_not_visible":
                log.info("users.info: %s is not visible to this app", user_id)
                return None
            raise
        user = found.get("user")
        return user if isinstance(user, dict) else None

    async def open_dm(self, user: str) -> str:
        """The id of the bot's direct-message channel with `user` (conversations.open, which
        needs the `im:write` scope; opening one that exists returns it)."""
        data = await self._call(
            "conversations.open", lambda: self.client.conversations_open(users=user)
        )
        channel = data.get("channel")
        if not isinstance(channel, dict) or not channel.get("id"):
            raise TypeError("conversations.open answered without a channel id")
        return str(channel["id"])

    async def call_method(self, method: str, **params: str) -> JSON:
        """Any read method by name (paced like the others), e.g. files.info."""
        return await self._call(method, lambda: self.client.api_call(method, params=params))

    async def post(self, channel: str, text: str, *, thread_ts: str | None, metadata: JSON) -> JSON:
        """Post in the thread `thread_ts`, or (None) as a new message in the channel."""
        return await self._call(
            "chat.postMessage",
            lambda: self.poster.chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts, metadata=metadata
            ),
            key=channel,
        )


def _next_cursor(page: JSON) -> str | None:
    # Slack omits response_metadata on history's last page and sends "" on list's.
    cursor = (page.get("response_metadata") or {}).get("next_cursor")
    return str(cursor) if cursor else None


def _retry_after(headers: Any) -> float:
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0
