"""Keys that never surprise (issue 17), driven with Pilot on the real app over a real store."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_KNOWLEDGE, DEMO_POLICY, build_demo
from console.macros import Macro, MacroStep
from console.screens.conversation import ConversationScreen
from console.screens.help import HelpScreen
from console.screens.knowledge import KnowledgeScreen
from console.screens.queue import QueueScreen, standard_views
from console.screens.reports import ReportsScreen
from console.widgets.composer import Composer
from console.widgets.queue_list import QueueList
from console.widgets.thread_view import ThreadView
from storage import queue
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email
from tests.waits import until_async

NOW = 1_800_000_000.0


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    return store


def make_app(store: Store, **kwargs: object) -> FrontdeskApp:
    return FrontdeskApp(
        store,
        me=AGENT.address,
        agent_name="Sam Rivera",
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


async def open_current(pilot) -> ConversationScreen:  # type: ignore[no-untyped-def]
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


def outbox_bodies(store: Store) -> list[str]:
    return [str(r[0]) for r in store.conn.execute("SELECT body FROM outbox ORDER BY id")]


# back and quit ------------------------------------------------------------------------------


async def test_q_goes_back_one_screen_and_never_quits_from_a_conversation(
    demo_store: Store,
) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await open_current(pilot)
        await pilot.press("q")
        assert app.is_running and isinstance(app.screen, QueueScreen)
        await pilot.press("R")
        assert isinstance(app.screen, ReportsScreen)
        await pilot.press("q")
        assert app.is_running and isinstance(app.screen, QueueScreen)


async def test_q_in_the_composer_is_text(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        await pilot.press("r", *"quick question")
        assert screen.query_one(Composer).editor.text == "quick question"
        assert app.screen is screen


async def test_ctrl_c_tells_how_to_quit_in_plain_text(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
        [note] = [n for n in app._notifications if "quit" in n.message]
        assert "[b]" not in note.message and "ctrl+q" in note.message
        assert app.is_running


# the thread -----------------------------------------------------------------------------------


@pytest.fixture
def long_store(db_path: Path) -> Store:
    """One conversation of 60 six-line messages: many screens of thread."""
    store = Store(db_path, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    body = "\n".join(f"line {n}" for n in range(5))
    store.ingest(
        [
            email(
                account,
                f"<m{i}@x>",
                NOW - 10_000 + i,
                text=f"message number {i}\n{body}",
                parents=(f"<m{i - 1}@x>",) if i else (),
            )
            for i in range(60)
        ]
    )
    return store


def top_line(thread: ThreadView) -> str:
    """The message at the top of the view: its header line and first text line."""
    return " ".join(thread.render_line(y).text.strip() for y in (0, 1))


async def test_thread_moves_like_vim(long_store: Store) -> None:
    app = make_app(long_store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_current(pilot)
        thread = screen.query_one(ThreadView)
        await pilot.pause()
        await pilot.pause()
        bottom = thread.scroll_y
        assert bottom == thread.max_scroll_y > 0
        await pilot.press("k", "k", "k")
        assert thread.scroll_y == bottom - 3
        await pilot.press("j")
        assert thread.scroll_y == bottom - 2
        half = thread.scrollable_content_region.height // 2
        await pilot.press("ctrl+u")
        assert thread.scroll_y == bottom - 2 - half
        await pilot.press("ctrl+d")
        assert thread.scroll_y == bottom - 2
        await pilot.press("g", "g")
        assert thread.scroll_y == 0
        assert "message number 0" in top_line(thread)
        await pilot.press("right_square_bracket")
        assert "message number 1" in top_line(thread)
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert "message number 3" in top_line(thread)
        await pilot.press("left_square_bracket")
        assert "message number 2" in top_line(thread)
        await pilot.press("G")
        assert thread.scroll_y == thread.max_scroll_y
        assert isinstance(app.screen, ConversationScreen)  # `k` never opened anything


# the knowledge base ------------------------------------------------------------------------


async def test_question_marks_mid_word_are_text(demo_store: Store) -> None:
    app = make_app(demo_store, knowledge_folder=DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = await open_current(pilot)
        await pilot.press("r", *"Really??")
        await pilot.pause()
        assert app.screen is screen
        assert screen.composer.editor.text == "Really??"


async def test_escape_from_the_knowledge_base_keeps_what_was_typed(demo_store: Store) -> None:
    app = make_app(demo_store, knowledge_folder=DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = await open_current(pilot)
        await pilot.press("r", *"See ??")
        await pilot.pause()
        assert isinstance(app.screen, KnowledgeScreen)
        await pilot.press("escape")
        assert app.screen is screen
        assert screen.composer.editor.text == "See ??"
        assert screen.composer.editor.has_focus


async def test_b_opens_the_knowledge_base_and_k_does_not(demo_store: Store) -> None:
    app = make_app(demo_store, knowledge_folder=DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        await open_current(pilot)
        await pilot.press("k")
        assert isinstance(app.screen, ConversationScreen)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, KnowledgeScreen)


# send and close ------------------------------------------------------------------------------


async def test_ctrl_o_sends_and_closes(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"All done", "ctrl+o")
        await pilot.pause()
        assert outbox_bodies(demo_store) == ["All done"]
        assert demo_store.detail(cid).conversation.status == "closed"


# palette and help --------------------------------------------------------------------------


MACRO = Macro("Escalate [@click=app.quit]", "ctrl+g", (MacroStep("tag", "escalated"),))


def with_saved_views(store: Store) -> list[queue.View]:
    views = standard_views(AGENT.address)
    return views + [replace(queue.by_status("closed"), name=f"saved {n}") for n in (9, 10)]


async def palette_shows(  # type: ignore[no-untyped-def]
    pilot, query: str, expect: str, *, first: bool = False
) -> None:
    """Type `query` into the palette and wait until `expect` is among its titles (or, with
    `first`, at the top). The palette searches in a worker: wait for its result, with a
    deadline, never a fixed pause."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*query)

    def titles() -> list[str]:
        options = pilot.app.screen.query_one(OptionList).options
        return [str(o.prompt).split("\n")[0] for o in options]

    def ready() -> bool:
        return titles()[:1] == [expect] if first else expect in titles()

    await until_async(ready, f"{expect!r} {'first ' if first else ''}in the palette")


