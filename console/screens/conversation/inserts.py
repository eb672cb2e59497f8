"""Canned replies (c, ctrl+r) and the knowledge base (b, `??`) inserted into the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import TextArea

from console import canned
from console.guard import store_write
from console.screens.canned_editor import CannedDraft, CannedEditor
from console.screens.conversation.view import ConversationView
from console.widgets.composer import insert_template
from console.widgets.picker import Picker, canned_choices

if TYPE_CHECKING:
    from console.screens.knowledge import Insert


class Inserts(ConversationView):
    """Canned replies and knowledge-base articles inserted into the composer."""

    def action_canned(self) -> None:
        assert self.detail is not None
        values = canned.variables(self.detail, self.session.agent_name, self.session.me)
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

    def insert_canned(self, names: list[str]) -> None:
        """A macro's canned replies, inserted in order."""
        for name in names:
            self.insert_canned_by_name(name)

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
        agent = self.session.agent_name
        values = canned.variables(self.detail, agent, self.session.me, cursor=True)
        try:
            return canned.render(name, body, values)
        except canned.TemplateProblem as exc:
            self.notify(str(exc), title="Not inserted", severity="error", timeout=10)
            return None

    def on_mount(self) -> None:
        """The composer asks here what a `;shortcut` typed in it stands for."""
        self.composer.editor.canned_for = self._canned_for_shortcut

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


def _text_at(editor: TextArea, start: tuple[int, int], length: int) -> str:
    row, column = start
    if row >= editor.document.line_count:
        return ""
    return editor.document.get_line(row)[column : column + length]
