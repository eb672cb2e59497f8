"""One conversation: the thread, the customer's context, the composer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static, TextArea

from console import canned
from console.actions import send_reply
from console.guard import store_write
from console.recipients import BadAddress, Pair, Proposal, propose
from console.render import safe_line
from console.screens.canned_editor import CannedDraft, CannedEditor
from console.screens.confirm import ConfirmScreen
from console.screens.workflow import WorkflowScreen
from console.widgets.composer import NOTE_TITLE, Composer, Mode
from console.widgets.context_panel import ContextPanel
from console.widgets.picker import Picker, canned_choices
from console.widgets.thread_view import ThreadView
from storage.models import ConversationDetail
from storage.presence import PresenceState

if TYPE_CHECKING:
    from console.screens.knowledge import Insert

Step = Callable[[int], int | None]
Recipients = dict[str, list[Pair]]
NARROW_WIDTH = 100  # columns: the context panel stacks under the thread at or below
HEARTBEAT_SECONDS = 5.0  # how often others' presence is re-read
PRESENCE_REFRESH = 15.0  # how often an unchanged presence of ours is rewritten


class ConversationScreen(WorkflowScreen):
    # At NARROW_WIDTH columns or fewer the context panel goes under the thread and composer,
    # so both keep the full width (and makes way while the agent writes).
    DEFAULT_CSS = """
    ConversationScreen.-narrow #conversation-body { layout: vertical; }
    ConversationScreen.-narrow ContextPanel {
        width: 100%; height: 7; border-left: none; border-top: tall $panel;
    }
    ConversationScreen.-narrow.-composing ContextPanel { display: none; }
    """
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
            "c",
            "canned",
            "Canned",
            id="conversation.canned",
            tooltip="Insert a canned reply at the cursor",
        ),
        Binding(
            "ctrl+r",
            "canned",
            "Canned",
            id="composer.canned",
            show=False,
            tooltip="Insert a canned reply at the cursor (in the composer)",
        ),
        Binding(
            "ctrl+o",
            "send_and_close",
            "Send & close",
            id="conversation.send_close",
            tooltip="Send the reply and close the conversation",
            show=False,
        ),
        Binding(
            "b",
            "knowledge",
            "Knowledge",
            id="conversation.knowledge",
            tooltip="Search the knowledge base and insert a link or excerpt",
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

    def __init__(self, conversation_id: int, *, step: Step | None = None) -> None:
        super().__init__()
        self.conversation_id = conversation_id
        self._step = step
        self.detail: ConversationDetail | None = None
        self.reply_base = 0  # newest message id the agent has seen while replying (collisions)
        self._kb_trigger: tuple[int, int] | None = None  # where a `??` asked for the KB
        self._last_beat: tuple[int, str] | None = None
        self._last_beat_at = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="conversation-body"):
            with Vertical(id="conversation-main"):
                yield Static(id="conversation-title")
                yield Static(id="conversation-presence")
                yield Static(id="conversation-drafts")
                yield ThreadView(id="thread")
                yield Composer(id="composer")
            yield ContextPanel(id="context")
        yield Footer()

    def on_resize(self) -> None:
        self.set_class(self.app.size.width <= NARROW_WIDTH, "-narrow")

    def on_mount(self) -> None:
        self.set_class(self.app.size.width <= NARROW_WIDTH, "-narrow")
        self.load(self.conversation_id)
        self.set_interval(HEARTBEAT_SECONDS, self._heartbeat)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @store_write
    def load(self, conversation_id: int) -> None:
        """Show a conversation (also used to move to another one in place)."""
        self._keep_draft()
        self.store.leave(self.fd_app.agent_name, self.conversation_id)
        self.conversation_id = conversation_id
        self.store.mark_read(conversation_id)
        self._show(self.store.detail(conversation_id))
        self.composer.close()
        self.query_one(ThreadView).focus()  # never the composer, even with a saved draft
        self._show_drafts()
        self._heartbeat()

    @property
    def agent(self) -> str:
        """Whose drafts these are: the signed-in agent's address."""
        return self.fd_app.me

    def _draft(self, mode: Mode) -> str:
        return self.store.draft(self.conversation_id, agent=self.agent, mode=mode)

    def _save_draft(self, mode: Mode, text: str) -> None:
        self.store.save_draft(self.conversation_id, text, agent=self.agent, mode=mode)

    def _show_drafts(self) -> None:
        """Say which of the agent's drafts wait here (the composer stays closed until asked)."""
        shown = self.composer.mode if self.composer.is_open else None
        labels: dict[Mode, str] = {"reply": "reply draft (r)", "note": "note draft (n)"}
        waiting = [
            label for mode, label in labels.items() if mode != shown and self._draft(mode).strip()
        ]
        line = self.query_one("#conversation-drafts", Static)
        line.update(Text("Unsent " + " · ".join(waiting), style="italic") if waiting else "")
        line.display = bool(waiting)

    def _show(self, detail: ConversationDetail, *, keep_scroll: bool = False) -> None:
        self.detail = detail
        conv = detail.conversation
        title = Text.assemble(
            (f" {conv.channel} ", "reverse"),
            " ",
            safe_line(conv.subject, "bold"),
            (f"  #{conv.id} · {conv.status}", "dim"),
        )
        self.query_one("#conversation-title", Static).update(title)
        self.query_one(ThreadView).show(detail, keep_scroll=keep_scroll)
        self.query_one(ContextPanel).show(detail, self.fd_app.clock())

    def refresh_data(self) -> None:
        """Something changed the store: re-read, keep the reader's place.

        The store changes for many reasons (other conversations, presence): laying out a
        thread is the expensive part, so only a conversation that did change is shown again.
        """
        detail = self.store.detail(self.conversation_id)
        if detail != self.detail:
            self._show(detail, keep_scroll=True)
        self._show_presence()

    # presence -----------------------------------------------------------------------------

    @store_write
    def _heartbeat(self) -> None:
        """Say we are here; write only on a change or to keep the entry alive.

        Every write wakes the other consoles' data_version poll, so an unchanged presence is
        rewritten only every PRESENCE_REFRESH seconds (well inside the store's PRESENCE_TTL).
        """
        replying = self.composer.is_open and self.composer.mode == "reply"
        state: PresenceState = "replying" if replying else "viewing"
        beat = (self.conversation_id, state)
        if beat != self._last_beat or time.monotonic() - self._last_beat_at > PRESENCE_REFRESH:
            self.store.heartbeat(self.fd_app.agent_name, self.conversation_id, state)
            self._last_beat, self._last_beat_at = beat, time.monotonic()
        self._show_presence()

    def _show_presence(self) -> None:
        others = self.store.others_present(self.conversation_id, self.fd_app.agent_name)
        line = Text()
        for other in others:
            icon = "✍ " if other.state == "replying" else "👀 "
            line.append_text(
                Text.assemble(icon, safe_line(other.agent, "bold"), f" is {other.state}  ")
            )
        self.query_one("#conversation-presence", Static).update(line)
        self.query_one("#conversation-presence", Static).display = bool(others)

    @store_write
    def on_unmount(self) -> None:
        self.store.leave(self.fd_app.agent_name, self.conversation_id)

    # actions ------------------------------------------------------------------------------

    def targets(self) -> list[int]:
        return [self.conversation_id]

    def after_change(self) -> None:
        self.refresh_data()

    @store_write
    def action_back(self) -> None:
        self._keep_draft()
        self.dismiss()

    def action_reply(self) -> None:
        self._open_composer("reply")

    def action_note(self) -> None:
        self._open_composer("note")

    @store_write
    def _open_composer(self, mode: Mode) -> None:
        """Open one mode with the agent's own draft of it; the other mode's text is kept."""
        assert self.detail is not None
        if self.composer.is_open and self.composer.mode == mode:
            self.composer.editor.focus()
            return
        self._keep_draft()
        if mode == "reply":
            who = safe_line(self.detail.contact.name, "bold")
            title = Text.assemble("Reply to ", who, f" via {self.detail.conversation.channel}")
            hint = (
                "ctrl+s send · ctrl+o send & close · ctrl+r canned · ctrl+b bcc"
                " · ?? knowledge · esc leave (draft kept)"
            )
            self.reply_base = self.store.last_message_id(self.conversation_id)
            self.composer.show_recipients(self._proposal())
        else:
            title = Text(NOTE_TITLE)
            hint = "only your colleagues see it · ctrl+s save · esc leave (draft kept)"
        self.composer.open(mode, title, hint, self._draft(mode))
        self._show_drafts()
        self._heartbeat()

    def _proposal(self) -> Proposal | None:
        """Who an email reply would go to (None on Slack: the reply goes to the thread)."""
        assert self.detail is not None
        if self.detail.conversation.channel != "email":
            return None
        mail = [m for m in self.detail.messages if m.direction != "note" and not m.deleted]
        inbound = [m for m in mail if m.direction == "in"]
        latest = max(inbound or mail, key=lambda m: (m.sent_at, m.id), default=None)
        target = None if latest is None else self.store.reply_context(latest.id).reply
        email = next((i for i in self.detail.contact.identities if i.kind == "email"), None)
        contact = None if email is None else (self.detail.contact.name, email.address)
        return propose(target, contact, self._own_addresses())

    def _own_addresses(self) -> set[str]:
        """Ours: the accounts' addresses, the agents', and whoever sent our earlier replies."""
        assert self.detail is not None
        app = self.fd_app
        found = {*app.own_addresses, app.me, *(address for _, address in app.agents)}
        found |= {
            m.author_address
            for m in self.detail.messages
            if m.direction == "out" and m.author_address
        }
        return {address.lower() for address in found}

    def advance(self) -> None:
        """`[console] advance`: "next" opens the view's next conversation (the queue when
        there is none), "queue" goes back to the queue, "stay" stays."""
        mode = self.fd_app.advance
        if mode == "stay":
            return
        target = self._step(1) if self._step and mode == "next" else None
        if target is not None:
            self.load(target)
        else:
            self.action_back()

    def action_step(self, step: int) -> None:
        target = self._step(step) if self._step else None
        if target is None:
            self.notify("No more conversations in this view", severity="warning")
            return
        self.load(target)

    # canned replies -----------------------------------------------------------------------

    def action_canned(self) -> None:
        assert self.detail is not None
        values = canned.variables(self.detail, self.fd_app.agent_name, self.fd_app.me)
        replies = {str(r.id): r for r in self.store.canned_replies()}

        def preview(reply_id: str) -> Text:
            reply = replies[reply_id]
            try:
                return Text(canned.render(reply.name, reply.body, values))
            except canned.TemplateProblem as exc:
                return Text(f"Cannot be used here:\n{exc}", style="bold red")

        choices = canned_choices(list(replies.values()))
        title = "Canned reply — enter inserts · ctrl+n new · ctrl+e edit"
        picker = Picker(title, choices, preview=preview, editable=True)
        self.app.push_screen(picker, self._insert_canned)

    def _insert_canned(self, chosen: str | None) -> None:
        if chosen is None:
            return
        kind, _, value = chosen.partition(":")
        if kind in ("new", "edit"):
            self._edit_canned(value if kind == "edit" else None, value if kind == "new" else "")
            return
        reply = next(r for r in self.store.canned_replies() if str(r.id) == chosen)
        self._insert_reply(reply.name, reply.body)

    def _edit_canned(self, reply_id: str | None, name: str) -> None:
        existing = next((r for r in self.store.canned_replies() if str(r.id) == reply_id), None)
        draft = (
            CannedDraft(existing.name, existing.folder, existing.shortcut, existing.body)
            if existing
            else CannedDraft(name, "", None, "Hi {{ contact.first_name }},\n\n")
        )
        self.app.push_screen(CannedEditor(draft), self._save_canned)

    @store_write
    def _save_canned(self, draft: CannedDraft | None) -> None:
        if draft is not None:
            self.store.upsert_canned_reply(
                draft.name,
                draft.body,
                shortcut=draft.shortcut,
                folder=draft.folder,
                source="agent",
            )
            self.notify(f"Canned reply {draft.name!r} saved", timeout=2)
        self.action_canned()

    def insert_canned_by_name(self, name: str) -> None:
        reply = next((r for r in self.store.canned_replies() if r.name == name), None)
        if reply is None:
            self.notify(f"No canned reply named {name!r}", severity="error")
            return
        self._insert_reply(reply.name, reply.body)

    def _insert_reply(self, name: str, body: str) -> None:
        if self.detail is None:
            return
        values = canned.variables(self.detail, self.fd_app.agent_name, self.fd_app.me)
        try:
            text = canned.render(name, body, values)
        except canned.TemplateProblem as exc:
            self.notify(str(exc), title="Not inserted", severity="error", timeout=10)
            return
        if not self.composer.is_open:
            self.action_reply()
        self.composer.editor.insert(text)
        self.composer.editor.focus()

    # knowledge base -----------------------------------------------------------------------

    def action_knowledge(self, query: str = "") -> None:
        from console.screens.knowledge import KnowledgeScreen  # Markdown: loaded on first use

        self.app.push_screen(KnowledgeScreen(self.store, query), self._insert_knowledge)

    def _insert_knowledge(self, chosen: Insert | None) -> None:
        """An article chosen replaces the `??` that asked for it; escape leaves the text as is."""
        trigger, self._kb_trigger = self._kb_trigger, None
        if chosen is None:
            if self.composer.is_open:
                self.composer.editor.focus()
            return
        if not self.composer.is_open:
            self.action_reply()
        editor = self.composer.editor
        if trigger is not None and _text_at(editor, trigger, 2) == "??":
            row, column = trigger
            editor.delete(trigger, (row, column + 2))
            editor.move_cursor(trigger)
        editor.insert(chosen.text)
        editor.focus()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        """`??` typed at a word start (or alone on its line) opens the knowledge base.

        `Really??` does not: the `??` ends a word. Nothing is deleted until an article is
        chosen, so escape from the knowledge base leaves what was typed.
        """
        editor = event.text_area
        row, column = editor.cursor_location
        line = editor.document.get_line(row)
        if column < 2 or line[column - 2 : column] != "??":
            return
        before = line[: column - 2]
        if before and not before[-1].isspace():
            return
        self._kb_trigger = (row, column - 2)
        self.action_knowledge()

    # composer -----------------------------------------------------------------------------

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
            self.store.add_note(self.conversation_id, self.fd_app.agent_name, text)
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
            for p in self.store.others_present(self.conversation_id, self.fd_app.agent_name)
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
        send_reply(
            self.store,
            self.conversation_id,
            agent_name=self.fd_app.agent_name,
            agent_email=self.fd_app.me,
            text=text,
            close=close,
            headers=headers,
        )
        self._save_draft("reply", "")
        self.notify("Reply queued: the outbox sends it" + (" · closed" if close else ""), timeout=3)
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

    def _keep_draft(self) -> None:
        """Save what the open composer holds, under its own mode."""
        if self.composer.is_open:
            self._save_draft(self.composer.mode, self.composer.editor.text)

    def on_context_panel_open_conversation(self, event: ContextPanel.OpenConversation) -> None:
        self.load(event.conversation_id)


def _text_at(editor: TextArea, start: tuple[int, int], length: int) -> str:
    row, column = start
    if row >= editor.document.line_count:
        return ""
    return editor.document.get_line(row)[column : column + length]
