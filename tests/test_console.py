"""The console driven like an agent would: Pilot keys on the real app over a real store file."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.widgets.queue_list import QueueList
from storage import queue
from storage.models import IdentityRef
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email

NOW = 1_800_000_000.0


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=lambda: NOW)
    build_demo(store, NOW)
    return store


def make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=AGENT.address, clock=lambda: NOW)


def line_text(widget: QueueList, y: int) -> str:
    return "".join(segment.text for segment in widget.render_line(y))


async def test_queue_shows_the_most_urgent_conversation_first(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(140, 30)):
        qlist = app.screen.query_one(QueueList)
        first = demo_store.page(queue.needs_reply(), limit=1)[0]
        assert qlist.total == demo_store.count(queue.needs_reply()) > 20
        assert qlist.current_id() == first.id
        assert first.subject[:20] in line_text(qlist, 1)


async def test_keys_move_the_cursor_and_switch_views(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(140, 30)) as pilot:
        qlist = app.screen.query_one(QueueList)
        await pilot.press("j", "j", "j", "k")
        assert qlist.cursor == 2
        await pilot.press("G")
        assert qlist.cursor == qlist.total - 1
        await pilot.press("g")
        assert qlist.cursor == 0
        await pilot.press("6")
        closed = demo_store.page(queue.by_status("closed"), limit=1)[0]
        assert qlist.view.name == "closed" and qlist.current_id() == closed.id


async def test_scrolling_far_down_pages_from_the_store(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(140, 20)) as pilot:
        await pilot.press("6")  # closed: more than one page of rows
        qlist = app.screen.query_one(QueueList)
        expected = [r.id for r in demo_store.page(queue.by_status("closed"), limit=500)]
        for _ in range(len(expected) - 1):
            qlist.action_cursor_down()
        await pilot.pause()
        assert qlist.current_id() == expected[-1]
        assert qlist.scroll_offset.y > 0


async def test_q_quits(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test() as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_changes_by_another_process_appear_and_the_cursor_stays(
    demo_store: Store, db_path: Path
) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(140, 30)) as pilot:
        qlist = app.screen.query_one(QueueList)
        await pilot.press("j", "j")
        watched = qlist.current_id()
        before = qlist.total
        other = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
        account = other.ensure_account("Support mail", "imap")
        urgent = IdentityRef("email", "boss@bigcustomer.com", "Big Boss")
        other.ingest([email(account, "<urgent@x>", NOW - 7200, who=urgent, subject="Down!")])
        other.close()
        await pilot.pause(1.2)  # two data_version polls
        assert qlist.total == before + 1
        assert qlist.current_id() == watched


async def test_hostile_subject_is_shown_literally(db_path: Path) -> None:
    store = Store(db_path, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    nasty = IdentityRef("email", "x@evil.test", "[b]Eve[/b]\x1b[31m")
    subject = "[bold red]x[/] \x1b]0;pwned\x07\x9b31m done"
    store.ingest([email(account, "<1@x>", NOW - 60, who=nasty, subject=subject)])
    app = make_app(store)
    async with app.run_test(size=(140, 10)):
        text = line_text(app.screen.query_one(QueueList), 1)
        assert "[bold red]x[/]" in text and "[b]Eve[/b]" in text
        assert "pwned" not in text or "\x1b" not in text
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def test_queue_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(demo_store), terminal_size=(150, 32), press=["j", "j"])
