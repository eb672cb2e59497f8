"""Threading by hand (issue 15): why a message joined, split, merge."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from console.guard import store_write
from console.render import local_time, safe_line
from console.screens.confirm import ConfirmScreen
from console.screens.conversation.view import ConversationView
from console.widgets.picker import Choice, Picker
from console.widgets.thread_view import ThreadView
from storage.models import Message
from storage.sanitize import clean_line


class ThreadEdits(ConversationView):
    """Why a message is here (w), split (X) and merge (M), each undone by u."""

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
