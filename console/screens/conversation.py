"""One conversation: the thread, the customer's context, the composer."""

from __future__ import annotations

from collections.abc import Callable
from email.utils import make_msgid

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.render import safe_line
from console.widgets.composer import Composer
from console.widgets.context_panel import ContextPanel
from console.widgets.thread_view import ThreadView
from storage.models import ConversationDetail
from storage.store import Store

Step = Callable[[int], int | None]


class ConversationScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back", id="conversation.back", tooltip="Back to the queue"),
        Binding("r", "reply", "Reply", id="conversation.reply", tooltip="Write a reply"),
        Binding(
            "n",
            "note",
            "Note",
            id="conversation.note",
            tooltip="Write an internal note (never sent)",
        ),
        Binding(
            "e",
            "close_conversation",
            "Close",
            id="conversation.close",
            tooltip="Close the conversation",
        ),
        Binding(
            "o", "reopen", "Reopen", id="conversation.reopen", tooltip="Reopen the conversation"
        ),
        Binding(
            "A",
            "assign_me",
            "Assign me",
            id="conversation.assign_me",
            tooltip="Assign the conversation to me",
        ),
        Binding(
            "J",
            "step(1)",
            "Next",
            id="conversation.next",
            tooltip="Open the next conversation in the queue",
        ),
        Binding(
            "K",
            "step(-1)",
            "Previous",
            id="conversation.previous",
            tooltip="Open the previous conversation in the queue",
        ),
    ]

    def __init__(
        self,
        store: Store,
        conversation_id: int,
        *,
        agent_name: str,
        agent_email: str,
        step: Step | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.conversation_id = conversation_id
        self.agent_name = agent_name
        self.agent_email = agent_email
        self._step = step
        self.detail: ConversationDetail | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="conversation-main"):
                yield Static(id="conversation-title")
                yield ThreadView(id="thread")
                yield Composer(id="composer")
            yield ContextPanel(id="context")
        yield Footer()

    def on_mount(self) -> None:
        self.load(self.conversation_id)

    def load(self, conversation_id: int) -> None:
        """Show a conversation (also used to move to another one in place)."""
        self._keep_draft()
        self.conversation_id = conversation_id
        self.store.mark_read(conversation_id)
        self._show(self.store.detail(conversation_id))
        self.query_one(Composer).close()
        self.query_one(ThreadView).focus()
        if self.store.draft(conversation_id):
            self.action_reply()

    def _show(self, detail: ConversationDetail, *, keep_scroll: bool = False) -> None:
        self.detail = detail
        title = Text.assemble(
            (f" {detail.conversation.channel} ", "reverse"),
            " ",
            safe_line(detail.conversation.subject, "bold"),
            (f"  #{detail.conversation.id} · {detail.conversation.status}", "dim"),
        )
        self.query_one("#conversation-title", Static).update(title)
        self.query_one(ThreadView).show(detail, keep_scroll=keep_scroll)
        self.query_one(ContextPanel).show(detail, self.app_clock())

    def app_clock(self) -> float:
        clock = getattr(self.app, "clock", None)
        return clock() if callable(clock) else 0.0

    def refresh_data(self) -> None:
        """Another process changed the store: re-read, keep the reader's place."""
        self._show(self.store.detail(self.conversation_id), keep_scroll=True)

    # actions ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self._keep_draft()
        self.dismiss()

    def action_reply(self) -> None:
        assert self.detail is not None
        who = safe_line(self.detail.contact.name, "bold")
        label = Text.assemble(
            "Reply to ",
            who,
            f" via {self.detail.conversation.channel}",
            (" · ctrl+s send · esc leave (draft kept)", "dim"),
        )
        self.query_one(Composer).open("reply", label, self.store.draft(self.conversation_id))

    def action_note(self) -> None:
        label = Text.assemble(
            ("Internal note", "bold yellow"), (" · never sent to the customer · ctrl+s save", "dim")
        )
        self.query_one(Composer).open("note", label)

    def action_close_conversation(self) -> None:
        self.store.close_conversation(self.conversation_id, self.agent_name)
        self.refresh_data()

    def action_reopen(self) -> None:
        self.store.reopen(self.conversation_id, self.agent_name)
        self.refresh_data()

    def action_assign_me(self) -> None:
        self.store.assign(self.conversation_id, self.agent_name, self.agent_email)
        self.refresh_data()

    def action_step(self, step: int) -> None:
        target = self._step(step) if self._step else None
        if target is None:
            self.notify("No more conversations in this view", severity="warning")
            return
        self.load(target)

    # composer -----------------------------------------------------------------------------

    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        text = event.text.strip()
        if not text:
            self.notify("Nothing to send: the message is empty", severity="warning")
            return
        if event.mode == "note":
            self.store.add_note(self.conversation_id, self.agent_name, text)
        else:
            self._send(text)
        self.query_one(Composer).close()
        self.query_one(ThreadView).focus()
        self.refresh_data()

    def _send(self, text: str) -> None:
        domain = self.agent_email.rsplit("@", 1)[-1] or "frontdesk.local"
        self.store.queue_reply(
            self.conversation_id, self.agent_name, text, remote_id=make_msgid(domain=domain)
        )
        self.store.save_draft(self.conversation_id, "")
        self.notify("Reply queued: the outbox sends it", timeout=3)

    def on_composer_left(self, event: Composer.Left) -> None:
        if event.mode == "reply":
            self.store.save_draft(self.conversation_id, event.text)
            if event.text.strip():
                self.notify("Draft kept", timeout=2)
        self.query_one(Composer).close()
        self.query_one(ThreadView).focus()

    def _keep_draft(self) -> None:
        composer = self.query_one(Composer)
        if composer.is_open and composer.mode == "reply":
            self.store.save_draft(self.conversation_id, composer.editor.text)

    def on_context_panel_open_conversation(self, event: ContextPanel.OpenConversation) -> None:
        self.load(event.conversation_id)
