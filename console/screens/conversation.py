"""One conversation: the thread, the customer's context, the composer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from console import canned
from console.actions import send_reply
from console.guard import store_write
from console.recipients import BadAddress, Pair, Proposal, propose
from console.render import local_time, safe_line
from console.screens.canned_editor import CannedDraft, CannedEditor
from console.screens.confirm import ConfirmScreen
from console.screens.workflow import WorkflowScreen, keep_taken_back
from console.widgets.composer import NOTE_TITLE, Composer, Mode, insert_template
from console.widgets.context_panel import ContextPanel
from console.widgets.picker import Choice, Picker, canned_choices
from console.widgets.thread_view import ThreadView
from storage.delivery import OutboxProblem
from storage.models import ConversationDetail, Message
from storage.presence import PresenceState
from storage.sanitize import clean_line

if TYPE_CHECKING:
    from console.screens.knowledge import Insert

Step = Callable[[int], int | None]
Recipients = dict[str, list[Pair]]
NARROW_WIDTH = 100  # columns: the context panel stacks under the thread at or below
HEARTBEAT_SECONDS = 5.0  # how often others' presence is re-read
PRESENCE_REFRESH = 15.0  # how often an unchanged presence of ours is rewritten
TAKEABLE_SECONDS = 1.0  # how often "goes out in N s · u takes it back" is updated
SLACK_POST_LIMIT = 4_000  # Slack shows at most this many characters in one message
SLACK_REPLY_LIMIT = 40_000  # past this Slack cuts a message: the outbox holds the reply


class ConversationScreen(WorkflowScreen):
    # At NARROW_WIDTH columns or fewer the context panel goes under the thread and composer,
    # so both keep the full width (and makes way while the agent writes).
    DEFAULT_CSS = """
    ConversationScreen.-narrow #conversation-body { layout: vertical; }
    ConversationScreen.-narrow ContextPanel {
        width: 100%; height: 7; border-left: none; border-top: tall $panel;
    }
    ConversationScreen.-narrow.-composing ContextPanel { display: none; }
    ConversationScreen #conversation-outbox { display: none; background: $warning 15%; }
    ConversationScreen #conversation-takeable { display: none; background: $primary 20%; }
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
        Binding(
            "P",
            "post_held",
            "Post in channel",
            id="conversation.post_held",
            tooltip="Post the held reply as a new message in the channel (its question is gone)",
        ),
        Binding(
            "C",
            "cancel_held",
            "Cancel held reply",
            id="conversation.cancel_held",
            tooltip="Cancel the held reply; its text comes back into the composer",
        ),
        Binding(
            "w",
            "why",
            "Why here",
            id="conversation.why",
            tooltip="Why the highlighted message joined this conversation",
            show=False,
        ),
        Binding(
            "X",
            "split",
            "Split",
            id="conversation.split",
            tooltip="Split the conversation: a message and the later ones become a new one",
            show=False,
        ),
        Binding(
            "M",
            "merge",
            "Merge",
            id="conversation.merge",
            tooltip="Merge another conversation of this customer into this one",
            show=False,
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
        self._held: list[OutboxProblem] = []  # held replies: P posts, C cancels the first

    def compose(self) -> ComposeResult:
        with Horizontal(id="conversation-body"):
            with Vertical(id="conversation-main"):
                yield Static(id="conversation-title")
                yield Static(id="conversation-presence")
                yield Static(id="conversation-drafts")
                yield Static(id="conversation-outbox")
                yield Static(id="conversation-takeable")
                yield ThreadView(id="thread")
                yield Composer(id="composer")
            yield ContextPanel(id="context")
        yield Footer()

    def on_resize(self) -> None:
        self.set_class(self.app.size.width <= NARROW_WIDTH, "-narrow")

    def on_mount(self) -> None:
        self.set_class(self.app.size.width <= NARROW_WIDTH, "-narrow")
        self.composer.editor.canned_for = self._canned_for_shortcut
        self.load(self.conversation_id)
        self.set_interval(HEARTBEAT_SECONDS, self._heartbeat)
        self.set_interval(TAKEABLE_SECONDS, self._show_takeable)

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
            threading_flags(detail),
        )
        self.query_one("#conversation-title", Static).update(title)
        self.query_one(ThreadView).show(detail, keep_scroll=keep_scroll)
        self.query_one(ContextPanel).show(detail, self.fd_app.clock())
        self._show_outbox()
        self._show_takeable()

    def refresh_data(self) -> None:
        """Something changed the store: re-read, keep the reader's place.

        The store changes for many reasons (other conversations, presence): laying out a
        thread is the expensive part, so only a conversation that did change is shown again.
        """
        try:
            detail = self.store.detail(self.conversation_id)
        except KeyError:  # an undone split took this conversation away
            self.notify(f"Conversation #{self.conversation_id} is gone", severity="warning")
            self.dismiss()
            return
        if detail != self.detail:
            self._show(detail, keep_scroll=True)
        else:
            self._show_outbox()  # delivery outcomes change the outbox, not the thread
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
        self._warn_length()
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
        text = self._render_canned(name, body)
        if text is None:
            return
        if not self.composer.is_open:
            self.action_reply()
        insert_template(self.composer.editor, text)
        self.composer.editor.focus()

    def _render_canned(self, name: str, body: str) -> str | None:
        """The reply for this conversation, `{{ cursor }}` marked; None (and why) if it fails."""
        assert self.detail is not None
        agent = self.fd_app.agent_name
        values = canned.variables(self.detail, agent, self.fd_app.me, cursor=True)
        try:
            return canned.render(name, body, values)
        except canned.TemplateProblem as exc:
            self.notify(str(exc), title="Not inserted", severity="error", timeout=10)
            return None

    def _canned_for_shortcut(self, shortcut: str) -> str | None:
        """`;ty` + space in the composer: the canned reply with that shortcut, rendered."""
        wanted = shortcut.casefold()
        found = (r for r in self.store.canned_replies() if (r.shortcut or "").casefold() == wanted)
        reply = next(found, None)
        if reply is None or self.detail is None:
            return None
        return self._render_canned(reply.name, reply.body)

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
        self._warn_length()
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
        delay = self.fd_app.send_delay
        message_id = send_reply(
            self.store,
            self.conversation_id,
            agent_name=self.fd_app.agent_name,
            agent_email=self.fd_app.me,
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

    def _warn_length(self) -> None:
        """A Slack reply past what one Slack message shows: say so while it is written."""
        composer = self.composer
        slack = self.detail is not None and self.detail.conversation.channel == "slack"
        size = len(composer.editor.text.strip())
        if not slack or composer.mode != "reply" or size <= SLACK_POST_LIMIT:
            composer.warn(None)
        elif size > SLACK_REPLY_LIMIT:
            composer.warn(
                f"⚠ {size:,} characters: Slack takes at most {SLACK_REPLY_LIMIT:,} in a"
                " message; this reply would be held, not sent. Shorten it."
            )
        else:
            composer.warn(
                f"⚠ {size:,} characters: Slack shows at most {SLACK_POST_LIMIT:,} in one"
                " message; this reply goes to the thread as several messages."
            )

    def _key(self, binding_id: str, default: str) -> str:
        """The key shown for a binding (after `[keys]`)."""
        keys = self.fd_app.keys.get(binding_id, default).split(",")[0].strip()
        return self.app.get_key_display(Binding(keys, ""))

    def _keep_draft(self) -> None:
        """Save what the open composer holds, under its own mode."""
        if self.composer.is_open:
            self._save_draft(self.composer.mode, self.composer.editor.text)

    # undo send and the outbox (issue 14) ---------------------------------------------------

    def _show_takeable(self) -> None:
        """While a reply queued from here waits out its send delay, say how to take it back."""
        line = self.query_one("#conversation-takeable", Static)
        takeable = self.actions.takeable()
        if takeable is None:
            line.update("")
            line.display = False
            return
        sent, due = takeable
        left = max(1, round(due - self.store.clock()))
        where = (
            "" if sent.conversation_id == self.conversation_id else f" (#{sent.conversation_id})"
        )
        key = self._key("action.undo", "u")
        line.update(
            Text.assemble(
                ("↶ ", "bold"),
                f"Your reply{where} goes out in {left} s · ",
                (key, "bold"),
                " takes it back",
            )
        )
        line.display = True

    def reply_taken_back(self, conversation_id: int) -> None:
        """Undo send: the reply's text is the agent's reply draft now: show it in the composer."""
        if conversation_id != self.conversation_id:
            self.load(conversation_id)
        else:
            self.composer.close()  # the draft read next holds what was in it
        self.refresh_data()
        self._show_takeable()
        self._open_composer("reply")

    def _show_outbox(self) -> None:
        """Replies of this conversation that did not (certainly) go out, and why: plain text."""
        problems = self.store.outbox_problems(conversation_id=self.conversation_id)
        held = [p for p in problems if p.state == "held"]
        changed = [p.outbox_id for p in held] != [p.outbox_id for p in self._held]
        self._held = held
        if changed:
            self.refresh_bindings()
        line = self.query_one("#conversation-outbox", Static)
        line.update(self._problem_lines(problems))
        line.display = bool(problems)

    def _problem_lines(self, problems: list[OutboxProblem]) -> Text:
        text = Text()
        for problem in problems:
            if text:
                text.append("\n")
            text.append("⚠ ", style="bold yellow")
            text.append(PROBLEM_TEXT.get(problem.state, problem.state), style="bold")
            text.append(": ")
            text.append_text(safe_line(problem.reason))
            if problem.state == "held" and problem.outbox_id == self._held[0].outbox_id:
                text.append_text(self._held_choices(problem))
        return text

    def _held_choices(self, problem: OutboxProblem) -> Text:
        choices = Text("  → ", style="dim")
        if self._can_post_in_channel(problem):
            choices.append(self._key("conversation.post_held", "P"), style="bold")
            choices.append(" post it in the channel · ")
        choices.append(self._key("conversation.cancel_held", "C"), style="bold")
        choices.append(" cancel (back into the composer)")
        return choices

    def _can_post_in_channel(self, problem: OutboxProblem) -> bool:
        """Only a Slack reply can go to the channel, and not one Slack would cut."""
        if self.detail is None or self.detail.conversation.channel != "slack":
            return False
        return len(self.store.outbox_item(problem.outbox_id).body) <= SLACK_REPLY_LIMIT

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The held-reply choices are there (and in the footer) only when a reply is held."""
        if action == "post_held":
            return bool(self._held) and self._can_post_in_channel(self._held[0])
        if action == "cancel_held":
            return bool(self._held)
        return True

    @store_write
    def action_post_held(self) -> None:
        if not self._held:
            return
        item = self.store.outbox_item(self._held[0].outbox_id)
        if self.store.post_held_in_channel(item.message_id, self.fd_app.agent_name):
            self.notify("The reply goes to the channel as a new message", timeout=3)
        else:
            self.notify("That reply is no longer held", severity="warning")
        self.refresh_data()

    @store_write
    def action_cancel_held(self) -> None:
        if not self._held:
            return
        item = self.store.outbox_item(self._held[0].outbox_id)
        text = self.store.take_back(item.message_id, self.fd_app.agent_name)
        if text is None:
            self.notify("That reply is no longer held", severity="warning")
            self.refresh_data()
            return
        keep_taken_back(self.store, self.conversation_id, self.agent, text)
        self.notify("Held reply cancelled: its text is in the composer", timeout=4)
        self.reply_taken_back(self.conversation_id)

    # threading: why, split, merge (issue 15) -----------------------------------------------

    def highlighted_message(self) -> Message | None:
        """The message the agent is on: the newest at the end of the thread, else the one at
        the top of the view (where `[` and `]` put a message's first line)."""
        view = self.query_one(ThreadView)
        detail = view.detail
        starts = view.message_starts()
        if detail is None or not detail.messages or not starts:
            return None
        messages = detail.messages[len(detail.messages) - len(starts) :]
        if view.scroll_y >= view.max_scroll_y:
            return messages[-1]
        top = int(view.scroll_y)
        on_top = [m for start, m in zip(starts, messages, strict=True) if start <= top]
        return on_top[-1] if on_top else messages[0]

    def action_why(self) -> None:
        message = self.highlighted_message()
        if message is None:
            self.notify("No message here", severity="warning")
            return
        self.notify(
            str(why_text(message)),
            title=f"Why this message is here ({clean_line(message.author_name)})",
            timeout=10,
        )

    def action_split(self) -> None:
        """Ask where to split (the highlighted message; [ and ] move the choice), then split."""
        assert self.detail is not None
        candidates = list(self.detail.messages[1:])
        if not candidates:
            self.notify("One message: nothing to split", severity="warning")
            return
        chosen = self.highlighted_message()
        start = candidates.index(chosen) if chosen in candidates else len(candidates) - 1
        self.app.push_screen(
            SplitConfirm(self.detail.messages, start),
            lambda message_id: self._split(message_id) if message_id else None,
        )

    @store_write
    def _split(self, message_id: int) -> None:
        try:
            edit = self.actions.split(message_id)
        except (ValueError, KeyError) as exc:
            self.notify(str(exc), title="Not split", severity="error")
            return
        self.refresh_data()
        self.notify(f"Split: {len(edit.message_ids)} moved to #{edit.target} · u undoes", timeout=5)

    def action_merge(self) -> None:
        assert self.detail is not None
        choices = [
            Choice(
                str(other.id),
                Text.assemble(
                    (f"#{other.id} ", "bold"),
                    safe_line(other.subject),
                    (
                        f"  {other.channel} · {other.status} · {local_time(other.last_message_at)}",
                        "dim",
                    ),
                ),
                f"{other.id} {clean_line(other.subject)}",
            )
            for other in self.detail.others
        ]
        title = "Merge which conversation into this one? (or type its number)"
        picker = Picker(title, choices, allow_new=True, placeholder="#id or words")
        self.app.push_screen(picker, self._merge_chosen)

    def _merge_chosen(self, chosen: str | None) -> None:
        if chosen is None:
            return
        typed = chosen.removeprefix("new:").strip().lstrip("#")
        if not typed.isdigit():
            self.notify(f"Not a conversation number: {clean_line(typed)}", severity="error")
            return
        source = int(typed)
        try:
            other = self.store.detail(source)
        except KeyError:
            self.notify(f"No conversation #{source}", severity="error")
            return
        question = Text.assemble(
            ("Merge into this conversation?\n\n", "bold"),
            f"#{source} ",
            safe_line(other.conversation.subject, "bold"),
            f" ({len(other.messages)} messages, {other.conversation.status})",
            f"\nmoves into #{self.conversation_id}; #{source} is left closed and empty."
            " u undoes the merge.",
        )
        self.app.push_screen(
            ConfirmScreen(question, "Merge", no="leave both"),
            lambda yes: self._merge(source) if yes else None,
        )

    @store_write
    def _merge(self, source: int) -> None:
        try:
            edit = self.actions.merge(source, self.conversation_id)
        except (ValueError, KeyError) as exc:
            self.notify(str(exc), title="Not merged", severity="error")
            return
        self.refresh_data()
        self.notify(f"Merged #{source}: {len(edit.message_ids)} messages · u undoes", timeout=5)

    def on_context_panel_open_conversation(self, event: ContextPanel.OpenConversation) -> None:
        self.load(event.conversation_id)


def _text_at(editor: TextArea, start: tuple[int, int], length: int) -> str:
    row, column = start
    if row >= editor.document.line_count:
        return ""
    return editor.document.get_line(row)[column : column + length]


PROBLEM_TEXT = {
    "failed": "A reply could not be sent (retried by itself)",
    "uncertain": "A reply may or may not have gone out (checked before any retry)",
    "held": "A reply is held, not sent",
    "sending": "A reply was being sent when the sync stopped (checked before any retry)",
    "copy failed": "A reply was sent",
}


class SplitConfirm(ModalScreen[int | None]):
    """Where to split: one message named, movable with [ and ] (or the arrows); y splits.

    Dismisses with the chosen message's id, or None. The first message cannot be chosen:
    something must stay."""

    DEFAULT_CSS = """
    SplitConfirm { align: center middle; }
    SplitConfirm > Static {
        width: 80; height: auto; max-height: 80%; border: thick $warning; background: $surface;
        padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("y,ctrl+s", "answer(True)", "Split", id="split.yes", tooltip="Split here"),
        Binding("n,escape", "answer(False)", "No", id="split.no", tooltip="Keep it whole"),
        Binding(
            "left_square_bracket,up",
            "move(-1)",
            "Earlier",
            id="split.earlier",
            tooltip="Split at an earlier message",
        ),
        Binding(
            "right_square_bracket,down",
            "move(1)",
            "Later",
            id="split.later",
            tooltip="Split at a later message",
        ),
    ]

    def __init__(self, messages: tuple[Message, ...], start: int) -> None:
        super().__init__()
        self.messages = messages
        self.index = start + 1  # into messages: never 0

    def compose(self) -> ComposeResult:
        yield Static(self._question())

    @property
    def chosen(self) -> Message:
        return self.messages[self.index]

    def _question(self) -> Text:
        moving = len(self.messages) - self.index
        return Text.assemble(
            ("Split this conversation?\n\n", "bold"),
            f"This message and the later ones ({moving} of {len(self.messages)}) move to a new"
            " conversation; later mail to them follows:\n\n",
            message_label(self.chosen),
            ("\n\n[ ] or ↑ ↓ another message · y split · n/esc keep it whole", "dim"),
        )

    def action_move(self, step: int) -> None:
        self.index = max(1, min(self.index + step, len(self.messages) - 1))
        self.query_one(Static).update(self._question())

    def action_answer(self, yes: bool) -> None:
        self.dismiss(self.chosen.id if yes else None)


def threading_flags(detail: ConversationDetail) -> Text:
    """What threading noticed, on the title line: a conversation kept apart from the one its
    mail points at ("refers to #N"), a sender that looks forged; `w` tells more."""
    refers = sorted({m.refers_to for m in detail.messages if m.refers_to is not None})
    flags = [f"refers to #{n}" for n in refers]
    if any(m.spoofing for m in detail.messages):
        flags.append("⚠ sender looks forged")
    if not flags:
        return Text()
    return Text(f"  · {' · '.join(flags)} (w: why)", style="bold yellow")


def message_label(message: Message) -> Text:
    """One line naming a message: who, when, its first words."""
    words = clean_line(message.text)[:60]
    return Text.assemble(
        safe_line(message.author_name, "bold"),
        (f" · {local_time(message.sent_at)} · ", "dim"),
        (words, "italic"),
    )


def why_text(message: Message) -> Text:
    """Why a message is in its conversation, with what threading noticed about it."""
    text = Text(clean_line(message.thread_reason) or "no reason recorded")
    if message.refers_to is not None:
        text.append(
            f"\nIt refers to #{message.refers_to} but was kept out: its sender is not a"
            " participant there."
        )
    if message.spoofing:
        text.append("\n⚠ Looks forged: " + clean_line(message.spoofing))
    return text
