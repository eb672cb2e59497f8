"""One conversation on screen: the base the conversation screen's parts build on."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from console.guard import store_write
from console.messages import StoreChanged
from console.recipients import Pair, Proposal, propose
from console.render import safe_line
from console.screens.workflow import WorkflowScreen
from console.session import Session
from console.widgets.composer import NOTE_TITLE, Composer, Mode
from console.widgets.context_panel import ContextPanel
from console.widgets.thread_view import ThreadView
from storage.delivery import OutboxProblem
from storage.models import ConversationDetail
from storage.presence import PresenceState

Step = Callable[[int], int | None]
Recipients = dict[str, list[Pair]]
NARROW_WIDTH = 100  # columns: the context panel stacks under the thread at or below
HEARTBEAT_SECONDS = 5.0  # how often others' presence is re-read
PRESENCE_REFRESH = 15.0  # how often an unchanged presence of ours is rewritten
TAKEABLE_SECONDS = 1.0  # how often "goes out in N s · u takes it back" is updated
SLACK_POST_LIMIT = 4_000  # Slack shows at most this many characters in one message
SLACK_REPLY_LIMIT = 40_000  # past this Slack cuts a message: the outbox holds the reply


class ConversationView(WorkflowScreen):
    """What one conversation shows: title, thread, context, presence, drafts, the outbox
    and undo-send lines, and the composer opened on a draft; moving between conversations.

    The parts of `ConversationScreen` (sending, inserts, held replies, thread edits) build on
    these methods and on nothing of each other."""

    def __init__(self, session: Session, conversation_id: int, *, step: Step | None = None) -> None:
        super().__init__(session)
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
        self.store.leave(self.session.agent_name, self.conversation_id)
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
        return self.session.me

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
        self.query_one(ContextPanel).show(detail, self.session.clock())
        self._show_outbox()
        self._show_takeable()

    def on_store_changed(self, _: StoreChanged) -> None:
        self.refresh_data()

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
            self.store.heartbeat(self.session.agent_name, self.conversation_id, state)
            self._last_beat, self._last_beat_at = beat, time.monotonic()
        self._show_presence()

    def _show_presence(self) -> None:
        others = self.store.others_present(self.conversation_id, self.session.agent_name)
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
        self.store.leave(self.session.agent_name, self.conversation_id)

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
        app = self.session
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
        mode = self.session.advance
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
        keys = self.session.keys.get(binding_id, default).split(",")[0].strip()
        return self.app.get_key_display(Binding(keys, ""))

    def _keep_draft(self) -> None:
        """Save what the open composer holds, under its own mode."""
        if self.composer.is_open:
            self._save_draft(self.composer.mode, self.composer.editor.text)

    # outbox and undo-send lines ---------------------------------------------------------

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
            choices.append(self._key("conversation.dm_held", "D"), style="bold")
            choices.append(" send it as a DM · ")
        choices.append(self._key("conversation.cancel_held", "C"), style="bold")
        choices.append(" cancel (back into the composer)")
        return choices

    def _can_post_in_channel(self, problem: OutboxProblem) -> bool:
        """Only a Slack reply can go to the channel, and not one Slack would cut."""
        if self.detail is None or self.detail.conversation.channel != "slack":
            return False
        return len(self.store.outbox_item(problem.outbox_id).body) <= SLACK_REPLY_LIMIT

    def on_context_panel_open_conversation(self, event: ContextPanel.OpenConversation) -> None:
        self.load(event.conversation_id)


PROBLEM_TEXT = {
    "failed": "A reply could not be sent (retried by itself)",
    "uncertain": "A reply may or may not have gone out (checked before any retry)",
    "held": "A reply is held, not sent",
    "sending": "A reply was being sent when the sync stopped (checked before any retry)",
    "copy failed": "A reply was sent",
}


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
