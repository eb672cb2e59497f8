"""The thread of a conversation, oldest first: messages, notes and what happened, in order.

A virtual view on the Line API (like the queue): items are rendered to strips with Rich
(customer text through `safe_block`/`safe_line`: never markup, controls stripped; at most
MAX_SHOWN characters of one message, with a note of what is left), cached per item, width
and quote state, and painted line by line. A thread opens at its end.
"""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.event_lines import EVENT_TEXT, event_line
from console.mrkdwn import styled
from console.render import local_time, safe_block, safe_line, size_label
from storage.models import ConversationDetail, Event, Message

CHANNEL_ICON = {"email": "✉", "slack": "#"}
MAX_SHOWN = 50_000  # characters of one message laid out in the thread
ITEM_CACHE_SIZE = 2000  # rendered messages and events (per width and quote state)
G_G_SECONDS = 1.0  # the second `g` of `g g` within this
EARLIER_CHUNK = 40  # items laid out per refresh above the visible tail of a long thread


class ThreadView(ScrollView, can_focus=True):
    """A virtual view on Textual's Line API: only what is on screen is ever rendered.

    Each message or event is rendered to strips once per (item, width, quote state) and cached;
    a thread opens at its end with only the items that fill the screen laid out, and the
    earlier ones are laid out a refresh later (the view stays anchored on what is shown).
    """

    DEFAULT_CSS = """
    ThreadView { height: 1fr; padding: 0 1; }
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
            "j",
            "scroll_lines(1)",
            "Down",
            id="thread.down",
            tooltip="Scroll down a line",
            show=False,
        ),
        Binding(
            "k", "scroll_lines(-1)", "Up", id="thread.up", tooltip="Scroll up a line", show=False
        ),
        Binding(
            "ctrl+d",
            "half_page(1)",
            "Half page down",
            id="thread.half_down",
            tooltip="Scroll down half a screen",
            show=False,
        ),
        Binding(
            "ctrl+u",
            "half_page(-1)",
            "Half page up",
            id="thread.half_up",
            tooltip="Scroll up half a screen",
            show=False,
        ),
        Binding(
            "g",
            "g_prefix",
            "Top",
            id="thread.top",
            tooltip="g g: the start of the thread",
            show=False,
        ),
        Binding(
            "G",
            "bottom",
            "Bottom",
            id="thread.bottom",
            tooltip="The end of the thread",
            show=False,
        ),
        Binding(
            "right_square_bracket",
            "jump(1)",
            "Next message",
            id="thread.next_message",
            tooltip="Jump to the next message",
            show=False,
        ),
        Binding(
            "left_square_bracket",
            "jump(-1)",
            "Previous message",
            id="thread.previous_message",
            tooltip="Jump to the previous message",
            show=False,
        ),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.detail: ConversationDetail | None = None
        self.show_quotes = False
        self._items: list[Message | Event] = []
        self._first = 0  # index of the first item laid out: the ones before come a refresh later
        self._lines: list[Strip] = []
        self._cache: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(ITEM_CACHE_SIZE)
        self._width = 0
        self._g_at = 0.0  # when a first `g` was pressed
        # Painting the end before the scroll position gets there: `show()` runs before the
        # view has its size, so its scroll to the end lands a frame or more later (the
        # 200-message thread showed its middle for ~0.3 s). Dropped once the scroll is there
        # or the agent moves.
        self._pin_end = False

    def show(self, detail: ConversationDetail, *, keep_scroll: bool = False) -> None:
        at_end = self.scroll_y >= self.max_scroll_y - 1
        self.detail = detail
        self._items = _items(detail)
        keep = keep_scroll and not at_end
        self._pin_end = not keep
        self._layout(self._tail_start() if not keep else 0)
        if not keep:
            self._scroll_end()
        if self._first:
            self.call_after_refresh(self._layout_earlier)

    def lines(self) -> list[Strip]:
        """Every line of the thread (laying out what is not yet): for tests and tools."""
        if self._first:
            self._prepend(0)
        return list(self._lines)

    def action_toggle_quotes(self) -> None:
        self.show_quotes = not self.show_quotes
        if self.detail is not None:
            self.show(self.detail, keep_scroll=True)

    # motion -------------------------------------------------------------------------------

    def _settle(self) -> None:
        """Before a move: a view still pinned to its end scrolls there, so the move starts
        from what is painted."""
        if self._pin_end:
            self._pin_end = False
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def action_scroll_lines(self, lines: int) -> None:
        self._settle()
        self.scroll_to(y=self.scroll_y + lines, animate=False, immediate=True)

    def action_half_page(self, direction: int) -> None:
        self._settle()
        step = max(1, self.scrollable_content_region.height // 2)
        self.scroll_to(y=self.scroll_y + direction * step, animate=False, immediate=True)

    def action_g_prefix(self) -> None:
        """`g g` (two presses within G_G_SECONDS) goes to the start, as in vim."""
        now = time.monotonic()
        self._settle()
        if now - self._g_at <= G_G_SECONDS:
            self._g_at = 0.0
            self.lines()  # lay out what is not yet, so the start is the real start
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self._g_at = now

    def action_bottom(self) -> None:
        self._settle()
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def message_starts(self) -> list[int]:
        """The first line of each message (not events), top to bottom, in laid-out lines."""
        starts, line = [], 0
        for item in self._items[self._first :]:
            if isinstance(item, Message):
                starts.append(line)
            line += len(self._item_lines(item, self._width))
        return starts

    def action_jump(self, direction: int) -> None:
        """To the next (1) or previous (-1) message's first line."""
        self._settle()
        if direction < 0 and self._first:
            self.lines()
        y = int(self.scroll_y)
        starts = self.message_starts()
        target = (
            next((s for s in starts if s > y), None)
            if direction > 0
            else next((s for s in reversed(starts) if s < y), None)
        )
        if target is not None:
            self.scroll_to(y=target, animate=False, immediate=True)

    # layout -------------------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width or max(self.app.size.width - 48, 20)

    def _tail_start(self) -> int:
        """The first item of the shortest tail that fills two screens."""
        width, need = self._content_width(), 2 * (self.size.height or self.app.size.height)
        first, height = len(self._items), 0
        while first > 0 and height < need:
            first -= 1
            height += len(self._item_lines(self._items[first], width))
        return first

    def _layout(self, first: int) -> None:
        width = self._width = self._content_width()
        self._first = first
        self._lines = [s for item in self._items[first:] for s in self._item_lines(item, width)]
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def _prepend(self, first: int) -> None:
        """Lay out items [first, self._first) above what is shown, keeping the view still."""
        width = self._width
        lines = [
            s for item in self._items[first : self._first] for s in self._item_lines(item, width)
        ]
        self._first = first
        self._lines = lines + self._lines
        self.virtual_size = Size(self._width, len(self._lines))
        self.scroll_to(y=self.scroll_y + len(lines), animate=False, immediate=True)
        self.refresh()

    def _layout_earlier(self) -> None:
        if self._first:
            self._prepend(max(0, self._first - EARLIER_CHUNK))
        if self._first:
            self.call_after_refresh(self._layout_earlier)

    def _scroll_end(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def on_resize(self) -> None:
        if self.detail is not None and self._content_width() != self._width:
            at_end = self.scroll_y >= self.max_scroll_y - 1
            self._layout(self._first)
            if at_end:
                self._scroll_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        if self.detail is not None:
            self._layout(self._first)

    def render_line(self, y: int) -> Strip:
        top = int(self.scroll_offset.y)
        if self._pin_end:
            end = max(len(self._lines) - self.scrollable_content_region.height, 0)
            if top >= end:
                self._pin_end = False  # the scroll got there: plain scrolling from now on
            top = end
        index = top + y
        if 0 <= index < len(self._lines):
            return self._lines[index]
        return Strip.blank(self._width, self.rich_style)

    # rendering ----------------------------------------------------------------------------

    def _item_lines(self, item: Message | Event, width: int) -> list[Strip]:
        key = (*_key(item), width, self.show_quotes)
        lines = self._cache.get(key)
        if lines is None:
            lines = self._cache[key] = self._render_item(item, width)
        return lines

    def _render_item(self, item: Message | Event, width: int) -> list[Strip]:
        channel = self.detail.conversation.channel if self.detail else ""
        renderable = self._message(item, channel) if isinstance(item, Message) else event_line(item)
        console = self.app.console
        options = console.options.update_width(width).update(highlight=False)
        rendered = console.render_lines(renderable, options, style=self.rich_style)
        return [Strip(line, width) for line in rendered]

    def _message(self, message: Message, channel: str) -> RenderableType:
        body = self._body(message, slack=channel == "slack")
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

    def _body(self, message: Message, *, slack: bool = False) -> RenderableType:
        if message.deleted:
            return Text("(deleted by the author)", style="dim italic")
        text, folded = message.text, ""
        if message.quote_offset is not None and not self.show_quotes:
            text, folded = text[: message.quote_offset].rstrip(), text[message.quote_offset :]
        hidden = max(0, len(text) - MAX_SHOWN)
        shown = text[:MAX_SHOWN]  # Slack's *bold* and `code` styled as Slack shows them
        parts: list[RenderableType] = [styled(shown) if slack else safe_block(shown)]
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


def _items(detail: ConversationDetail) -> list[Message | Event]:
    """Messages and the events worth showing, oldest first (a message before an event at
    the same time)."""
    items: list[tuple[float, int, Message | Event]] = [
        (m.sent_at, 0, m) for m in detail.messages
    ] + [(e.at, 1, e) for e in detail.events if e.kind in EVENT_TEXT]
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


def _key(item: Message | Event) -> tuple[object, ...]:
    """What an item's rendering depends on (an event's detail is a dict: not hashable)."""
    if isinstance(item, Message):
        return ("m", item)
    return ("e", item.at, item.actor, item.kind, repr(sorted(item.detail.items())))


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
