"""Undo send and held replies (issue 14): a reply that did not go out comes back as text."""

from __future__ import annotations

from console.guard import store_write
from console.screens.conversation.view import ConversationView
from console.screens.workflow import keep_taken_back


class HeldReplies(ConversationView):
    """Undo send and held replies: a reply taken back lands in the composer."""

    def reply_taken_back(self, conversation_id: int) -> None:
        """Undo send: the reply's text is the agent's reply draft now: show it in the composer."""
        if conversation_id != self.conversation_id:
            self.load(conversation_id)
        else:
            self.composer.close()  # the draft read next holds what was in it
        self.refresh_data()
        self._show_takeable()
        self._open_composer("reply")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The held-reply choices are there (and in the footer) only when a reply is held."""
        if action in ("post_held", "dm_held"):
            return bool(self._held) and self._can_post_in_channel(self._held[0])
        if action == "cancel_held":
            return bool(self._held)
        return True

    @store_write
    def action_post_held(self) -> None:
        if not self._held:
            return
        item = self.store.outbox_item(self._held[0].outbox_id)
        if self.store.post_held_in_channel(item.message_id, self.session.agent_name):
            self.notify("The reply goes to the channel as a new message", timeout=3)
        else:
            self.notify("That reply is no longer held", severity="warning")
        self.refresh_data()

    @store_write
    def action_dm_held(self) -> None:
        if not self._held:
            return
        item = self.store.outbox_item(self._held[0].outbox_id)
        if self.store.send_held_as_dm(item.message_id, self.session.agent_name):
            self.notify("The reply goes to the customer as a direct message", timeout=3)
        else:
            self.notify("That reply is no longer held", severity="warning")
        self.refresh_data()

    @store_write
    def action_cancel_held(self) -> None:
        if not self._held:
            return
        item = self.store.outbox_item(self._held[0].outbox_id)
        text = self.store.take_back(item.message_id, self.session.agent_name)
        if text is None:
            self.notify("That reply is no longer held", severity="warning")
            self.refresh_data()
            return
        keep_taken_back(self.store, self.conversation_id, self.agent, text)
        self.notify("Held reply cancelled: its text is in the composer", timeout=4)
        self.reply_taken_back(self.conversation_id)
