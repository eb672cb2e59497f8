"""The console driven like an agent would: Pilot keys on the real app over a real store file."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from console import keymap
from console.app import FrontdeskApp, key_scopes
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.confirm import ConfirmScreen
from console.screens.conversation import ConversationScreen
from console.screens.queue import QueueScreen
from console.widgets.composer import Composer
from console.widgets.context_panel import ContextPanel
from console.widgets.queue_list import QueueList
from console.widgets.thread_view import ThreadView
from storage import queue
from storage.models import IdentityRef
from storage.policy import SimplePolicy
from storage.sanitize import clean_line
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email
from tests.waits import until_async

NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=lambda: NOW)
    build_demo(store, NOW)
    return store


def make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=AGENT.address, agent_name="Sam Rivera", clock=lambda: NOW)


def line_text(widget: QueueList, y: int) -> str:
    return "".join(segment.text for segment in widget.render_line(y))


async def test_queue_shows_the_most_urgent_conversation_first(db_path: Path) -> None:
    """Targets: standard 4 h, advanced (big.com) 1 h. Ann (standard) wrote 3 h ago: due in
    1 h; Boss (advanced) 30 min ago: due in 30 min; Cy (standard) 1 h ago: due in 3 h; Di was
    answered (pending): not in the queue. So: Boss, Ann, Cy."""
    policy = SimplePolicy(
        by_domain={"big.com": "advanced"}, first_response={"standard": 4 * HOUR, "advanced": HOUR}
    )
    store = Store(db_path, policy=policy, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    people = [
        ("Ann", "ann@x.com", NOW - 3 * HOUR),
        ("Boss", "boss@big.com", NOW - HOUR / 2),
        ("Cy", "cy@x.com", NOW - HOUR),
        ("Di", "di@x.com", NOW - 5 * HOUR),
    ]
    ids = {}
    for name, address, at in people:
        who = IdentityRef("email", address, name)
        msg = email(account, f"<{name}@x>", at, who=who, subject=f"{name}'s question")
        ids[name] = store.ingest([msg])[0].conversation_id
    answer = email(account, "<re-di@x>", NOW - 4 * HOUR, direction="out", parents=("<Di@x>",))
    store.ingest([answer])
    app = make_app(store)
    async with app.run_test(size=(140, 30)):
        qlist = app.screen.query_one(QueueList)
        assert qlist.total == 3
        shown = [qlist.row(i) for i in range(3)]
        assert [row.id if row else None for row in shown] == [ids["Boss"], ids["Ann"], ids["Cy"]]
        assert qlist.current_id() == ids["Boss"]
        assert "Boss's question" in line_text(qlist, 1)


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


async def test_q_on_the_queue_asks_before_quitting(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test() as pilot:
        await pilot.press("q")
        assert app.is_running and isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("q", "y")
    assert app.return_code == 0


async def test_ctrl_q_quits_at_once(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test() as pilot:
        await pilot.press("enter", "ctrl+q")
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
        await until_async(lambda: qlist.total == before + 1, "the new conversation listed")
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
        assert "\x1b" not in text and "\x07" not in text
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def test_queue_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("j", "j")

    assert snap_compare(make_app(demo_store), terminal_size=(150, 32), run_before=run_before)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Let background workers (view counts) finish so the screen is stable."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_first(pilot) -> ConversationScreen:  # type: ignore[no-untyped-def]
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


async def test_enter_opens_the_conversation_with_its_context(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        expected = app.screen.query_one(QueueList).current_id()
        screen = await open_first(pilot)
        assert screen.conversation_id == expected
        detail = demo_store.detail(screen.conversation_id)
        assert detail.contact.name in str(screen.query_one(ContextPanel).query_one(Static).render())
        assert not detail.conversation.unread
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


async def test_reply_goes_to_the_outbox_and_the_conversation_waits(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_first(pilot)
        cid = screen.conversation_id
        await pilot.press("r")
        await pilot.press(*"Fixed, thanks!")
        await pilot.press("ctrl+s")
        await pilot.pause()
        outbox = demo_store.due_outbox()
        assert [(o.conversation_id, o.body) for o in outbox] == [(cid, "Fixed, thanks!")]
        detail = demo_store.detail(cid)
        assert detail.conversation.status == "pending"
        assert detail.messages[-1].delivery == "queued"


async def test_escape_keeps_the_draft_for_next_time(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_first(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"half a thought")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, QueueScreen)
        assert demo_store.draft(cid, agent=AGENT.address) == "half a thought"
        await open_first(pilot)
        composer = app.screen.query_one(Composer)
        assert not composer.is_open  # the draft waits for `r`: keys stay commands
        await pilot.press("r")
        assert composer.editor.text == "half a thought"


async def test_note_is_internal_and_changes_no_status(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_first(pilot)
        status = demo_store.detail(screen.conversation_id).conversation.status
        await pilot.press("n", *"VIP, be kind", "ctrl+s")
        await pilot.pause()
        detail = demo_store.detail(screen.conversation_id)
        assert detail.messages[-1].direction == "note"
        assert detail.conversation.status == status
        assert demo_store.due_outbox() == []


async def test_next_and_previous_move_through_the_queue(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        ids = [r.id for r in demo_store.page(queue.needs_reply(), limit=3)]
        screen = await open_first(pilot)
        await pilot.press("J")
        assert screen.conversation_id == ids[1]
        await pilot.press("J", "K")
        assert screen.conversation_id == ids[1]


async def test_search_with_operators_shows_results_as_a_view(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("slash", *"tag:billing is:closed", "enter")
        qlist = app.screen.query_one(QueueList)
        assert qlist.view.name.startswith("search:")
        # The oracle is plain SQL, not the search parser.
        expected = {
            row[0]
            for row in demo_store.conn.execute(
                "SELECT c.id FROM conversations c JOIN conversation_tags x"
                " ON x.conversation_id = c.id JOIN tags t ON t.id = x.tag_id"
                " WHERE t.name = 'billing' AND c.status = 'closed'"
            )
        }
        assert qlist.total == len(expected) > 0
        assert {row.id for i in range(qlist.total) if (row := qlist.row(i))} == expected


async def test_bad_search_says_why_and_keeps_the_view(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("slash", *"is:sleeping", "enter")
        assert app.screen.query_one(QueueList).view.name == "needs reply"
        assert any("is:open" in str(n.message) for n in app._notifications)


async def test_close_from_the_queue_is_recorded(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        cid = app.screen.query_one(QueueList).current_id()
        assert cid is not None
        await pilot.press("e")
        detail = demo_store.detail(cid)
        assert detail.conversation.status == "closed"
        assert detail.events[-1].kind == "closed" and detail.events[-1].actor == "Sam Rivera"
        assert app.screen.query_one(QueueList).current_id() != cid


async def test_remapped_keys_work_and_clashes_are_named(demo_store: Store) -> None:
    keys = {"queue.down": "n", "action.close": "y"}
    app = FrontdeskApp(
        demo_store, me=AGENT.address, agent_name="Sam Rivera", clock=lambda: NOW, keys=keys
    )
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("n")
        assert app.screen.query_one(QueueList).cursor == 1
    assert keymap.problems(keys, key_scopes()) == []
    clash = keymap.problems({"action.close": "j"}, key_scopes())
    assert len(clash) == 2  # j moves in the queue and in the thread
    assert all("'j'" in c and "action.close" in c for c in clash)
    assert {"queue.down", "thread.down"} == {c.split()[-1] for c in clash}
    assert "not a binding id" in keymap.problems({"queue.clsoe": "x"}, key_scopes())[0]


async def test_palette_lists_actions_with_their_keys(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"close")
        await until_async(
            lambda: any(
                "Close (e)" in str(o.prompt) for o in app.screen.query_one(OptionList).options
            ),
            "Close (e) offered by the palette",
        )


def test_conversation_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(demo_store), terminal_size=(150, 36), run_before=run_before)


def test_help_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(demo_store), terminal_size=(150, 50), run_before=run_before)


async def test_a_full_disk_is_told_and_the_console_goes_on(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        pages = demo_store.conn.execute("PRAGMA page_count").fetchone()[0]
        demo_store.conn.execute(f"PRAGMA max_page_count = {pages}")  # no room to grow
        cid = app.screen.query_one(QueueList).current_id()
        big = "x" * 200_000
        await pilot.press("enter", "n")
        app.screen.query_one(Composer).editor.text = big
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert any("disk is full" in str(n.message) for n in app._notifications)
        assert app.is_running
        demo_store.conn.execute(f"PRAGMA max_page_count = {pages * 100}")
        await pilot.press("ctrl+s")  # the note is still in the composer: try again
        await pilot.pause()
        assert demo_store.detail(cid).messages[-1].text == big  # type: ignore[arg-type]


async def test_the_cursor_row_is_painted_where_it_is_after_scrolling(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(140, 14)) as pilot:
        qlist = app.screen.query_one(QueueList)
        await pilot.press(*["j"] * 30)
        await pilot.pause()
        assert qlist.scroll_offset.y > 0
        cursor_bg = qlist.get_component_rich_style("queue-list--cursor").bgcolor
        on_screen = qlist.cursor + 1 - int(qlist.scroll_offset.y)

        def background(y: int) -> object:
            return next(iter(qlist.render_line(y))).style.bgcolor  # type: ignore[union-attr]

        assert background(on_screen) == cursor_bg
        assert all(background(y) != cursor_bg for y in range(1, 12) if y != on_screen)
        row = qlist.row(qlist.cursor)
        assert row is not None and clean_line(row.contact_name)[:10] in line_text(qlist, on_screen)


def thread_text(app: FrontdeskApp) -> str:
    return "\n".join(strip.text.rstrip() for strip in app.screen.query_one(ThreadView).lines())


def visible_thread_text(app: FrontdeskApp) -> str:
    thread = app.screen.query_one(ThreadView)
    return "\n".join(thread.render_line(y).text.rstrip() for y in range(thread.size.height))


async def test_a_long_thread_opens_at_its_end_and_scrolls_back_to_its_start(
    db_path: Path,
) -> None:
    store = Store(db_path, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    msgs = [
        email(
            account,
            f"<m{i}@x>",
            NOW - 10_000 + i,
            text=f"message number {i}",
            parents=(f"<m{i - 1}@x>",) if i else (),
        )
        for i in range(200)
    ]
    store.ingest(msgs)
    app = make_app(store)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        shown = visible_thread_text(app)
        assert "message number 199" in shown and "message number 198" in shown
        assert "message number 100 " not in shown + " "
        await pilot.pause()  # the earlier messages are laid out a refresh or two later
        await pilot.pause()
        body = thread_text(app)
        assert all(f"message number {i}\n" in body + "\n" for i in range(200))
        assert body.index("message number 0\n") < body.index("message number 199")
        thread = app.screen.query_one(ThreadView)
        assert "message number 199" in visible_thread_text(app)  # still at the end
        thread.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert "message number 0\n" in visible_thread_text(app) + "\n"


async def test_other_consoles_presence_does_not_redraw_the_thread(
    demo_store: Store, db_path: Path
) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        thread = screen.query_one(ThreadView)
        drawn = thread._lines
        other = Store(db_path, clock=FakeClock(NOW))
        other.heartbeat("Kim Osei", screen.conversation_id, "viewing")
        # The app has seen the commit (its poll took the new data_version) and refreshed.
        await until_async(
            lambda: app._data_version == demo_store.data_version(), "the poll after the heartbeat"
        )
        await pilot.pause()
        assert thread._lines is drawn  # nothing in the conversation changed: no new layout
        other.add_note(screen.conversation_id, "Kim Osei", "Called them, all good")
        other.close()
        await until_async(lambda: "Called them, all good" in thread_text(app), "the new note")
        assert thread._lines is not drawn


async def test_search_finds_a_colleagues_conversations_by_first_name(demo_store: Store) -> None:
    """`assignee:quinn` in the search box means the configured agent Quinn, not a literal."""
    ids = [row.id for row in demo_store.page(queue.needs_reply(), limit=2)]
    for cid in ids:
        demo_store.assign(cid, "Sam Rivera", "quinn.ortega@example.net")
    app = FrontdeskApp(
        demo_store,
        me=AGENT.address,
        agent_name="Sam Rivera",
        clock=lambda: NOW,
        agents=[("Sam Rivera", AGENT.address), ("Quinn Ortega", "quinn.ortega@example.net")],
    )
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("slash", *"assignee:quinn", "enter")
        qlist = app.screen.query_one(QueueList)
        assert qlist.view.name.startswith("search:")
        assert qlist.total == 2
        assert {qlist.current_id()} <= set(ids)