async def test_palette_lists_macros_and_views_past_the_ninth(demo_store: Store) -> None:
    app = make_app(demo_store, macros=[MACRO], views=with_saved_views(demo_store))
    async with app.run_test(size=(150, 40)) as pilot:
        await palette_shows(pilot, "saved 10", "View: saved 10", first=True)
        await pilot.press("escape")
        await palette_shows(pilot, "escalate", "Macro: Escalate [@click=app.quit] (ctrl+g)")
        await pilot.press("escape")
        await palette_shows(pilot, "saved 10", "View: saved 10", first=True)  # enter takes it
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one(QueueList).view.name == "saved 10"


async def test_help_lists_macros(demo_store: Store) -> None:
    app = make_app(demo_store, macros=[MACRO])
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=200, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        text = console.export_text()
        assert "Macro: Escalate [@click=app.quit]" in text


async def test_help_explains_the_queue_marks(demo_store: Store) -> None:
    """The demo's rows carry ★, ·, ✉, # and bold: `?` says what each means."""
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        console = Console(width=200, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        lines = console.export_text().splitlines()
        for mark, meaning in [
            ("★", "advanced tier"),
            ("·", "basic tier"),
            ("✉  #", "email, Slack"),
            ("bold row", "unread"),
            ("over 2h", "SLA breached (red), due soon (yellow)"),
        ]:
            assert any(line.lstrip().startswith(mark) and meaning in line for line in lines), mark


# search ---------------------------------------------------------------------------------------


def toast_texts(app: FrontdeskApp) -> list[str]:
    from textual.widgets._toast import Toast

    return [str(toast.render()) for toast in app.screen.query(Toast)]


async def search_for(pilot, query: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash", *query, "enter")
    await pilot.pause()


@pytest.mark.parametrize("query", ["is:[/b]", "is:[@click=app.quit]", "before:[b]x[/b"])
async def test_search_errors_are_text_never_markup(demo_store: Store, query: str) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40), notifications=True) as pilot:
        await search_for(pilot, query)
        await pilot.pause()
        assert app.is_running
        shown = " ".join(toast_texts(app))
        assert query.split(":", 1)[1] in shown


async def test_a_notification_quoting_a_name_shows_it_literally(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40), notifications=True) as pilot:
        app.screen.notify("Macro [@click=app.quit]: 1 conversation(s)")  # markup=True by default
        await pilot.pause()
        assert any("Macro [@click=app.quit]:" in text for text in toast_texts(app))


async def test_escape_clears_search_results_and_the_count_stays_visible(
    demo_store: Store,
) -> None:
    views = with_saved_views(demo_store) + [
        replace(queue.by_status("closed"), name=f"a long saved view name {n}") for n in range(8)
    ]
    app = make_app(demo_store, views=views)
    async with app.run_test(size=(160, 40)) as pilot:
        qlist = app.screen.query_one(QueueList)
        await pilot.press("4")
        before = qlist.view
        await search_for(pilot, "tag:billing")
        assert qlist.view.name.startswith("search:")
        bar = app.screen.query_one("#view-bar", Static)
        visible = "".join(bar.render_line(0).text for _ in [0])[:160]
        assert f"{qlist.total} found" in visible
        await pilot.press("escape")
        assert qlist.view == before
        assert "found" not in bar.render_line(0).text


# auto-advance ---------------------------------------------------------------------------------


async def test_close_and_send_advance_to_the_next_conversation_of_the_view(
    demo_store: Store,
) -> None:
    ids = [r.id for r in demo_store.page(queue.needs_reply(), limit=4)]
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        assert screen.conversation_id == ids[0]
        await pilot.press("e")
        await pilot.pause()
        assert demo_store.detail(ids[0]).conversation.status == "closed"
        assert app.screen is screen and screen.conversation_id == ids[1]
        await pilot.press("r", *"Done", "ctrl+s")
        await pilot.pause()
        assert outbox_bodies(demo_store) == ["Done"]
        assert screen.conversation_id == ids[2]
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")  # the first preset
        await pilot.pause()
        assert demo_store.detail(ids[2]).conversation.status == "snoozed"
        assert screen.conversation_id == ids[3]


@pytest.mark.parametrize("advance", ["stay", "queue"])
async def test_advance_can_stay_or_return_to_the_queue(demo_store: Store, advance: str) -> None:
    app = make_app(demo_store, advance=advance)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("e")
        await pilot.pause()
        assert demo_store.detail(cid).conversation.status == "closed"
        if advance == "stay":
            assert app.screen is screen and screen.conversation_id == cid
        else:
            assert isinstance(app.screen, QueueScreen)


async def test_the_last_conversation_of_a_view_advances_to_the_queue(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("G")
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("e")
        await pilot.pause()
        assert demo_store.detail(cid).conversation.status == "closed"
        assert isinstance(app.screen, QueueScreen)
