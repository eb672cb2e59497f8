"""A local, in-memory Slack for tests: the Web API over HTTP and Socket Mode over a websocket.

It speaks the wire format that slack-sdk 3.47 produces and parses (DESIGN.md §6 and §8), so the
connector's tests drive the real SDK instead of a mock of it:

* ``/api/<method>`` accepts GET query strings, POST query strings, POST form bodies and POST JSON
  bodies, because the SDK uses all four (``conversations.history`` is a GET, ``auth.test`` and
  ``apps.connections.open`` POST with the arguments in the query string, ``chat.postMessage``
  POSTs JSON). The token comes from ``Authorization: Bearer``.
* Errors are HTTP 200 with ``{"ok": false, "error": ...}``; rate limits are HTTP 429 with an
  integer ``Retry-After`` (the SDK's retry handler does ``int(value[0])`` on it).
* Socket Mode: ``apps.connections.open`` hands out a single-use ``ws://`` URL; the server sends
  ``hello``, pushes ``events_api`` envelopes, expects ``{"envelope_id": ...}`` acks and retries
  unacked events, like Slack does.

Only 127.0.0.1 is used. Behaviour that the real Slack documents loosely is modelled on the
documented or commonly observed behaviour and marked "assumption" where it is a guess.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from aiohttp import WSMsgType, web

JSON = dict[str, Any]
ChannelKind = Literal["public", "private", "im", "mpim"]
Handler = Callable[[JSON], JSON]

# Scopes a typical internal support app's bot token carries. `users:read.email` is included so
# tests that want to see the effect of its absence must remove it explicitly.
DEFAULT_SCOPES = frozenset(
    {
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
        "im:write",
        "files:read",
    }
)

_HISTORY_SCOPE: dict[ChannelKind, str] = {
    "public": "channels:history",
    "private": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
_READ_SCOPE: dict[ChannelKind, str] = {
    "public": "channels:read",
    "private": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}
# conversations.list `types` values and the channel kinds they select.
_TYPE_KIND: dict[str, ChannelKind] = {
    "public_channel": "public",
    "private_channel": "private",
    "im": "im",
    "mpim": "mpim",
}
# The `channel_type` field of message events.
_EVENT_CHANNEL_TYPE: dict[ChannelKind, str] = {
    "public": "channel",
    "private": "group",
    "im": "im",
    "mpim": "mpim",
}
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
_TOMBSTONE_TEXT = "This message was deleted."
SLACKBOT_ID = "USLACKBOT"


class SlackError(Exception):
    """A Web API error, answered as HTTP 200 ``{"ok": false, "error": ...}`` like Slack does."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> JSON:
        return {"ok": False, "error": self.error, **self.extra}


