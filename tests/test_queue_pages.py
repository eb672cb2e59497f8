"""Page keys in the queue land on the right row and paint it where the cursor is: PageDown and
PageUp move by a screenful less one row, G/g to the ends, and every painted row is the one
that belongs at its line. Oracle by hand: C000 wrote first, C001 a minute later, ... so
"needs reply" (longest waiting first) lists C000, C001, ... C119."""

from __future__ import annotations

from pathlib import Path

from console.app import FrontdeskApp
from console.widgets.queue_list import QueueList
from storage.store import Store
from tests.factories import customer, email

NOW = 1_800_000_000.0
COUNT = 120


def _store(db_path: Path) -> Store:
    store = Store(db_path, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    store.ingest(
        [
            email(
                account,
                f"<m{i}@x>",
                NOW - (COUNT - i) * 60,
                who=customer(f"c{i:03}@example.com", f"C{i:03}"),
                subject=f"Question {i}",
            )
            for i in range(COUNT)
        ]
    )
    return store


def _painted(qlist: QueueList) -> dict[int, str]:
    """Line on screen -> the customer painted there (rows only, under the header)."""
    lines = {}
    for y in range(1, qlist.size.height):
        text = qlist.render_line(y).text
        found = [word for word in text.split() if word.startswith("C") and word[1:].isdigit()]
        if found:
            lines[y] = found[0]
    return lines


def _cursor_line(qlist: QueueList) -> int:
    return qlist.cursor + 1 - int(qlist.scroll_offset.y)


def _check(qlist: QueueList, index: int) -> None:
    """The cursor is on row `index`, painted at its line, and every row is in order."""
    assert qlist.cursor == index
    painted = _painted(qlist)
    assert painted[_cursor_line(qlist)] == f"C{index:03}"
    top = int(qlist.scroll_offset.y)
    assert painted == {y: f"C{top + y - 1:03}" for y in painted}
    assert len(painted) == min(qlist.size.height - 1, COUNT - top)
    cursor_bg = qlist.get_component_rich_style("queue-list--cursor").bgcolor
    backgrounds = {y: next(iter(qlist.render_line(y))).style.bgcolor for y in painted}  # type: ignore[union-attr]
    assert [y for y, bg in backgrounds.items() if bg == cursor_bg] == [_cursor_line(qlist)]


async def test_page_keys_and_ends_land_on_the_right_row(db_path: Path) -> None:
    app = FrontdeskApp(_store(db_path), me="sam@x.test", agent_name="Sam", clock=lambda: NOW)
    async with app.run_test(size=(120, 24)) as pilot:
        qlist = app.screen.query_one(QueueList)
        step = qlist.size.height - 2
        assert step > 5
        _check(qlist, 0)
        await pilot.press("pagedown")
        _check(qlist, step)
        await pilot.press("pagedown")
        _check(qlist, 2 * step)
        await pilot.press("pageup")
        _check(qlist, step)
        await pilot.press("G")
        _check(qlist, COUNT - 1)
        await pilot.press("pageup")
        _check(qlist, COUNT - 1 - step)
        await pilot.press("g")
        _check(qlist, 0)
        await pilot.press("pageup")  # at the top: stays
        _check(qlist, 0)
        await pilot.press("end")
        await pilot.press("pagedown")  # at the end: stays
        _check(qlist, COUNT - 1)
        await pilot.press("home", "j", "j")
        _check(qlist, 2)
