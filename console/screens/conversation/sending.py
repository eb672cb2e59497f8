"""What the composer hands in: a note is saved, a reply queued to the recipients shown."""

from __future__ import annotations

from rich.text import Text

from console.actions import send_reply
from console.guard import store_write
from console.recipients import BadAddress
from console.render import safe_line
from console.screens.confirm import ConfirmScreen
from console.screens.conversation.view import ConversationView, Recipients
from console.widgets.composer import Composer
from console.widgets.thread_view import ThreadView


class Sending(ConversationView):
    """The composer handed in: a note saved, a reply checked for collisions and queued."""

    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        self._submit(event.mode, event.text, close=False)

    def action_send_and_close(self) -> None:
        if self.composer.is_open and self.composer.mode == "reply":
            self._submit("reply", self.composer.editor.text, close=True)

    @store_write
    def _submit(self, mode: str, raw: str, *, close: bool) -> None:
        text = raw.strip()
        if not text:
            self.notify("Nothing to send: the message is empty", severity="warning")
            return
        if mode == "note":
            self.store.add_note(self.conversation_id, self.session.agent_name, text)
            self._save_draft("note", "")
            self._composer_done()
            return
        try:
            recipients = self.composer.recipients() if self.composer.has_recipients else None
        except BadAddress as exc:
            self.notify(str(exc), title="Not sent", severity="error")
            return
        collision = self._collision()
        if collision is not None:
            seen = self.store.last_message_id(self.conversation_id)
            self.app.push_screen(
                ConfirmScreen(collision, "Send anyway"),
                lambda yes: self._after_confirm(bool(yes), text, close, seen, recipients),
            )
            return
        self._send(text, close, recipients)

    def _after_confirm(
        self, yes: bool, text: str, close: bool, seen: int, recipients: Recipients | None
    ) -> None:
        """What the warning showed is now seen; anything newer warns again at the next send."""
        if yes:
            self._send(text, close, recipients)
        else:
            self.reply_base = max(self.reply_base, seen)
            self.composer.editor.focus()

    def _collision(self) -> Text | None:
        """What the agent has not seen: new messages, or a colleague replying too."""
        newer = self.store.messages_after(self.conversation_id, self.reply_base)
        replying = [
            p.agent
            for p in self.store.others_present(self.conversation_id, self.session.agent_name)
            if p.state == "replying"
        ]
        if not newer and not replying:
            return None
        text = Text("Before you send:\n\n", style="bold")
        for message in newer:
            who = "a colleague replied" if message.direction == "out" else "the customer wrote"
            text.append_text(Text.assemble(f"• {who} (", safe_line(message.author_name), "):\n"))
            text.append_text(safe_line(message.text[:300], "italic"))
            text.append("\n")
        for agent in replying:
            text.append_text(Text.assemble("• ", safe_line(agent, "bold"), " is replying now\n"))
        return text

    def _send(self, text: str, close: bool, recipients: Recipients | None) -> None:
        """Queue the reply addressed to exactly the recipients the composer showed."""
        headers: dict[str, object] | None = None
        if recipients is not None:
            headers = {field: [list(pair) for pair in pairs] for field, pairs in recipients.items()}
        delay = self.session.send_delay
        message_id = send_reply(
            self.store,
            self.conversation_id,
            agent_name=self.session.agent_name,
            agent_email=self.session.me,
            text=text,
            close=close,
            headers=headers,
            send_delay=delay,
        )
        if delay > 0:
            self.actions.queued(self.conversation_id, message_id)
        self._save_draft("reply", "")
        when = f"goes out in {delay:g} s · {self._key('action.undo', 'u')} takes it back"
        queued = "Reply queued: " + (when if delay > 0 else "the outbox sends it")
        self.notify(queued + (" · closed" if close else ""), timeout=max(3.0, delay))
        self._composer_done()
        self.advance()

    def _composer_done(self) -> None:
        self.composer.close()
        self.query_one(ThreadView).focus()
        self.refresh_data()
        self._show_drafts()
        self._heartbeat()

    @store_write
    def on_composer_left(self, event: Composer.Left) -> None:
        self._save_draft(event.mode, event.text)
        if event.text.strip():
            self.notify(f"{event.mode.capitalize()} draft kept", timeout=2)
        self.composer.close()
        self.query_one(ThreadView).focus()
        self._show_drafts()
        self._heartbeat()