class _HttpFailure(Exception):
    """An HTTP error status instead of a JSON answer (chat.postMessage failure mode)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# --------------------------------------------------------------------------------------------
# workspace model


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    bot_id: str | None = None
    tz: str = "Europe/Berlin"


@dataclass
class Message:
    ts: str
    user: str
    text: str
    # On a reply: the parent's ts. On a parent: its own ts once it has replies (Slack's shape).
    thread_ts: str | None = None
    broadcast: bool = False
    replies: list[str] = field(default_factory=list)  # ascending ts, parents only
    edited: JSON | None = None
    tombstone: bool = False
    extra: JSON = field(default_factory=dict)  # blocks/attachments, passed through untouched

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Channel:
    id: str
    name: str
    kind: ChannelKind
    created: int
    members: set[str] = field(default_factory=set)
    im_user: str | None = None
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    messages: dict[str, Message] = field(default_factory=dict)
    # ts of the messages conversations.history shows, ascending: top-level messages and
    # thread_broadcast replies. Plain replies live only in their parent's `replies`.
    history: list[str] = field(default_factory=list)


def ts_to_us(ts: str) -> int:
    seconds, _, micros = ts.partition(".")
    return int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6])


def us_to_ts(us: int) -> str:
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def encode_cursor(kind: str, value: str) -> str:
    # Slack's cursors are opaque base64 ("bmV4dF90czox..." is "next_ts:1..."); mimic the shape
    # so nobody is tempted to parse them.
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def decode_cursor(cursor: str, kind: str) -> str:
    try:
        got_kind, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc
    if got_kind != kind or not value:
        raise SlackError("invalid_cursor")
    return value


def _is_true(value: Any) -> bool:
    # The SDK turns bools into "1"/"0" in query strings; JSON bodies carry real bools.
    return value is True or str(value).lower() in {"1", "true"}


def _limit(params: JSON, default: int, maximum: int) -> int:
    raw = params.get("limit")
    try:
        value = int(raw) if raw not in (None, "") else default
    except (TypeError, ValueError) as exc:
        raise SlackError("invalid_limit") from exc
    if value <= 0:  # Slack treats 0 as "use the default"
        value = default
    return min(value, maximum)


class Workspace:
    """Users, channels and messages; synchronous, so tests can set up state without awaiting."""

    def __init__(
        self,
        *,
        team_id: str = "T0LOCAL01",
        team_name: str = "Frontdesk Test",
        domain: str = "frontdesk-test",
        start_ts: str = "1700000000.000100",
        ts_step_us: int = 100,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.app_id = "A0LOCAL01"
        self.users: dict[str, User] = {}
        # Users the app's token may not see (another org of a shared channel, a guest):
        # users.info answers `user_not_visible` for them, as documented in its error table
        # (https://api.slack.com/methods/users.info#errors), while their messages still appear.
        self.hidden: set[str] = set()
        self.channels: dict[str, Channel] = {}
        # Test hook: conversations.replies for these thread ts answers this error (e.g.
        # "internal_error", in the method's documented error table:
        # https://api.slack.com/methods/conversations.replies#errors).
        self.failing_threads: dict[str, str] = {}
        self._ids = itertools.count(1)
        self._bot_ids = itertools.count(1)
        self._clock_us = ts_to_us(start_ts) - ts_step_us
        self._ts_step_us = ts_step_us
        self.add_user("slackbot", real_name="Slackbot", user_id=SLACKBOT_ID)
        self.bot_user_id = self.add_user("frontdesk", real_name="Frontdesk", is_bot=True)
        self.bot_id = cast(str, self.users[self.bot_user_id].bot_id)

    # ---- ids and clock

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}L{next(self._ids):08d}"

    def next_ts(self) -> str:
        """A fresh ts, strictly greater than every ts handed out or inserted before."""
        self._clock_us += self._ts_step_us
        return us_to_ts(self._clock_us)

    def _claim_ts(self, ts: str | None) -> str:
        if ts is None:
            return self.next_ts()
        # Normalised to 6 decimals: ts strings are compared as strings (bisect), which is
        # only numeric order when they all have the same shape.
        us = ts_to_us(ts)
        self._clock_us = max(self._clock_us, us)
        return us_to_ts(us)

    # ---- users and channels

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        user_id: str | None = None,
    ) -> str:
        uid = user_id or self._new_id("U")
        bot_id = f"B0BOT{next(self._bot_ids):04d}" if is_bot else None
        self.users[uid] = User(uid, name, real_name or name, email, is_bot, deleted, bot_id)
        return uid

    def add_channel(
        self,
        name: str,
        *,
        kind: ChannelKind = "public",
        members: Iterable[str] = (),
        bot_member: bool = True,
        is_archived: bool = False,
        channel_id: str | None = None,
    ) -> str:
        prefix = "D" if kind == "im" else ("G" if kind == "mpim" else "C")
        cid = channel_id or self._new_id(prefix)
        member_set = set(members) | ({self.bot_user_id} if bot_member else set())
        created = ts_to_us(self.next_ts()) // 1_000_000
        self.channels[cid] = Channel(cid, name, kind, created, member_set, is_archived=is_archived)
        return cid

    def add_im(self, user: str) -> str:
        """The bot's direct-message channel with `user`: a D… id, listed by conversations.list
        and users.conversations (types=im, scope im:read) as {"id", "is_im": true, "user"} and
        its events carry channel_type "im" (https://api.slack.com/types/im,
        https://api.slack.com/events/message.im)."""
        cid = self.add_channel(user, kind="im", members=[user])
        self.channels[cid].im_user = user
        return cid

    def channel(self, channel: str) -> Channel:
        """By id, or by name with or without '#' (chat.postMessage accepts names)."""
        found = self.channels.get(channel)
        if found is not None:
            return found
        name = channel.removeprefix("#")
        for candidate in self.channels.values():
            if candidate.kind in ("public", "private") and candidate.name == name:
                return candidate
        raise SlackError("channel_not_found")

    def user(self, user: str) -> User:
        if user in self.hidden:
            raise SlackError("user_not_visible")
        found = self.users.get(user)
        if found is None:
            raise SlackError("user_not_found")
        return found

    # ---- messages

    def insert(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        broadcast: bool = False,
        ts: str | None = None,
        extra: JSON | None = None,
    ) -> tuple[Channel, Message]:
        ch = self.channel(channel)
        if user not in self.users:
            raise ValueError(f"unknown user {user!r}: add_user() first")
        parent = self._thread_parent(ch, thread_ts) if thread_ts else None
        msg_ts = self._claim_ts(ts)
        if msg_ts in ch.messages:
            raise ValueError(f"duplicate ts {msg_ts} in {ch.id}")
        msg = Message(msg_ts, user, text, extra=dict(extra or {}))
        ch.messages[msg_ts] = msg
        if parent is not None:
            msg.thread_ts = parent.ts
            msg.broadcast = broadcast
            parent.thread_ts = parent.ts
            bisect.insort(parent.replies, msg_ts)
        if parent is None or broadcast:
            bisect.insort(ch.history, msg_ts)
        if ch.kind in ("public", "private", "mpim"):
            ch.members.add(user)
        return ch, msg

    def _thread_parent(self, ch: Channel, thread_ts: str) -> Message:
        msg = ch.messages.get(us_to_ts(ts_to_us(thread_ts)))
        if msg is None:
            # assumption: Slack's exact answer to a thread_ts that names no message varies;
            # an error makes a connector bug visible instead of silently un-threading.
            raise SlackError("thread_not_found")
        # Replying to a reply threads under the reply's parent, as in Slack's clients.
        return ch.messages[msg.thread_ts] if msg.is_reply and msg.thread_ts else msg

    def message(self, channel: str, ts: str) -> Message:
        msg = self.channel(channel).messages.get(us_to_ts(ts_to_us(ts)))
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def edit(self, channel: str, ts: str, text: str) -> tuple[JSON, JSON, str]:
        """Returns (previous message, new message, ts of the edit)."""
        ch = self.channel(channel)
        msg = self.message(channel, ts)
        previous = self.message_json(ch, msg)
        edit_ts = self.next_ts()
        msg.text = text
        msg.edited = {"user": msg.user, "ts": edit_ts}
        return previous, self.message_json(ch, msg), edit_ts

    def delete(self, channel: str, ts: str) -> tuple[JSON, str]:
        """Returns (previous message, ts of the deletion).

        A parent that still has replies becomes a tombstone (Slack keeps the thread reachable):
        subtype "tombstone", hidden, posted by USLACKBOT, "This message was deleted." (observed
        in history and replies; https://api.slack.com/events/message/message_changed shows the
        tombstone edit). Anything else disappears from history and replies, and
        conversations.replies on it answers thread_not_found.
        """
        ch = self.channel(channel)
        msg = self.message(channel, ts)
        previous = self.message_json(ch, msg)
        if msg.replies:
            msg.tombstone = True
        else:
            self._remove(ch, msg)
        return previous, self.next_ts()

    def _remove(self, ch: Channel, msg: Message) -> None:
        del ch.messages[msg.ts]
        index = bisect.bisect_left(ch.history, msg.ts)
        if index < len(ch.history) and ch.history[index] == msg.ts:
            del ch.history[index]
        if not msg.is_reply or msg.thread_ts is None:
            return
        parent = ch.messages[msg.thread_ts]
        parent.replies.remove(msg.ts)
        if not parent.replies:
            parent.thread_ts = None
            if parent.tombstone:  # the last reply of a deleted parent takes the tombstone along
                self._remove(ch, parent)

    def bulk_history(
        self,
        channel: str,
        n: int,
        *,
        threads_every: int = 0,
        replies: int = 0,
        users: Sequence[str] | None = None,
    ) -> list[str]:
        """`n` top-level messages (every `threads_every`-th with `replies` replies); no events.

        Returns the top-level ts, oldest first. Authors rotate over `users` (default: every
        human in the workspace, creating one if there is none).
        """
        authors = list(users or self._humans() or [self.add_user("bulk.user")])
        tops: list[str] = []
        for i in range(n):
            author = authors[i % len(authors)]
            _, parent = self.insert(channel, author, f"message {i}")
            tops.append(parent.ts)
            if threads_every and (i + 1) % threads_every == 0:
                for j in range(replies):
                    reply_author = authors[(i + j + 1) % len(authors)]
                    self.insert(channel, reply_author, f"reply {j} to {i}", thread_ts=parent.ts)
        return tops

    def _humans(self) -> list[str]:
        return [u.id for u in self.users.values() if not u.is_bot and u.id != SLACKBOT_ID]

    # ---- JSON shapes, as the Web API and events carry them

    def user_json(self, user: User, *, with_email: bool) -> JSON:
        profile: JSON = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "image_48": f"https://avatars.invalid/{user.id}_48.png",
            "team": self.team_id,
        }
        if with_email and user.email is not None and not user.is_bot:
            profile["email"] = user.email
        if user.bot_id is not None:
            profile["bot_id"] = user.bot_id
            profile["api_app_id"] = self.app_id if user.id == self.bot_user_id else ""
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_offset": 3600,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    def channel_json(self, ch: Channel) -> JSON:
        if ch.kind == "im":
            return {
                "id": ch.id,
                "created": ch.created,
                "is_im": True,
                "is_org_shared": False,
                "user": ch.im_user,
                "is_user_deleted": bool(ch.im_user and self.users[ch.im_user].deleted),
                "priority": 0,
            }
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": ch.kind != "mpim",
            "is_group": ch.kind == "mpim",
            "is_im": False,
            "is_mpim": ch.kind == "mpim",
            "is_private": ch.kind != "public",
            "created": ch.created,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "topic": {"value": ch.topic, "creator": "", "last_set": 0},
            "purpose": {"value": ch.purpose, "creator": "", "last_set": 0},
            "num_members": len(ch.members),
        }

    def message_json(self, ch: Channel, msg: Message) -> JSON:
        if msg.tombstone:
            out: JSON = {
                "type": "message",
                "subtype": "tombstone",
                "text": _TOMBSTONE_TEXT,
                "user": SLACKBOT_ID,
                "hidden": True,
                "ts": msg.ts,
            }
        else:
            out = {"type": "message", "user": msg.user, "text": msg.text, "ts": msg.ts}
            out["team"] = self.team_id
            self._add_bot_fields(out, msg.user)
            # Extra fields as Slack sends them for other kinds of message (a subtype, a legacy
            # integration's `bot_message` with `username` and no `user`, `attachments`); a
            # None value removes the field. Shapes: https://api.slack.com/events/message and
            # bolt-python's tests/scenario_tests/test_message_bot.py fixtures.
            out.update(msg.extra)
            out = {k: v for k, v in out.items() if v is not None}
        if msg.edited is not None and not msg.tombstone:
            out["edited"] = dict(msg.edited)
        if msg.thread_ts is not None:
            out["thread_ts"] = msg.thread_ts
        if msg.replies:
            self._add_thread_fields(out, ch, msg)
        if msg.is_reply and msg.thread_ts is not None:
            parent = ch.messages[msg.thread_ts]
            out["parent_user_id"] = SLACKBOT_ID if parent.tombstone else parent.user
            if msg.broadcast:
                out["subtype"] = "thread_broadcast"
                out["root"] = self.message_json(ch, parent)
        return out

    def _add_bot_fields(self, out: JSON, user_id: str) -> None:
        user = self.users.get(user_id)
        if user is None or user.bot_id is None:
            return
        # Posts by bot users carry bot_id; that is how an app recognises its own echoes.
        out["bot_id"] = user.bot_id
        # Every app's bot user posts with a bot_profile (bolt-python's test_message_bot.py
        # fixture `bot_message_event_payload`: another app's bot, its own app_id).
        app_id = self.app_id if user.id == self.bot_user_id else f"A0OTHER{user.bot_id[-4:]}"
        out["app_id"] = app_id
        out["bot_profile"] = {
            "id": user.bot_id,
            "app_id": app_id,
            "name": user.real_name,
            "deleted": False,
            "team_id": self.team_id,
        }

    def _add_thread_fields(self, out: JSON, ch: Channel, msg: Message) -> None:
        reply_users = list(dict.fromkeys(ch.messages[ts].user for ts in msg.replies))
        out.update(
            {
                "reply_count": len(msg.replies),
                "reply_users_count": len(reply_users),
                "latest_reply": msg.replies[-1],
                "reply_users": reply_users[:5],  # Slack lists at most five
                "is_locked": False,
                "subscribed": False,
            }
        )

    def message_event(self, ch: Channel, msg: Message) -> JSON:
        event = self.message_json(ch, msg)
        event.update(channel=ch.id, event_ts=msg.ts, channel_type=_EVENT_CHANNEL_TYPE[ch.kind])
        return event

    def changed_event(self, ch: Channel, previous: JSON, message: JSON, ts: str) -> JSON:
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": ch.id,
            "message": message,
            "previous_message": previous,
            "ts": ts,
            "event_ts": ts,
            "channel_type": _EVENT_CHANNEL_TYPE[ch.kind],
        }

    def deleted_event(self, ch: Channel, previous: JSON, ts: str) -> JSON:
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": ch.id,
            "deleted_ts": previous["ts"],
            "previous_message": previous,
            "ts": ts,
            "event_ts": ts,
            "channel_type": _EVENT_CHANNEL_TYPE[ch.kind],
        }

    # ---- paging

    def history_page(self, ch: Channel, params: JSON) -> JSON:
        """conversations.history: newest first, replies excluded unless broadcast.

        With only `oldest` given, the page holds the messages closest to `oldest` and the cursor
        moves forward in time (documented for channels.history, observed for
        conversations.history); otherwise the page holds those closest to `latest` and the
        cursor moves back in time. Either way each page is sorted newest first.
        Documented: "If oldest is provided but not latest then the messages returned are those
        closest to oldest, allowing you to page forward through history", and `inclusive` for
        the end points (https://github.com/slackhq/slack-api-docs/blob/master/methods/
        channels.history.md; https://api.slack.com/methods/conversations.history).
        """
        limit = _limit(params, default=100, maximum=999)
        inclusive = _is_true(params.get("inclusive"))
        oldest, latest = params.get("oldest"), params.get("latest")
        forward = bool(oldest) and not latest
        lo, hi = self._window(ch.history, oldest, latest, inclusive)
        cursor = params.get("cursor")
        if cursor:
            at = decode_cursor(str(cursor), "next_ts")
            if forward:
                lo = max(lo, bisect.bisect_left(ch.history, at))
            else:
                hi = min(hi, bisect.bisect_right(ch.history, at))
        if forward:
            page, rest = ch.history[lo : min(hi, lo + limit)], hi - lo - limit
            next_ts = ch.history[lo + limit] if rest > 0 else None
        else:
            page, rest = ch.history[max(lo, hi - limit) : hi], hi - lo - limit
            next_ts = ch.history[hi - limit - 1] if rest > 0 else None
        messages = [self.message_json(ch, ch.messages[ts]) for ts in reversed(page)]
        out: JSON = {"ok": True, "messages": messages, "has_more": next_ts is not None}
        out.update(pin_count=0, channel_actions_ts=None, channel_actions_count=0)
        if next_ts is not None:  # Slack omits response_metadata on the last page
            out["response_metadata"] = {"next_cursor": encode_cursor("next_ts", next_ts)}
        return out

    def replies_page(self, ch: Channel, params: JSON) -> JSON:
        """conversations.replies: the parent first on every page, then replies oldest first.

        assumption: `limit` counts the parent, so a page has the parent plus limit-1 replies
        (at least one, so paging always advances). A message with no replies answers itself
        alone; a ts naming no message (deleted without replies) answers `thread_not_found`
        (https://api.slack.com/methods/conversations.replies#errors).
        """
        ts = params.get("ts")
        if ts and str(ts) in self.failing_threads:
            raise SlackError(self.failing_threads[str(ts)])
        msg = ch.messages.get(str(ts)) if ts else None
        if msg is None:
            raise SlackError("thread_not_found")
        parent = ch.messages[msg.thread_ts] if msg.is_reply and msg.thread_ts else msg
        limit = _limit(params, default=1000, maximum=1000)
        inclusive = _is_true(params.get("inclusive"))
        lo, hi = self._window(parent.replies, params.get("oldest"), params.get("latest"), inclusive)
        cursor = params.get("cursor")
        if cursor:
            lo = max(lo, bisect.bisect_left(parent.replies, decode_cursor(str(cursor), "next_ts")))
        per_page = max(1, limit - 1)
        page = parent.replies[lo : min(hi, lo + per_page)]
        next_ts = parent.replies[lo + per_page] if hi - lo > per_page else None
        messages = [self.message_json(ch, parent)]
        messages += [self.message_json(ch, ch.messages[r]) for r in page]
        out: JSON = {"ok": True, "messages": messages, "has_more": next_ts is not None}
        if next_ts is not None:
            out["response_metadata"] = {"next_cursor": encode_cursor("next_ts", next_ts)}
        return out

    @staticmethod
    def _window(ts_list: list[str], oldest: Any, latest: Any, inclusive: bool) -> tuple[int, int]:
        """Index range of `ts_list` inside (oldest, latest), or [oldest, latest] if inclusive.

        Compared as microsecond integers so "1700000000.1" and "1700000000.100000" agree.
        """
        lo, hi = 0, len(ts_list)
        if oldest:
            key = us_to_ts(ts_to_us(str(oldest)))
            lo = (bisect.bisect_left if inclusive else bisect.bisect_right)(ts_list, key)
        if latest:
            key = us_to_ts(ts_to_us(str(latest)))
            hi = (bisect.bisect_right if inclusive else bisect.bisect_left)(ts_list, key)
        return lo, max(lo, hi)


