"""The thread of a conversation, oldest first: messages, notes and what happened, in order."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.render import local_time, safe_block, safe_line, size_label
from storage.models import ConversationDetail, Event, Message

CHANNEL_ICON = {"email": "✉", "slack": "#"}
MAX_SHOWN = 50_000  # characters of one message laid out in the thread
RECENT_ITEMS = 30  # messages and events shown when a thread opens
EVENT_TEXT = {
    "closed": "closed the conversation",
    "reopened": "reopened the conversation",
    "snoozed": "snoozed the conversation",
    "woken": "woke the conversation",
    "assigned": "assigned the conversation",
    "tagged": "added a tag",
    "untagged": "removed a tag",
}


class ThreadView(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    ThreadView { height: 1fr; padding: 0 1; }
    ThreadView > Static { width: 100%; }
    """
    BINDINGS = [
        Binding(
            "z",
            "toggle_quotes",
            "Quotes",
            id="thread.quotes",
            tooltip="Show or fold quoted text and signatures",
        ),
        Binding(
            "m",
            "show_all",
            "Earlier",
            id="thread.earlier",
            tooltip="Show the earlier messages of a long thread",
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.detail: ConversationDetail | None = None
        self.show_quotes = False
        self.show_all = False

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="thread-body")

    def show(self, detail: ConversationDetail, *, keep_scroll: bool = False) -> None:
        at_end = self.scroll_y >= self.max_scroll_y - 1
        if self.detail is None or self.detail.conversation.id != detail.conversation.id:
            self.show_all = False
        self.detail = detail
        self.query_one("#thread-body", Static).update(self._render_thread(detail))
        if not keep_scroll or at_end:
            self.call_after_refresh(self.scroll_end, animate=False)

    def action_toggle_quotes(self) -> None:
        self.show_quotes = not self.show_quotes
        if self.detail is not None:
            self.show(self.detail, keep_scroll=True)

    def action_show_all(self) -> None:
        if self.detail is not None and not self.show_all:
            self.show_all = True
            self.show(self.detail, keep_scroll=True)
            self.call_after_refresh(self.scroll_home, animate=False)

    def _render_thread(self, detail: ConversationDetail) -> RenderableType:
        items: list[tuple[float, int, Message | Event]] = [
            (m.sent_at, 0, m) for m in detail.messages
        ] + [(e.at, 1, e) for e in detail.events if e.kind in EVENT_TEXT]
        items.sort(key=lambda item: (item[0], item[1]))
        # Laying out a long thread costs ~2 ms a message: show the recent end, which is what
        # the agent answers, and the rest on `m`.
        hidden = 0 if self.show_all else max(0, len(items) - RECENT_ITEMS)
        parts: list[RenderableType] = []
        if hidden:
            parts.append(
                Text(
                    f"··· {hidden} earlier messages and events (m shows them)\n", style="dim italic"
                )
            )
        channel = detail.conversation.channel
        for _, _, item in items[hidden:]:
            parts.append(
                self._message(item, channel) if isinstance(item, Message) else _event(item)
            )
        return Group(*parts)

    def _message(self, message: Message, channel: str) -> RenderableType:
        body = self._body(message)
        if message.direction == "note":
            title = Text.assemble(("✎ Internal note · ", "bold"), safe_line(message.author_name))
            return Panel(
                body,
                title=title,
                title_align="left",
                border_style="yellow",
                subtitle=local_time(message.sent_at),
                subtitle_align="right",
            )
        header = _header(message, CHANNEL_ICON.get(channel, "?"))
        return Group(Rule(header, align="left", style="dim"), body, Text())

    def _body(self, message: Message) -> RenderableType:
        if message.deleted:
            return Text("(deleted by the author)", style="dim italic")
        text, folded = message.text, ""
        if message.quote_offset is not None and not self.show_quotes:
            text, folded = text[: message.quote_offset].rstrip(), text[message.quote_offset :]
        hidden = max(0, len(text) - MAX_SHOWN)
        parts: list[RenderableType] = [safe_block(text[:MAX_SHOWN])]
        if hidden:
            # A 10 MB message would take seconds to lay out: show its start, say what is left.
            parts.append(Text(f"··· {hidden:,} more characters not shown", style="dim italic"))
        if folded.strip():
            lines = folded.strip().count("\n") + 1
            parts.append(
                Text(f"··· {lines} quoted line{'s' * (lines != 1)} folded (z)", style="dim italic")
            )
        parts += [_attachment(a.filename, a.content_type, a.size) for a in message.attachments]
        parts += [Text(f"⚠ {problem}", style="yellow") for problem in message.problems]
        return Group(*parts)


def _header(message: Message, icon: str) -> Text:
    who = safe_line(message.author_name, "bold")
    if message.direction == "out":
        who = Text.assemble(("↩ ", "green"), who, (" (agent)", "dim"))
    header = Text.assemble(f"{icon} ", who)
    if message.author_address and "@" in message.author_address and message.direction == "in":
        header.append(" <")
        header.append_text(safe_line(message.author_address))
        header.append(">")
    header.append(f" · {local_time(message.sent_at)}", style="dim")
    if message.delivery and message.delivery != "sent":
        header.append(f" · {message.delivery}", style="bold yellow")
    return header


def _attachment(name: str, content_type: str, size: int) -> Text:
    return Text.assemble("📎 ", safe_line(name), (f"  {content_type}, {size_label(size)}", "dim"))


def _event(event: Event) -> Text:
    detail = ""
    if event.kind in ("tagged", "untagged"):
        detail = f" {event.detail.get('tag', '')}"
    elif event.kind == "assigned":
        detail = f" to {event.detail.get('to') or 'nobody'}"
    text = Text(
        f"· {event.actor} {EVENT_TEXT[event.kind]}{detail} · {local_time(event.at)}",
        style="dim italic",
    )
    return text
