"""What an agent does to conversations, the same from the queue and from a conversation.

The queue acts on the selected conversations (or the one under the cursor); a conversation
screen acts on itself. Every action goes through `console.actions.Actions`, so one `u` undoes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen

from console.actions import Actions
from console.guard import store_write
from console.macros import Macro, run_steps
from console.render import safe_line
from console.screens.snooze import SnoozeChoice, SnoozeScreen
from console.session import Session
from console.widgets.picker import Choice, Picker
from storage.store import Store

TAG_COLORS = ["cyan", "magenta", "yellow", "green", "blue", "red", "white"]


class WorkflowScreen(Screen[None]):
    BINDINGS = [
        Binding(
            "e",
            "close_conversation",
            "Close",
            id="action.close",
            tooltip="Close the conversation(s)",
        ),
        Binding("o", "reopen", "Reopen", id="action.reopen", tooltip="Reopen the conversation(s)"),
        Binding(
            "a",
            "assign",
            "Assign",
            id="action.assign",
            tooltip="Assign the conversation(s) to an agent",
        ),
        Binding(
            "A",
            "assign_me",
            "Assign me",
            id="action.assign_me",
            tooltip="Assign the conversation(s) to me",
            show=False,
        ),
        Binding("t", "tag", "Tag", id="action.tag", tooltip="Add or remove a tag"),
        Binding(
            "s",
            "snooze",
            "Snooze",
            id="action.snooze",
            tooltip="Snooze until a time, or until the customer writes",
        ),
        Binding(
            "u",
            "undo",
            "Undo",
            id="action.undo",
            tooltip="Undo the last action or macro; a reply still waiting to go out comes back"
            " into the composer (undo send)",
            show=False,
        ),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    @property
    def actions(self) -> Actions:
        return self.session.actions

    @property
    def store(self) -> Store:
        return self.session.store

    def targets(self) -> list[int]:
        """The conversations an action applies to now."""
        raise NotImplementedError

    def after_change(self) -> None:
        """Re-read what changed."""
        raise NotImplementedError

    def advance(self) -> None:
        """After close, snooze or send: move on (a conversation screen; the queue's cursor
        already sits on the next row once the done one leaves the view)."""

    @store_write
    def _act(self, done: str, run: Any, *, advance: bool = False) -> None:
        ids = self.targets()
        if not ids:
            self.notify("No conversation here", severity="warning")
            return
        run(ids)
        self.after_change()
        self.notify(f"{done} {_count(ids)}", timeout=3)
        if advance:
            self.advance()

    def action_close_conversation(self) -> None:
        self._act("Closed", self.actions.close, advance=True)

    def action_reopen(self) -> None:
        self._act("Reopened", self.actions.reopen)

    def action_assign_me(self) -> None:
        self._act("Assigned to you:", lambda ids: self.actions.assign(ids, self.session.me))

    def action_assign(self) -> None:
        choices = [Choice("", Text("nobody (unassign)", style="dim"), "nobody unassign")]
        choices += [
            Choice(email, Text.assemble(safe_line(name, "bold"), f"  {email}"), f"{name} {email}")
            for name, email in self.session.agents
        ]
        self.app.push_screen(Picker("Assign to…", choices), self._assign_chosen)

    def _assign_chosen(self, chosen: str | None) -> None:
        if chosen is not None:
            who = chosen or None
            self._act(f"Assigned to {who or 'nobody'}:", lambda ids: self.actions.assign(ids, who))

    def action_tag(self) -> None:
        on = self.store.common_tags(self.targets())
        choices = [
            Choice(
                name, Text.assemble(("✓ " if name in on else "  "), safe_line(name, color)), name
            )
            for name, color in self.store.tags()
        ]
        title = "Toggle a tag (type a new name to create it)"
        picker = Picker(title, choices, allow_new=True)
        self.app.push_screen(picker, lambda chosen: self._tag_chosen(chosen, on))

    def _tag_chosen(self, chosen: str | None, on_all: set[str]) -> None:
        if chosen is None:
            return
        if chosen.startswith("new:"):
            name = chosen[4:]
            color = TAG_COLORS[len(self.store.tags()) % len(TAG_COLORS)]
            self.store.ensure_tag(name, color)
            self._act(f"Tagged {name}:", lambda ids: self.actions.tag(ids, name, True))
            return
        on = chosen not in on_all  # a tag every target has is removed; otherwise added
        verb = "Tagged" if on else "Untagged"
        self._act(f"{verb} {chosen}:", lambda ids: self.actions.tag(ids, chosen, on))

    def action_snooze(self) -> None:
        count = len(self.targets())
        self.app.push_screen(SnoozeScreen(self.session.clock, count), self._snooze_chosen)

    def _snooze_chosen(self, choice: SnoozeChoice | None) -> None:
        if choice is None:
            return
        self._act(
            "Snoozed",
            lambda ids: self.actions.snooze(
                ids, choice.until, wake_on_reply=choice.wake_on_reply, note=choice.note
            ),
            advance=True,
        )

    @store_write
    def action_undo(self) -> None:
        """`u`: a reply queued from here and still waiting out its send delay is taken back
        first (undo send); otherwise the last action is undone."""
        taken = self.actions.take_back()
        if taken is not None:
            sent, text = taken
            keep_taken_back(self.store, sent.conversation_id, self.session.me, text)
            self.reply_taken_back(sent.conversation_id)
            self.notify("Reply taken back: not sent, it is in the composer", timeout=4)
            return
        try:
            label = self.actions.undo()
        except ValueError as exc:  # a thread edit that later mail has overtaken
            self.notify(str(exc), title="Not undone", severity="error")
            self.after_change()
            return
        if label is None:
            self.notify("Nothing to undo", severity="warning")
            return
        self.after_change()
        self.notify(f"Undone: {label}", timeout=3)

    def reply_taken_back(self, conversation_id: int) -> None:
        """Show the taken-back reply in its conversation's composer."""
        self.session.open_conversation(conversation_id, reply=True)

    def run_macro(self, macro: Macro) -> None:
        """Run a macro's steps on the conversations at hand, undone as one by `u`."""
        ids = self.targets()
        if not ids:
            self.notify("No conversation here", severity="warning")
            return
        self.actions.group(f"macro {macro.name}", ids, lambda: run_steps(self.session, macro, ids))
        self.insert_canned([s.value for s in macro.steps if s.kind == "canned"])
        self.after_change()
        self.notify(f"Macro {macro.name}: {len(ids)} conversation(s)", timeout=3)

    def insert_canned(self, names: list[str]) -> None:
        """A macro's canned replies go into a composer: only a conversation screen has one
        (the queue runs a macro's other steps and leaves these out)."""


def keep_taken_back(store: Store, conversation_id: int, agent: str, text: str) -> None:
    """A taken-back reply becomes the agent's reply draft (before any draft already there)."""
    existing = store.draft(conversation_id, agent=agent, mode="reply")
    body = f"{text}\n\n{existing}" if existing.strip() else text
    store.save_draft(conversation_id, body, agent=agent, mode="reply")


def _count(ids: Sequence[int]) -> str:
    return f"{len(ids)} conversations" if len(ids) != 1 else f"#{ids[0]}"