def page_by_id(items: list[JSON], params: JSON, key: str, default_limit: int) -> JSON:
    """Cursor paging over a stable list (conversations.list, users.list)."""
    limit = _limit(params, default=default_limit or len(items) or 1, maximum=1000)
    start = 0
    cursor = params.get("cursor")
    if cursor:
        wanted = decode_cursor(str(cursor), "id")
        ids = [item["id"] for item in items]
        if wanted not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(wanted)
    page = items[start : start + limit]
    rest = items[start + limit : start + limit + 1]
    next_cursor = encode_cursor("id", rest[0]["id"]) if rest else ""
    # Unlike history, list methods always carry response_metadata, "" on the last page.
    return {"ok": True, key: page, "response_metadata": {"next_cursor": next_cursor}}


# --------------------------------------------------------------------------------------------
# Socket Mode


@dataclass
class _Delivery:
    """One event on its way to the app: delivered until acked or retries run out."""

    event_id: str
    payload: JSON
    attempt: int = 0
    reason: str = ""
    sent_at: float | None = None  # loop time of the last send; None means "due now"
    envelope_id: str = ""


class SocketHub:
    """Socket Mode connections, envelopes, acks and redelivery."""

    def __init__(
        self,
        notify: Callable[[], None],
        *,
        ack_timeout: float,
        max_retries: int,
        events_while_disconnected: Literal["retry", "drop"],
    ) -> None:
        self._notify = notify
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.events_while_disconnected = events_while_disconnected
        self.sockets: list[web.WebSocketResponse] = []
        self.opened = 0  # connections ever established (hello sent)
        self.tickets: set[str] = set()
        self.envelopes: list[JSON] = []  # every envelope sent, in order, for assertions
        self.acked: set[str] = set()
        self.received: list[JSON] = []  # every JSON frame the app sent us
        self.dropped: list[JSON] = []  # payloads whose retries ran out
        self._unacked: dict[str, _Delivery] = {}
        self._by_envelope: dict[str, str] = {}  # envelope_id -> event_id
        self._event_ids = itertools.count(1)
        self._rr = itertools.count()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # ---- lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._deliver_loop(), name="local-slack-deliveries")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in list(self.sockets):
            await ws.close(code=1001, message=b"server shutdown")
        self.sockets.clear()

    # ---- the websocket endpoint

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            # Socket Mode URLs are single use: a reused or made-up one is refused.
            raise web.HTTPUnauthorized(text="invalid ticket")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse(timeout=1.0)  # close handshake bound: stop() must be quick
        await ws.prepare(request)
        await ws.send_json(self._hello(request.query.get("app_id", "")))
        # Only now may envelopes flow: hello is always the first frame.
        self.sockets.append(ws)
        self.opened += 1
        self._changed()
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._on_frame(frame.data)
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
            self._changed()
        return ws

    def _hello(self, app_id: str) -> JSON:
        return {
            "type": "hello",
            "num_connections": len(self.sockets) + 1,
            "debug_info": {
                "host": "applink-local",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": app_id},
        }

    def _on_frame(self, data: str) -> None:
        try:
            frame = json.loads(data)
        except json.JSONDecodeError:
            return
        if not isinstance(frame, dict):
            return
        self.received.append(frame)
        envelope_id = frame.get("envelope_id")
        if isinstance(envelope_id, str):
            self.acked.add(envelope_id)
            event_id = self._by_envelope.get(envelope_id)
            if event_id is not None:
                self._unacked.pop(event_id, None)
            self._notify()

    def _changed(self) -> None:
        self._kick.set()
        self._notify()

    # ---- events in

    def emit(self, team_id: str, app_id: str, bot_user_id: str, event: JSON) -> str | None:
        """Queue an event_callback for delivery; returns its event_id (None if dropped)."""
        delivery = self._new_delivery(team_id, app_id, bot_user_id, event)
        if not self.sockets:
            if self.events_while_disconnected == "drop":
                self.dropped.append(delivery.payload)
                return None
            # Slack retries events it could not deliver, so an app that reconnects receives
            # them as retries, not as first deliveries. assumption: the reason string.
            delivery.attempt, delivery.reason = 1, "connection_failed"
        self._unacked[delivery.event_id] = delivery
        self._kick.set()
        return delivery.event_id

    def _new_delivery(self, team_id: str, app_id: str, bot_user_id: str, event: JSON) -> _Delivery:
        event_id = f"Ev0LOCAL{next(self._event_ids):08d}"
        payload = {
            "token": "local-verification-token",
            "team_id": team_id,
            "context_team_id": team_id,
            "api_app_id": app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(float(event.get("event_ts") or time.time())),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-local-{event_id}",
        }
        return _Delivery(event_id, payload)

    # ---- delivery

    async def _deliver_loop(self) -> None:
        while True:
            self._kick.clear()  # cleared before the scan, so a kick during it is not lost
            await self._deliver_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self._next_deadline())

    def _next_deadline(self) -> float | None:
        loop_now = asyncio.get_running_loop().time()
        pending = [d.sent_at for d in self._unacked.values() if d.sent_at is not None]
        if not pending:
            return None
        return max(0.0, min(pending) + self.ack_timeout - loop_now)

    async def _deliver_due(self) -> None:
        now = asyncio.get_running_loop().time()
        for delivery in list(self._unacked.values()):
            if delivery.sent_at is not None:
                if now - delivery.sent_at < self.ack_timeout:
                    continue
                if delivery.attempt >= self.max_retries:
                    del self._unacked[delivery.event_id]
                    self.dropped.append(delivery.payload)
                    continue
                delivery.attempt += 1
                delivery.reason = "timeout"
                delivery.sent_at = None
            if self.sockets:
                await self._send(delivery)

    async def _send(self, delivery: _Delivery) -> None:
        """Send `delivery` in a new envelope (a retry is a new envelope for the same event_id)."""
        envelope_id = str(uuid.uuid4())
        envelope: JSON = {
            "envelope_id": envelope_id,
            "payload": delivery.payload,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": delivery.attempt,
            "retry_reason": delivery.reason,
        }
        # Claim before awaiting so the delivery loop and send_out_of_order never double-send.
        delivery.sent_at = asyncio.get_running_loop().time()
        delivery.envelope_id = envelope_id
        self._by_envelope[delivery.envelope_id] = delivery.event_id
        if await self._send_frame(envelope):
            self.envelopes.append(envelope)
            self._notify()
        else:
            delivery.sent_at = None  # nobody got it: due again once a socket is there

    async def _send_frame(self, frame: JSON, ws: web.WebSocketResponse | None = None) -> bool:
        # Slack gives each envelope to one of the app's connections; round-robin is enough.
        target = ws or self._pick_socket()
        if target is None:
            return False
        try:
            await target.send_str(json.dumps(frame))
        except (ConnectionError, RuntimeError):
            if target in self.sockets:
                self.sockets.remove(target)
            return False
        return True

    def _pick_socket(self) -> web.WebSocketResponse | None:
        # An app may hold several Socket Mode connections and each envelope goes to one of
        # them (https://api.slack.com/apis/socket-mode, "Using multiple connections"); here in
        # turn, which is one of the orders Slack may use.
        live = [ws for ws in self.sockets if not ws.closed]
        return live[next(self._rr) % len(live)] if live else None

    # ---- test tools

    async def redeliver_all(self, *, unacked_only: bool = False) -> int:
        """Send every envelope sent so far again, byte for byte (same envelope_id)."""
        count = 0
        for envelope in list(self.envelopes):
            if unacked_only and envelope["envelope_id"] in self.acked:
                continue
            if await self._send_frame(envelope):
                count += 1
        return count

    async def send_out_of_order(
        self,
        team_id: str,
        app_id: str,
        bot_user_id: str,
        events: Sequence[JSON],
        order: Sequence[int] | None,
    ) -> list[str]:
        if not self.sockets:
            raise RuntimeError("send_out_of_order needs a connected Socket Mode client")
        deliveries = [self._new_delivery(team_id, app_id, bot_user_id, e) for e in events]
        for delivery in deliveries:
            delivery.sent_at = asyncio.get_running_loop().time()  # keep the loop's hands off
            self._unacked[delivery.event_id] = delivery
        sequence = list(order) if order is not None else list(reversed(range(len(events))))
        for index in sequence:
            await self._send(deliveries[index])
        self._kick.set()  # their ack deadlines are now the loop's business
        return [deliveries[i].envelope_id for i in sequence]

    async def disconnect_all(self, reason: str, close_after: float | None) -> int:
        frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-local"}}
        sockets = list(self.sockets)
        for ws in sockets:
            await self._send_frame(frame, ws)
            if close_after is not None and reason != "warning":
                # Slack drops the old connection shortly after asking for a refresh; a
                # well-behaved client has already moved to a new one by then.
                task = asyncio.create_task(self._close_later(ws, close_after))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return len(sockets)

    async def _close_later(self, ws: web.WebSocketResponse, delay: float) -> None:
        await asyncio.sleep(delay)
        if not ws.closed:
            await ws.close(code=1000, message=b"disconnected")


