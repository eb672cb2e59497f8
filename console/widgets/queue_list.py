"""The queue: a virtual list on Textual's Line API over keyset pages from SQLite.

Only the rows on screen are ever rendered and only a few pages are ever held: a million
conversations cost what fifty do. `render_line` is synchronous, so it reads from a small page
cache that a synchronous, indexed query (well under a millisecond) fills on a miss: a keyset
page from a cached neighbour (either way), or for a jump an OFFSET counted from the nearer
end. Rendered lines are cached too: a one-line scroll repaints every visible line, and
reusing the same `Strip` objects also reuses Textual's per-strip caches (about 8 ms → 1.5 ms
for a full repaint of 38 rows, bench/README.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.timefmt import due_label, short_duration
from storage.models import QueueRow
from storage.queue import View, cursor_of
from storage.sanitize import clean_line
from storage.store import Store

PAGE_SIZE = 100
MAX_PAGES = 16
LINE_CACHE_SIZE = 512  # rendered rows (a few screens, each row in both cursor states)
CHANNEL_ICON = {"email": "✉", "slack": "#"}
TIER_BADGE = {"advanced": "★", "standard": "", "basic": "·"}
# (key, title, width); the subject takes what is left.
Column = tuple[str, str, int]
COLUMNS: tuple[Column, ...] = (
    ("marker", "", 2),
    ("customer", "Customer", 22),
    ("subject", "Subject", 0),
    ("tags", "Tags", 22),
    ("waiting", "Waiting", 9),
    ("sla", "SLA", 13),
    ("status", "Status", 8),
    ("assignee", "Assignee", 12),
)
# At NARROW_WIDTH columns or fewer, columns collapse by priority: customer, subject, waiting and
# SLA keep their place; tags go; status and assignee become one short marker ("P sam").
NARROW_WIDTH = 100
NARROW_COLUMNS: tuple[Column, ...] = (
    ("marker", "", 2),
    ("customer", "Customer", 16),
    ("subject", "Subject", 0),
    ("waiting", "Waiting", 8),
    ("sla", "SLA", 12),
    ("state", "St", 5),
)
MIN_SUBJECT = 24  # columns the subject keeps before the tags column is dropped
STATUS_MARK = {"open": "O", "pending": "P", "snoozed": "Z", "closed": "C", "woken": "W"}


class QueueList(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    QueueList { height: 1fr; scrollbar-gutter: stable; overflow-x: hidden; }
    QueueList > .queue-list--cursor { background: $accent 40%; }
    QueueList:focus > .queue-list--cursor { background: $accent 70%; }
    QueueList > .queue-list--header { text-style: bold; color: $text-muted; }
    QueueList > .queue-list--unread { text-style: bold; }
    QueueList > .queue-list--muted { color: $text-muted; }
    QueueList > .queue-list--overdue { color: $error; text-style: bold; }
    QueueList > .queue-list--soon { color: $warning; }
    QueueList > .queue-list--woken { color: $success; text-style: bold; }
    """
    COMPONENT_CLASSES = {
        "queue-list--cursor",
        "queue-list--header",
        "queue-list--unread",
        "queue-list--muted",
        "queue-list--overdue",
        "queue-list--soon",
        "queue-list--woken",
    }
    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", id="queue.down", tooltip="Next conversation"),
        Binding("k,up", "cursor_up", "Up", id="queue.up", tooltip="Previous conversation"),
        Binding("g,home", "first", "Top", id="queue.top", tooltip="First conversation", show=False),
        Binding(
            "G,end", "last", "Bottom", id="queue.bottom", tooltip="Last conversation", show=False
        ),
        Binding("pagedown", "page_down", "Page down", id="queue.page_down", show=False),
        Binding("pageup", "page_up", "Page up", id="queue.page_up", show=False),
        Binding("enter", "open", "Open", id="queue.open", tooltip="Open the conversation"),
    ]

    cursor: reactive[int] = reactive(0, repaint=False, always_update=True)

    class Opened(Message):
        """The agent asked to open a conversation."""

        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(
        self, store: Store, view: View, *, clock: Callable[[], float] = time.time, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.store = store
        self.view = view
        self.clock = clock
        self.total = 0
        self.selected: set[int] = set()
        self._pages: OrderedDict[int, list[QueueRow]] = OrderedDict()
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(LINE_CACHE_SIZE)
        self._row_styles: dict[tuple[bool, bool, bool], dict[str, Style]] = {}

    # data ---------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.total + 1)

    def show_view(self, view: View) -> None:
        self.view = view
        self.selected.clear()
        self.reload(keep=False)

    def reload(self, *, keep: bool = True) -> None:
        """Re-read after a change; the cursor stays on the same conversation when it can."""
        current = self.current_id() if keep else None
        self._pages.clear()
        self.total = self.store.count(self.view)
        # Rows are cut to the visible width: never wider, so never a horizontal scrollbar.
        self.virtual_size = Size(self.scrollable_content_region.width, self.total + 1)
        index = self._index_of(current) if current is not None else None
        self.cursor = min(
            index if index is not None else self.cursor if keep else 0, max(self.total - 1, 0)
        )
        self.refresh()

    def _index_of(self, conversation_id: int) -> int | None:
        for number, rows in self._pages_near_cursor():
            for offset, row in enumerate(rows):
                if row.id == conversation_id:
                    return number * PAGE_SIZE + offset
        return None

    def _pages_near_cursor(self) -> list[tuple[int, list[QueueRow]]]:
        first = max(self.cursor // PAGE_SIZE - 1, 0)
        return [(n, self._page(n)) for n in range(first, first + 3)]

    def row(self, index: int) -> QueueRow | None:
        if not 0 <= index < self.total:
            return None
        rows = self._page(index // PAGE_SIZE)
        offset = index % PAGE_SIZE
        return rows[offset] if offset < len(rows) else None

    def _page(self, number: int) -> list[QueueRow]:
        if number in self._pages:
            self._pages.move_to_end(number)
            return self._pages[number]
        previous = self._pages.get(number - 1)
        following = self._pages.get(number + 1)
        if previous and len(previous) == PAGE_SIZE:
            rows = self.store.page(self.view, after=cursor_of(previous[-1]), limit=PAGE_SIZE)
        elif following:
            rows = self.store.page(self.view, before=cursor_of(following[0]), limit=PAGE_SIZE)
        else:
            # A jump: OFFSET costs what it skips, so count from the nearer end (`G` on a
            # million rows would otherwise skip all of them: ~0.35 s at 120k, over 1 s at 770k).
            offset = number * PAGE_SIZE
            if offset > self.total // 2:
                offset -= self.total  # negative: from the end
            rows = self.store.page_at(self.view, offset, PAGE_SIZE)
        self._pages[number] = rows
        if len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return rows

    def toggle_selected(self) -> None:
        """Mark the row for a bulk action, and move on (like mutt's tag-and-next)."""
        current = self.current_id()
        if current is None:
            return
        self.selected.symmetric_difference_update({current})
        self.refresh_line(self.cursor + 1)
        self.cursor += 1

    def current_id(self) -> int | None:
        row = self.row(self.cursor)
        return None if row is None else row.id

    # cursor -------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        # ScrollView.refresh_line takes a virtual line (it subtracts the scroll offset): a row's
        # is its index + 1, under the header.
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_row(new)

    def _scroll_to_row(self, index: int) -> None:
        """Scroll only when the row is off screen, and then by a page, as mutt does.

        A scroll repaints every row (~8-12 ms from key to frame at 120x40 in Textual 8, where a
        bare one-segment ScrollView already takes 8 ms at p95), a cursor move within the page
        only two lines (~3 ms): paging keeps j/k at the cheap cost but once a screenful. The
        row next to the cursor stays on screen as context.
        """
        top = int(self.scroll_offset.y)
        rows = max(self.scrollable_content_region.height - 1, 1)  # under the header line
        context = 1 if rows >= 3 else 0
        if index < top:  # came from below it: show it near the bottom
            target = index - (rows - 1) + context
        elif index >= top + rows:  # came from above it: show it near the top
            target = index - context
        else:
            return
        self.scroll_to(y=max(target, 0), animate=False, immediate=True)

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self.total - 1)) if self.total else 0

    def action_cursor_down(self) -> None:
        self.cursor += 1

    def action_cursor_up(self) -> None:
        self.cursor -= 1

    def action_first(self) -> None:
        self.cursor = 0

    def action_last(self) -> None:
        self.cursor = self.total - 1

    def action_page_down(self) -> None:
        self.cursor += max(self.size.height - 2, 1)

    def action_page_up(self) -> None:
        self.cursor -= max(self.size.height - 2, 1)

    def action_open(self) -> None:
        current = self.current_id()
        if current is not None:
            self.post_message(self.Opened(current))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < self.total:
            if index == self.cursor and event.chain >= 2:
                self.action_open()
            self.cursor = index

    # painting -----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()
        self._row_styles.clear()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            header = self._lines.get(("header", width))
            if header is None:
                header = self._lines[("header", width)] = self._header(width)
            return header
        index = int(self.scroll_offset.y) + y - 1
        row = self.row(index)
        if row is None:
            return Strip.blank(width, self.rich_style)
        now = self.clock()
        waiting = short_duration(now - row.waiting_since) if row.waiting_since else ""
        due = due_label(row.sla_due_at, now)
        selected = index == self.cursor
        # Everything the line shows: the row, its states, the width and the clock's labels.
        key = (row, selected, row.id in self.selected, self.has_focus, width, waiting, due)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._lines[key] = self._row_strip(row, width, selected, waiting, due)
        return strip

    def _widths(self, width: int) -> list[tuple[str, int]]:
        """(column key, width) of the columns that fit `width`, the subject taking the rest."""
        columns = columns_for(width)
        fixed = sum(w for _, _, w in columns) + len(columns) - 1
        return [(key, w or max(width - fixed, 10)) for key, _, w in columns]

    def _header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("queue-list--header")
        cells = {key: (title, style) for key, title, _ in COLUMNS + NARROW_COLUMNS}
        return self._strip(cells, width, style)

    def _styles(self, unread: bool, selected: bool) -> dict[str, Style]:
        """A row's styles, worked out once per state: `rich_style` walks the ancestors (a
        third of the cost of a new row when a page of them scrolls in)."""
        key = (unread, selected, self.has_focus)
        styles = self._row_styles.get(key)
        if styles is None:
            base = self.rich_style
            if unread:
                base += self.get_component_rich_style("queue-list--unread")
            if selected:
                base += self.get_component_rich_style("queue-list--cursor")
            styles = {"": base}
            for name in ("muted", "overdue", "soon", "woken"):
                part = self.get_component_rich_style(f"queue-list--{name}", partial=True)
                styles[name] = base + part
            self._row_styles[key] = styles
        return styles

    def _row_strip(
        self, row: QueueRow, width: int, selected: bool, waiting: str, due: tuple[str, str]
    ) -> Strip:
        styles = self._styles(row.unread, selected)
        return self._strip(self._cells(row, styles, waiting, due), width, styles[""])

    def _cells(
        self,
        row: QueueRow,
        styles: dict[str, Style],
        waiting: str,
        due_and_urgency: tuple[str, str],
    ) -> dict[str, tuple[str, Style]]:
        base, muted = styles[""], styles["muted"]
        due, urgency = due_and_urgency
        due_style = styles[urgency] if urgency else muted
        customer = f"{TIER_BADGE.get(row.tier, '')}{clean_line(row.contact_name)}"
        status = "woken" if row.woken else row.status
        status_style = styles["woken"] if row.woken else muted
        tags = " ".join(clean_line(name) for name, _ in row.tags)
        marker = "●" if row.id in self.selected else CHANNEL_ICON.get(row.channel, "?")
        agent = _short_agent(row.assignee)
        return {
            "marker": (marker, base if row.id in self.selected else muted),
            "customer": (customer, base),
            "subject": (clean_line(row.subject), base),
            "tags": (tags, base + Style(color=row.tags[0][1]) if row.tags else muted),
            "waiting": (waiting, base),
            "sla": (due, due_style),
            "status": (status, status_style),
            "assignee": (agent, muted),
            "state": (f"{STATUS_MARK.get(status, '?')} {agent[:3]}", status_style),
        }

    def _strip(self, cells: dict[str, tuple[str, Style]], width: int, fill: Style) -> Strip:
        """One line: the cells cut to their widths, a space apart. Neighbours of one style are
        one segment (a row has 4-8, not 16): every segment costs again in Textual's line
        filters, the compositor and the escape codes of each frame a page move repaints."""
        segments: list[Segment] = []
        run, run_style = "", fill
        for key, cell_width in self._widths(width):
            text, style = cells[key]
            for part, part_style in ((set_cell_size(text, cell_width), style), (" ", fill)):
                if part_style == run_style:
                    run += part
                    continue
                if run:
                    segments.append(Segment(run, run_style))
                run, run_style = part, part_style
        if run:
            segments.append(Segment(run, run_style))
        return Strip(segments).adjust_cell_length(width, fill)


def columns_for(width: int) -> tuple[Column, ...]:
    """The columns for a width: tags go first (while the subject would get < MIN_SUBJECT),
    then at NARROW_WIDTH status and assignee fold into one marker."""
    if width <= NARROW_WIDTH:
        return NARROW_COLUMNS
    fixed = sum(w for _, _, w in COLUMNS) + len(COLUMNS) - 1
    if width - fixed >= MIN_SUBJECT:
        return COLUMNS
    return tuple(column for column in COLUMNS if column[0] != "tags")


def _short_agent(assignee: str | None) -> str:
    return "" if not assignee else assignee.split("@", 1)[0]
