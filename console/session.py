"""What the screens and macros need from the running console, handed to them by the app (the
composition root) instead of reached for through `self.app`: the store, the undo-able actions,
who is signed in, the team, the clock, the agent's console settings, and the two moves only the
app can make (open a conversation over the queue, ask before quitting).

The app owns the one `Session`; changing a setting on the app (`app.advance = "stay"`) changes
it here, so every screen sees it at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from console.actions import Actions
from storage.store import Store

Advance = Literal["next", "stay", "queue"]


class OpenConversation(Protocol):
    def __call__(
        self, conversation_id: int, *, canned: bool = False, reply: bool = False
    ) -> None: ...


@dataclass
class Session:
    store: Store
    actions: Actions
    agent_name: str
    me: str  # the signed-in agent's address
    agents: list[tuple[str, str]]  # (name, email) of everyone a conversation can be assigned to
    clock: Callable[[], float]
    open_conversation: OpenConversation
    ask_quit: Callable[[], None]
    keys: Mapping[str, str] = field(default_factory=dict)  # `[keys]`: binding id -> keys
    own_addresses: list[str] = field(default_factory=list)  # our mailboxes: never a recipient
    advance: Advance = "next"  # after close, snooze or send: "next", "stay" or "queue"
    send_delay: float = 0.0  # undo send: seconds a reply waits; 0 = at once
