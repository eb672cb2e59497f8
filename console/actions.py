"""Agent actions on one or many conversations, each undoable by one `u`.

Screens call these instead of the store directly, so every action — from the queue, from a
conversation, in bulk or in a macro — snapshots what it changes and records who did it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid

from console.canned import SURVEY_MARK
from storage.store import Store
from storage.undo import Snapshot


def reply_message_id(agent_email: str) -> str:
    """A fresh Message-ID for a reply (also its key in the store, so the Sent copy dedupes)."""
    return make_msgid(domain=agent_email.rsplit("@", 1)[-1] or "frontdesk.local")


def send_reply(
    store: Store,
    conversation_id: int,
    *,
    agent_name: str,
    agent_email: str,
    text: str,
    close: bool = False,
    to: Sequence[str] = (),
    cc: Sequence[str] = (),
    headers: dict[str, object] | None = None,
) -> int:
    """Queue an agent's reply in the outbox (the sync delivers it): ctrl+s in the composer and
    `frontdesk reply` both come here. `to`/`cc`, when given, address an email reply instead
    of the thread's own recipients (connectors/smtp.py); `headers` carries the composer's
    exact recipients ("to", "cc", "bcc" as [name, address] pairs). Returns the message's id."""
    headers = dict(headers or {})
    if to:
        headers["to"] = [["", address] for address in to]
    if cc:
        headers["cc"] = [["", address] for address in cc]
    return store.queue_reply(
        conversation_id,
        agent_name,
        text,
        remote_id=reply_message_id(agent_email),
        close=close,
        headers=headers or None,
        survey_at=SURVEY_MARK,  # a canned reply's `{{ survey }}`
    )


@dataclass
class Actions:
    store: Store
    agent_name: str
    agent_email: str
    last: Snapshot | None = field(default=None)

    def _apply(self, label: str, ids: Sequence[int], change: Callable[[int], object]) -> None:
        snapshot = self.store.snapshot(label, ids)
        for conversation_id in ids:
            change(conversation_id)
        self.last = snapshot

    def close(self, ids: Sequence[int]) -> None:
        self._apply("close", ids, lambda c: self.store.close_conversation(c, self.agent_name))

    def reopen(self, ids: Sequence[int]) -> None:
        self._apply("reopen", ids, lambda c: self.store.reopen(c, self.agent_name))

    def assign(self, ids: Sequence[int], assignee: str | None) -> None:
        self._apply("assign", ids, lambda c: self.store.assign(c, self.agent_name, assignee))

    def tag(self, ids: Sequence[int], name: str, on: bool) -> None:
        label = f"{'tag' if on else 'untag'} {name}"
        self._apply(label, ids, lambda c: self.store.tag([c], self.agent_name, name, on))

    def snooze(
        self, ids: Sequence[int], until: float, *, wake_on_reply: bool, note: str | None
    ) -> None:
        def one(conversation_id: int) -> None:
            self.store.snooze(
                conversation_id, self.agent_name, until, wake_on_reply=wake_on_reply, note=note
            )

        self._apply("snooze", ids, one)

    def group(self, label: str, ids: Sequence[int], steps: Callable[[], None]) -> None:
        """Several actions (a macro) undone together."""
        snapshot = self.store.snapshot(label, ids)
        steps()
        self.last = snapshot

    def undo(self) -> str | None:
        """Revert the last action; returns its label, or None when there is nothing to undo."""
        if self.last is None:
            return None
        snapshot, self.last = self.last, None
        self.store.restore(snapshot, self.agent_name)
        return snapshot.label