# --------------------------------------------------------------------------------------------
# the server


class LocalSlack:
    """A Slack workspace on 127.0.0.1 for slack-sdk's AsyncWebClient and SocketModeClient."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        ack_timeout: float = 3.0,
        max_retries: int = 3,
        events_while_disconnected: Literal["retry", "drop"] = "drop",
        start_ts: str = "1700000000.000100",
    ) -> None:
        """
        ack_timeout: seconds an envelope may stay unacked before it is retried (Slack: 3).
        max_retries: retries per event before it is given up and lands in `dropped`.
        events_while_disconnected: "drop" (default) forgets events raised while no client is
            connected, so test set-up posts do not flood a client that connects later;
            "retry" delivers them on the next connection as retries (retry_attempt=1), which
            is what Slack does for short outages.
        start_ts: the first ts handed out; later ones grow by 100 µs.
        """
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes: set[str] = set(scopes)
        self.workspace = Workspace(start_ts=start_ts)
        self.calls: list[tuple[str, JSON]] = []  # (method, params without token)
        # (HTTP verb, method, body content type or ""): how the client really sent each call.
        self.http_log: list[tuple[str, str, str]] = []
        self.posted: list[JSON] = []
        self._changed = asyncio.Event()
        self.hub = SocketHub(
            self._notify,
            ack_timeout=ack_timeout,
            max_retries=max_retries,
            events_while_disconnected=events_while_disconnected,
        )
        self._rate_every: int = 0
        self._rate_retry_after: int = 1
        self._rate_by_method: dict[str, tuple[int, int]] = {}
        self._count_all = 0
        self._count_by_method: dict[str, int] = {}
        self._methods: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
            "users.conversations": self._users_conversations,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "chat.postMessage": self._chat_post_message,
            "conversations.open": self._conversations_open,
            "apps.connections.open": self._apps_connections_open,
            "files.info": self._files_info,
        }
        self.files: dict[str, tuple[JSON, bytes]] = {}  # file id -> (file object, content)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link", self.hub.handle)
        app.router.add_get("/files-pri/{path:.*}", self._file_content)
        app.router.add_get("/link/", self.hub.handle)
        # A short shutdown_timeout: cleanup() must not wait a minute on a stuck request.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])  # port 0 above: the OS picked one
        self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def api_url(self) -> str:
        """Pass as AsyncWebClient(base_url=...); it must end in "/api/"."""
        return f"http://127.0.0.1:{self._port}/api/"

    # ---- identities

    @property
    def team_id(self) -> str:
        return self.workspace.team_id

    @property
    def app_id(self) -> str:
        return self.workspace.app_id

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.workspace.bot_id

    # ---- model helpers for tests

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        user_id: str | None = None,
    ) -> str:
        return self.workspace.add_user(
            name,
            real_name=real_name,
            email=email,
            is_bot=is_bot,
            deleted=deleted,
            user_id=user_id,
        )

    def add_channel(
        self,
        name: str,
        *,
        kind: ChannelKind = "public",
        members: Iterable[str] = (),
        bot_member: bool = True,
        is_archived: bool = False,
        channel_id: str | None = None,
    ) -> str:
        return self.workspace.add_channel(
            name,
            kind=kind,
            members=members,
            bot_member=bot_member,
            is_archived=is_archived,
            channel_id=channel_id,
        )

    def add_im(self, user: str) -> str:
        return self.workspace.add_im(user)

    # ---- files (https://api.slack.com/types/file, https://api.slack.com/methods/files.info)

    def add_file(self, name: str, mimetype: str, content: bytes) -> JSON:
        """A file a user shared; returns its file object, as a message's `files[]` lists it.

        `url_private` / `url_private_download` have Slack's shape
        (`https://files.slack.com/files-pri/T…-F…/name`, types/file) on this server's host."""
        file_id = f"F{len(self.files) + 1:08d}"
        base = f"http://127.0.0.1:{self._port}/files-pri/{self.team_id}-{file_id}"
        obj: JSON = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2],
            "size": len(content),
            "mode": "hosted",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
        }
        self.files[file_id] = (obj, content)
        return obj

    def _files_info(self, params: JSON) -> JSON:
        # files.info needs files:read and answers file_not_found for an unknown id
        # (https://api.slack.com/methods/files.info#errors).
        self._require_scope("files:read")
        found = self.files.get(str(params.get("file") or ""))
        if found is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": found[0]}

    async def _file_content(self, request: web.Request) -> web.Response:
        """A file's bytes for `Authorization: Bearer <token>` with files:read (types/file:
        "url_private ... requires an authorization header"). Without it Slack answers its
        sign-in page as HTML with status 200 (observed; the reason clients check the type)."""
        file_id = request.match_info["path"].partition("/")[0].rpartition("-")[2]
        auth = request.headers.get("Authorization", "")
        found = self.files.get(file_id)
        if found is None or auth != f"Bearer {self.bot_token}" or "files:read" not in self.scopes:
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        obj, content = found
        return web.Response(body=content, content_type=str(obj["mimetype"]))

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        *,
        broadcast: bool = False,
        ts: str | None = None,
        emit: bool = True,
        extra: JSON | None = None,
    ) -> str:
        """Add a message as `user`; unless emit=False, push its `message` event. Returns ts.

        `extra` fields are merged into the message JSON (None removes one, see message_json).
        """
        ch, msg = self.workspace.insert(
            channel, user, text, thread_ts=thread_ts, broadcast=broadcast, ts=ts, extra=extra
        )
        if emit:
            self._emit(self.workspace.message_event(ch, msg))
        return msg.ts

    def edit(self, channel: str, ts: str, text: str, *, emit: bool = True) -> str:
        """Change a message's text (sets `edited`); pushes `message_changed`. Returns its ts."""
        previous, message, edit_ts = self.workspace.edit(channel, ts, text)
        if emit:
            ch = self.workspace.channel(channel)
            self._emit(self.workspace.changed_event(ch, previous, message, edit_ts))
        return edit_ts

    def delete(self, channel: str, ts: str, *, emit: bool = True) -> str:
        """Delete a message; pushes `message_deleted`. Returns the deletion's ts."""
        previous, delete_ts = self.workspace.delete(channel, ts)
        if emit:
            ch = self.workspace.channel(channel)
            self._emit(self.workspace.deleted_event(ch, previous, delete_ts))
        return delete_ts

    def bulk_history(
        self,
        channel: str,
        n: int,
        *,
        threads_every: int = 0,
        replies: int = 0,
        users: Sequence[str] | None = None,
    ) -> list[str]:
        """Thousands of messages fast, without events. Returns top-level ts, oldest first."""
        return self.workspace.bulk_history(
            channel, n, threads_every=threads_every, replies=replies, users=users
        )

    def message(self, channel: str, ts: str) -> JSON:
        """A message as conversations.history/replies would show it."""
        ch = self.workspace.channel(channel)
        return self.workspace.message_json(ch, self.workspace.message(channel, ts))

    def event_for(self, channel: str, ts: str) -> JSON:
        """The `message` event for an existing message (for send_out_of_order)."""
        ch = self.workspace.channel(channel)
        return self.workspace.message_event(ch, self.workspace.message(channel, ts))

    def _emit(self, event: JSON) -> str | None:
        ws = self.workspace
        return self.hub.emit(ws.team_id, ws.app_id, ws.bot_user_id, event)

    # ---- rate limits and call log

    def rate_limit_every(self, n: int, retry_after: int = 1, *, method: str | None = None) -> None:
        """Answer every n-th call (n=0: none) with HTTP 429 and `Retry-After: retry_after`.

        With `method`, the rule and its counter apply to that method only and override the
        global rule for it. retry_after is an int because the SDK parses it with int().
        """
        if method is None:
            self._rate_every, self._rate_retry_after, self._count_all = n, retry_after, 0
        elif n:
            self._rate_by_method[method] = (n, retry_after)
            self._count_by_method[method] = 0
        else:
            self._rate_by_method.pop(method, None)

    def calls_to(self, method: str) -> list[JSON]:
        return [params for name, params in self.calls if name == method]

    def _rate_limited(self, method: str) -> int | None:
        """Retry-After seconds if this call is to be refused, else None."""
        self._count_all += 1
        self._count_by_method[method] = self._count_by_method.get(method, 0) + 1
        rule = self._rate_by_method.get(method)
        if rule is not None:
            every, retry_after = rule
            return retry_after if self._count_by_method[method] % every == 0 else None
        if self._rate_every and self._count_all % self._rate_every == 0:
            return self._rate_retry_after
        return None

    # ---- Socket Mode facade

    @property
    def connected(self) -> int:
        return len(self.hub.sockets)

    @property
    def opened(self) -> int:
        return self.hub.opened

    @property
    def acked(self) -> set[str]:
        return self.hub.acked

    @property
    def envelopes(self) -> list[JSON]:
        """Every envelope sent, in order (redeliver_all() repeats are not added again)."""
        return self.hub.envelopes

    @property
    def dropped(self) -> list[JSON]:
        """event_callback payloads never acked (retries ran out) or raised while disconnected."""
        return self.hub.dropped

    async def redeliver_all(self, *, unacked_only: bool = False) -> int:
        return await self.hub.redeliver_all(unacked_only=unacked_only)

    async def send_out_of_order(
        self, events: Sequence[JSON], order: Sequence[int] | None = None
    ) -> list[str]:
        """Send `events` (e.g. from event_for()) as envelopes in `order` (default: reversed).

        Returns the envelope ids in the order sent. The events are tracked like any other:
        unacked ones are retried.
        """
        ws = self.workspace
        return await self.hub.send_out_of_order(
            ws.team_id, ws.app_id, ws.bot_user_id, events, order
        )

    async def app_rate_limited(self) -> None:
        """Tell the app its events are being dropped: the `app_rate_limited` callback Slack sends
        past 30,000 events an hour per workspace (https://api.slack.com/apis/events-api
        #rate-limiting; its payload as documented there). assumption: over Socket Mode it comes
        in an `events_api` envelope like any callback."""
        ws = self.workspace
        payload = {
            "token": "local-verification-token",
            "type": "app_rate_limited",
            "team_id": ws.team_id,
            "minute_rate_limited": int(time.time()) // 60 * 60,
            "api_app_id": ws.app_id,
        }
        envelope = {
            "envelope_id": str(uuid.uuid4()),
            "type": "events_api",
            "payload": payload,
            "accepts_response_payload": False,
        }
        await self.hub._send_frame(envelope)

    async def disconnect_all(
        self, reason: str = "refresh_requested", *, close_after: float | None = 1.0
    ) -> int:
        """Send `disconnect` to every connection; close them after `close_after` seconds
        unless the client did first (never for reason="warning", which is only a notice)."""
        return await self.hub.disconnect_all(reason, close_after)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds; re-checked on every server change and every 20 ms
        (so predicates over the test's own state work too). Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(0.02, remaining))

    async def wait_connected(self, n: int = 1, *, timeout: float = 5.0) -> None:
        await self.wait_until(lambda: self.connected >= n, timeout)

    async def wait_opened(self, n: int, *, timeout: float = 5.0) -> None:
        """Wait until `n` connections have been established in total (reconnects count)."""
        await self.wait_until(lambda: self.opened >= n and self.connected >= 1, timeout)

    def _notify(self) -> None:
        # Wake every waiter once: set the current event and hand out a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    # ---- HTTP dispatch

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        # Before reading: can_read_body turns False once the body is consumed.
        body_type = request.content_type if request.can_read_body else ""
        self.http_log.append((request.method, method, body_type))
        try:
            params = await self._read_params(request)
        except SlackError as exc:
            return web.json_response(exc.body())
        token = self._token(request, params)
        self.calls.append((method, params))
        self._notify()
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method", req_method=method)
            self._authorize(method, token)
            retry_after = self._rate_limited(method)
            if retry_after is not None:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(retry_after)},
                )
            body = handler(params)
        except SlackError as exc:
            body = exc.body()
        except _HttpFailure as exc:  # chat.postMessage's 5xx after posting (delivery tests)
            return web.Response(status=exc.status, text="upstream error", content_type="text/html")
        return web.json_response(body, headers=self._scope_headers(token))

    @staticmethod
    async def _read_params(request: web.Request) -> JSON:
        """Query string, then form or JSON body on top: the SDK uses all of them."""
        params: JSON = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError as exc:
                raise SlackError("invalid_json") from exc
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    @staticmethod
    def _token(request: web.Request, params: JSON) -> str | None:
        # The SDK always sends the token as a Bearer header; Slack also takes a form field.
        body_token = params.pop("token", None)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ").strip()
        return str(body_token) if body_token else None

    def _authorize(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        if token not in (self.bot_token, self.app_token):
            raise SlackError("invalid_auth")
        wants_app_token = method in _APP_TOKEN_METHODS
        if (token == self.app_token) != wants_app_token:
            raise SlackError("not_allowed_token_type")

    def _scope_headers(self, token: str | None) -> dict[str, str]:
        # Slack names a token's granted scopes in the `x-oauth-scopes` header of Web API
        # answers (https://api.slack.com/authentication/oauth-v2), comma-separated with no
        # spaces, as in the response slack-sdk's docs record
        # (docs/english/tutorial/uploading-files.md: 'x-oauth-scopes': 'chat:write,files:read,
        # files:write'). `check-config --secrets` names the missing ones from it.
        if token != self.bot_token:
            return {}
        return {"X-OAuth-Scopes": ",".join(sorted(self.scopes))}

    def _require_scope(self, *needed: str) -> None:
        missing = [scope for scope in needed if scope not in self.scopes]
        if missing:
            provided = ",".join(sorted(self.scopes))
            raise SlackError("missing_scope", needed=",".join(missing), provided=provided)

    def _readable_channel(self, params: JSON, scopes: dict[ChannelKind, str]) -> Channel:
        """The channel named by params["channel"], if the bot may read it."""
        channel_id = params.get("channel")
        if not channel_id or str(channel_id) not in self.workspace.channels:
            raise SlackError("channel_not_found")
        ch = self.workspace.channels[str(channel_id)]
        self._require_scope(scopes[ch.kind])
        if self.bot_user_id not in ch.members:
            # Private conversations are invisible to non-members; public ones are visible
            # but their history is not.
            raise SlackError("not_in_channel" if ch.kind == "public" else "channel_not_found")
        return ch

    # ---- Web API methods

    def _auth_test(self, params: JSON) -> JSON:
        ws = self.workspace
        return {
            "ok": True,
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.team_name,
            "user": ws.users[ws.bot_user_id].name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def _conversations_list(self, params: JSON) -> JSON:
        types = [t.strip() for t in str(params.get("types") or "public_channel").split(",")]
        if any(t not in _TYPE_KIND for t in types):
            raise SlackError("invalid_types")
        kinds = {_TYPE_KIND[t] for t in types}
        self._require_scope(*sorted(_READ_SCOPE[k] for k in kinds))
        exclude_archived = _is_true(params.get("exclude_archived"))
        items = [
            self.workspace.channel_json(ch)
            for ch in self.workspace.channels.values()
            if ch.kind in kinds
            and (ch.kind == "public" or self.bot_user_id in ch.members)
            and not (exclude_archived and ch.is_archived)
        ]
        return page_by_id(items, params, "channels", default_limit=100)

    def _users_conversations(self, params: JSON) -> JSON:
        """users.conversations: only the conversations the calling user (our bot) is in, with
        the same `types`, `exclude_archived`, cursor paging and per-type read scopes as
        conversations.list (https://api.slack.com/methods/users.conversations). DMs are the
        bot's own (`im` with `user`)."""
        types = [t.strip() for t in str(params.get("types") or "public_channel").split(",")]
        if any(t not in _TYPE_KIND for t in types):
            raise SlackError("invalid_types")
        kinds = {_TYPE_KIND[t] for t in types}
        self._require_scope(*sorted(_READ_SCOPE[k] for k in kinds))
        exclude_archived = _is_true(params.get("exclude_archived"))
        items = [
            self.workspace.channel_json(ch)
            for ch in self.workspace.channels.values()
            if ch.kind in kinds
            and self.bot_user_id in ch.members
            and not (exclude_archived and ch.is_archived)
        ]
        return page_by_id(items, params, "channels", default_limit=100)

    def _conversations_history(self, params: JSON) -> JSON:
        ch = self._readable_channel(params, _HISTORY_SCOPE)
        return self.workspace.history_page(ch, params)

    def _conversations_replies(self, params: JSON) -> JSON:
        ch = self._readable_channel(params, _HISTORY_SCOPE)
        return self.workspace.replies_page(ch, params)

    def _conversations_info(self, params: JSON) -> JSON:
        channel_id = str(params.get("channel") or "")
        ch = self.workspace.channels.get(channel_id)
        if ch is None or (ch.kind != "public" and self.bot_user_id not in ch.members):
            raise SlackError("channel_not_found")
        self._require_scope(_READ_SCOPE[ch.kind])
        return {"ok": True, "channel": self.workspace.channel_json(ch)}

    def _users_info(self, params: JSON) -> JSON:
        self._require_scope("users:read")
        user = self.workspace.user(str(params.get("user") or ""))
        with_email = "users:read.email" in self.scopes
        return {"ok": True, "user": self.workspace.user_json(user, with_email=with_email)}

    def _users_list(self, params: JSON) -> JSON:
        self._require_scope("users:read")
        with_email = "users:read.email" in self.scopes
        members = [
            self.workspace.user_json(user, with_email=with_email)
            for user in self.workspace.users.values()
        ]
        page = page_by_id(members, params, "members", default_limit=0)
        page["cache_ts"] = int(time.time())
        return page

    def _conversations_open(self, params: JSON) -> JSON:
        """conversations.open with `users` (one user): the bot's DM with them, opened if need
        be (https://api.slack.com/methods/conversations.open; scope im:write)."""
        self._require_scope("im:write")
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("not_supported")  # a group DM: not imitated
        if users[0] not in self.workspace.users:
            raise SlackError("user_not_found")
        found = next(
            (c.id for c in self.workspace.channels.values() if c.im_user == users[0]), None
        )
        cid = found or self.workspace.add_im(users[0])
        return {"ok": True, "channel": {"id": cid}}

    # ---- chat.postMessage (delivery: failure modes after posting, deleted thread roots) ----

    def fail_posts_after_posting(self, n: int = 1, *, error: str = "fatal_error") -> None:
        """The next `n` chat.postMessage calls post the message, then answer with an error.

        Slack documents, for chat.postMessage (https://api.slack.com/methods/chat.postMessage,
        "Errors"): `fatal_error` "The server could not complete your operation(s) without
        encountering a catastrophic error. It's possible some aspect of the operation
        succeeded before the error was raised.", and `internal_error` "The server could not
        complete your operation(s) without encountering an error, likely due to a transient
        issue on our end. It's possible some aspect of the operation succeeded before the
        error was raised." `error` may also be "http_500" / "http_503": an HTTP 5xx with no
        JSON body, as a gateway in front of Slack answers.
        """
        self._post_failures = [error] * n

    def _chat_post_message(self, params: JSON) -> JSON:
        self._require_scope("chat:write")
        text = params.get("text")
        if not text and not params.get("blocks") and not params.get("attachments"):
            raise SlackError("no_text")
        ch = self._postable_channel(str(params.get("channel") or ""))
        thread_ts = self._live_thread_ts(ch, params.get("thread_ts") or None)
        extra: JSON = {k: params[k] for k in ("blocks", "attachments", "metadata") if k in params}
        ch, msg = self.workspace.insert(
            ch.id,
            self.bot_user_id,
            str(text or ""),
            thread_ts=thread_ts,
            broadcast=_is_true(params.get("reply_broadcast")),
            extra=extra,
        )
        self.posted.append(
            {"channel": ch.id, "text": msg.text, "thread_ts": msg.thread_ts, "ts": msg.ts}
        )
        # Slack echoes the app's own posts as events (with bot_id); apps must skip them.
        self._emit(self.workspace.message_event(ch, msg))
        failures = getattr(self, "_post_failures", [])
        if failures:  # posted all the same: see fail_posts_after_posting
            error = failures.pop(0)
            if error.startswith("http_"):
                raise _HttpFailure(int(error.removeprefix("http_")))
            raise SlackError(error)
        message = self.workspace.message_json(ch, msg)
        return {"ok": True, "channel": ch.id, "ts": msg.ts, "message": message}

    @staticmethod
    def _live_thread_ts(ch: Channel, thread_ts: object) -> str | None:
        """The thread a reply joins; None when `thread_ts` names no message any more.

        A root deleted without replies is gone (a root with replies stays as a tombstone), and
        Slack then posts a `thread_ts` reply as a new top-level message in the channel instead
        of rejecting it: observed against real Slack (issues 14 and 16 of this project: "a
        Slack reply to a question the customer deleted ... lands top-level in the channel");
        the chat.postMessage docs list no error for a `thread_ts` that names no message.
        """
        if not thread_ts:
            return None
        key = us_to_ts(ts_to_us(str(thread_ts)))
        return key if key in ch.messages else None

    def _postable_channel(self, channel: str) -> Channel:
        ch = self.workspace.channel(channel)
        if ch.kind != "public" and self.bot_user_id not in ch.members:
            raise SlackError("channel_not_found")
        if ch.is_archived:
            raise SlackError("is_archived")
        if self.bot_user_id not in ch.members and "chat:write.public" not in self.scopes:
            raise SlackError("not_in_channel")
        return ch

    def _apps_connections_open(self, params: JSON) -> JSON:
        ticket = str(uuid.uuid4())
        self.hub.tickets.add(ticket)
        url = f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"
        return {"ok": True, "url": url}
