"""Agent actions on one or many conversations, each undoable by one `u`.

Screens call these instead of the store directly, so every action — from the queue, from a
conversation, in bulk or in a macro — snapshots what it changes and records who did it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from console.canned import SURVEY_MARK
from storage.message_ids import queued_key
from storage.store import Store
from storage.thread_edits import Edit
from storage.undo import Snapshot


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
    send_delay: float = 0.0,
) -> int:
    """Queue an agent's reply in the outbox (the sync delivers it): ctrl+s in the composer and
    `frontdesk reply` both come here. `to`/`cc`, when given, address an email reply instead
    of the thread's own recipients (connectors/smtp.py); `headers` carries the composer's
    exact recipients ("to", "cc", "bcc" as [name, address] pairs). `send_delay` (undo send):
    seconds the reply waits before it is due, while `Store.take_back` can still take it.
    The reply's Message-ID is the email connector's (connectors/email/message_id.py), not
    made here: `agent_email` is no longer used (kept for the callers). Returns the message's
    id."""
    headers = dict(headers or {})
    if to:
        headers["to"] = [["", address] for address in to]
    if cc:
        headers["cc"] = [["", address] for address in cc]
    return store.queue_reply(
        conversation_id,
        agent_name,
        text,
        remote_id=queued_key(),  # until the channel names it (storage/message_ids.py)
        close=close,
        headers=headers or None,
        send_delay=send_delay,
        survey_at=SURVEY_MARK,  # a canned reply's `{{ survey }}`
    )


@dataclass(frozen=True)
class SentReply:
    """A reply this console queued: what "undo send" may take back while it waits."""

    conversation_id: int
    message_id: int


@dataclass
class Actions:
    store: Store
    agent_name: str
    agent_email: str
    last: Snapshot | Edit | None = field(default=None)
    sent: SentReply | None = field(default=None)  # the newest reply queued from here
    _later: bool = field(default=False)  # `last` was recorded after `sent` was queued

    def queued(self, conversation_id: int, message_id: int) -> None:
        """A reply queued from here with a send delay: "undo send" may take it back."""
        self.sent = SentReply(conversation_id, message_id)
        self._later = False

    def _record(self, last: Snapshot | Edit) -> None:
        self.last = last
        self._later = self.sent is not None

    def takeable(self) -> tuple[SentReply, float] | None:
        """The reply queued from here that still waits out its send delay, and when it goes."""
        if self.sent is None:
            return None
        found = self.store.takeable_reply(self.sent.conversation_id)
        if found is None:  # gone out (or taken back elsewhere): nothing to watch any more
            self.sent = None
            return None
        if found[0] != self.sent.message_id:
            return None
        return self.sent, found[1]

    def take_back(self) -> tuple[SentReply, str] | None:
        """Undo send: cancel that reply and return it with its text; None when too late."""
        if self.takeable() is None or self.sent is None:
            return None
        sent, self.sent = self.sent, None
        text = self.store.take_back(sent.message_id, self.agent_name)
        if text is not None and self._later:
            # The conversation is back as it was before the reply: an action taken since
            # would "undo" to a state that had the reply in it.
            self.last = None
        return None if text is None else (sent, text)

    def _apply(self, label: str, ids: Sequence[int], change: Callable[[int], object]) -> None:
        snapshot = self.store.snapshot(label, ids)
        for conversation_id in ids:
            change(conversation_id)
        self._record(snapshot)

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
        self._record(snapshot)

    def split(self, message_id: int) -> Edit:
        """Split a conversation at a message (ValueError/KeyError: nothing changed)."""
        edit = self.store.split_conversation(message_id, self.agent_name)
        self._record(edit)
        return edit

    def merge(self, source: int, target: int) -> Edit:
        """Merge `source` into `target` (ValueError/KeyError: nothing changed)."""
        edit = self.store.merge_conversations(source, target, self.agent_name)
        self._record(edit)
        return edit

    def undo(self) -> str | None:
        """Revert the last action; returns its label, or None when there is nothing to undo.
        ValueError when a split or merge can no longer be undone (later mail moved on)."""
        if self.last is None:
            return None
        last, self.last = self.last, None
        if isinstance(last, Edit):
            self.store.undo_thread_edit(last, self.agent_name)
            return last.kind
        self.store.restore(last, self.agent_name)
        return last.label
