"""Slack messages, users and channels as the store's records.

A Slack thread is one conversation: every message is keyed `channel:ts`, which is also its
`thread_ref`, and a reply points at `channel:thread_ts`. Top-level messages from one person in
one channel (or DM) are grouped by the store within the account's window (`group_key` is the
channel). The store records which rule joined each message.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.slack.text import attachments, message_text
from storage.models import Direction, IdentityRef, InboundMessage
from storage.sanitize import clean_line

JSON = dict[str, Any]
SLACKBOT = "USLACKBOT"
# Slack user ids: U… for workspace members, W… for Enterprise Grid users.
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")
# What people write: plain messages, files, /me, replies also sent to the channel. Everything
# else (joins, topics, huddles, canvases, workflow and integration posts, permission notices,
# channel conversions, `bot_message`...) is housekeeping or a machine: never a conversation.
# https://api.slack.com/events/message#subtypes
CUSTOMER_SUBTYPES = frozenset({None, "file_share", "me_message", "thread_broadcast"})
# Our own posts come back with these (chat.postMessage as the bot user, or legacy bot posts).
OWN_SUBTYPES = CUSTOMER_SUBTYPES | {"bot_message"}


def unnamed(user_id: str) -> str:
    """The name shown for a user Slack would not describe (`user_not_visible`, a lookup that
    failed): the id, until a later run learns the name (connectors/slack/people.py)."""
    return f"Slack user {user_id}"


def ts_us(ts: str) -> int:
    """A Slack ts as integer microseconds: ts strings only sort right with equal shapes, and
    floats lose the last digits of a ts."""
    seconds, _, micros = ts.partition(".")
    return int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6])


def remote_id(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


@dataclass(frozen=True, slots=True)
class SlackUser:
    id: str
    name: str
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False

    @classmethod
    def from_json(cls, data: JSON) -> SlackUser:
        profile = data.get("profile") or {}
        name = (
            profile.get("real_name")
            or data.get("real_name")
            or profile.get("display_name")
            or data.get("name")
            or data["id"]
        )
        email = profile.get("email")  # present only with the users:read.email scope
        return cls(
            id=str(data["id"]),
            name=clean_line(str(name))[:120],
            email=str(email).strip().lower() if email else None,
            is_bot=bool(data.get("is_bot")) or data["id"] == SLACKBOT,
            deleted=bool(data.get("deleted")),
        )

    def ref(self) -> IdentityRef:
        return IdentityRef("slack", self.id, self.name)


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    name: str
    is_im: bool = False
    im_user: str | None = None  # the person at the other end of a DM
    is_member: bool = True

    @classmethod
    def from_json(cls, data: JSON) -> ChannelInfo:
        is_im = bool(data.get("is_im"))
        return cls(
            id=str(data["id"]),
            name=clean_line(str(data.get("name") or data.get("user") or data["id"])),
            is_im=is_im,
            im_user=str(data["user"]) if is_im and data.get("user") else None,
            is_member=is_im or bool(data.get("is_member", True)),
        )


@dataclass(frozen=True, slots=True)
class Me:
    """Our bot: its posts come back to us (events, history) and are outbound messages."""

    user_id: str
    bot_id: str

    def wrote(self, msg: JSON) -> bool:
        return msg.get("bot_id") == self.bot_id or msg.get("user") == self.user_id


def is_reply(msg: JSON) -> bool:
    thread_ts = msg.get("thread_ts")
    return bool(thread_ts) and thread_ts != msg.get("ts")


def thread_parents(messages: list[JSON]) -> list[tuple[str, str | None]]:
    """(ts, latest_reply) of the thread parents among `messages`."""
    return [
        (str(m["ts"]), m.get("latest_reply"))
        for m in messages
        if m.get("reply_count") and m.get("thread_ts") == m.get("ts")
    ]


def user_ids(msg: JSON) -> set[str]:
    """The users to look up to store and show `msg`: author, thread starter, mentions."""
    found = {str(msg[k]) for k in ("user", "parent_user_id") if msg.get(k)}
    texts = [msg.get("text")]
    for item in msg.get("attachments") or ():  # a forwarded message: its author, its mentions
        if isinstance(item, dict):
            if item.get("author_id"):
                found.add(str(item["author_id"]))
            texts += [item.get(k) for k in ("text", "pretext")]
    for text in texts:
        if isinstance(text, str) and "<@" in text:
            found.update(_MENTION.findall(text))
    if not msg.get("text"):  # shown from its blocks: the people they mention
        found.update(_block_users(msg.get("blocks")))
    return found


def _block_users(node: object) -> set[str]:
    """The `user_id` of every rich-text user element in Block Kit blocks."""
    if isinstance(node, list):
        return set().union(*(_block_users(n) for n in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = {str(node["user_id"])} if node.get("type") == "user" and node.get("user_id") else set()
    return found | _block_users(node.get("elements"))


class Mapper:
    """Slack message JSON to `InboundMessage`, given the users already looked up."""

    def __init__(
        self,
        account_id: int,
        me: Me,
        group_window: float,
        users: Mapping[str, SlackUser | None],
        channels: Mapping[str, ChannelInfo],
        accept_bots: Collection[str] = (),
    ) -> None:
        self.account_id = account_id
        self.me = me
        self.group_window = group_window
        self.users = users
        self.channels = channels
        self.accept_bots = frozenset(accept_bots)

    def user_name(self, user_id: str) -> str | None:
        user = self.users.get(user_id)
        return user.name if user else None

    def channel_name(self, channel_id: str) -> str | None:
        channel = self.channels.get(channel_id)
        return channel.name if channel else None

    def accepts(self, msg: JSON) -> bool:
        """True for what a person wrote (or a bot the account accepts), and for our posts."""
        subtype = msg.get("subtype")
        if not msg.get("ts"):
            return False
        if self.me.wrote(msg):
            return subtype in OWN_SUBTYPES
        bot_id = msg.get("bot_id")
        if bot_id:  # another app (with or without a bot user) or a legacy integration
            return str(bot_id) in self.accept_bots and subtype in OWN_SUBTYPES
        return subtype in CUSTOMER_SUBTYPES and msg.get("user") != SLACKBOT

    def inbound(self, channel: ChannelInfo, msg: JSON) -> InboundMessage | None:
        """The message to store, or None for housekeeping, machines and our own top-level
        posts nobody answered.

        A thread root that is not itself a customer message (a tombstone, our own post, a bot
        alert) is kept as the thread's anchor when people replied to it: its replies then stay
        one conversation, whose customer is the first person who replied.
        """
        if not msg.get("ts"):
            return None
        if not self.accepts(msg):
            return self._anchor(channel, msg)
        ours = self.me.wrote(msg)
        author = self._author(msg)
        customer = self._customer(channel, msg, author, ours)
        if customer is None:
            return self._anchor(channel, msg)
        return self._record(channel, msg, author, customer, "out" if ours else "in")

    def _anchor(self, channel: ChannelInfo, msg: JSON) -> InboundMessage | None:
        replier = self._first_replier(msg)
        if replier is None or is_reply(msg):
            return None
        direction: Direction = "out" if self.me.wrote(msg) else "in"
        return self._record(channel, msg, self._author(msg), self._person(replier), direction)

    def _first_replier(self, msg: JSON) -> str | None:
        if not msg.get("reply_count") or msg.get("thread_ts") != msg.get("ts"):
            return None
        for user_id in msg.get("reply_users") or ():
            if self._is_person(str(user_id)):
                return str(user_id)
        return None

    def _is_person(self, user_id: str) -> bool:
        if user_id in (self.me.user_id, SLACKBOT):
            return False
        user = self.users.get(user_id)
        return user is None or not user.is_bot

    def _record(
        self,
        channel: ChannelInfo,
        msg: JSON,
        author: IdentityRef,
        customer: IdentityRef,
        direction: Direction,
    ) -> InboundMessage:
        ts = str(msg["ts"])
        key = remote_id(channel.id, ts)
        reply = is_reply(msg)
        headers: dict[str, object] = {"slack_channel": channel.id, "slack_ts": ts}
        if reply:
            headers["slack_thread_ts"] = msg["thread_ts"]
        return InboundMessage(
            account_id=self.account_id,
            remote_id=key,
            channel="slack",
            direction=direction,
            author=author,
            customer=customer,
            sent_at=ts_us(ts) / 1_000_000,
            text=self._text(msg, author),
            thread_ref=key,
            parent_refs=(remote_id(channel.id, str(msg["thread_ts"])),) if reply else (),
            group_key="" if reply else channel.id,
            group_window=0.0 if reply else self.group_window,
            headers=headers,
            attachments=attachments(msg.get("files") or []),
        )

    def _text(self, msg: JSON, author: IdentityRef) -> str:
        text = message_text(msg, self.user_name, self.channel_name)
        if msg.get("subtype") == "me_message":  # "/me waves" reads "Alice waves" in Slack
            return f"{author.display_name} {text}"
        return text

    def _author(self, msg: JSON) -> IdentityRef:
        user_id = msg.get("user")
        if user_id:
            return self._person(str(user_id))
        # Integrations post as a bot with no user: name them by their bot profile.
        bot_id = str(msg.get("bot_id") or "unknown")
        name = msg.get("username") or (msg.get("bot_profile") or {}).get("name") or bot_id
        return IdentityRef("slack", bot_id, clean_line(str(name)))

    def _person(self, user_id: str) -> IdentityRef:
        user = self.users.get(user_id)
        return user.ref() if user else IdentityRef("slack", user_id, unnamed(user_id))

    def _customer(
        self, channel: ChannelInfo, msg: JSON, author: IdentityRef, ours: bool
    ) -> IdentityRef | None:
        """Whose conversation this is: the thread's starter, the DM's other end, the author."""
        starter = msg.get("parent_user_id")
        if is_reply(msg) and starter and self._is_person(str(starter)):
            return self._person(str(starter))
        if not ours:
            return author
        if channel.im_user:
            return self._person(channel.im_user)
        # Our own post: in a thread it joins by its parent, whoever the customer is; a
        # top-level post of ours in a channel is nobody's support conversation.
        return author if is_reply(msg) else None
