"""Reply and note cannot be confused (issue 14): separate modes, drafts per agent and mode.

Driven with Pilot on the real app over a real store file; the outbox is read with SQL so a
note queued by mistake cannot hide behind a filter of the product's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.conversation import ConversationScreen
from console.screens.queue import QueueScreen
from console.widgets.composer import Composer
from storage.store import Store
from tests.conftest import FakeClock

NOW = 1_800_000_000.0
SAM = ("Sam Rivera", AGENT.address)
KIM = ("Kim Osei", "kim@frontdesk.demo")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def demo_store(db_path: Path, clock: FakeClock) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=clock)
    build_demo(store, NOW)
    return store


def make_app(store: Store, clock: FakeClock, agent: tuple[str, str] = SAM) -> FrontdeskApp:
    name, address = agent
    return FrontdeskApp(store, me=address, agent_name=name, agents=[SAM, KIM], clock=clock)


def outbox_rows(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


async def open_current(pilot) -> ConversationScreen:  # type: ignore[no-untyped-def]
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    return screen


async def test_draft_then_note_saves_a_note_and_sends_nothing(
    demo_store: Store, clock: FakeClock
) -> None:
    """The sequence of issue 14: saved reply draft, open, `n`, a note, ctrl+s."""
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"hello")
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, QueueScreen)
        screen = await open_current(pilot)
        composer = screen.query_one(Composer)
        assert not composer.is_open
        assert not composer.editor.has_focus
        assert "reply draft" in str(screen.query_one("#conversation-drafts").render())
        await pilot.press("n", *"line 1 of a long note", "ctrl+s")
        await pilot.pause()
        last = demo_store.detail(cid).messages[-1]
        assert (last.direction, last.text) == ("note", "line 1 of a long note")
        assert outbox_rows(demo_store) == 0
        assert demo_store.draft(cid, agent=SAM[1], mode="reply") == "hello"
        await pilot.press("r")
        assert composer.mode == "reply" and composer.editor.text == "hello"


async def test_note_and_reply_look_different(demo_store: Store, clock: FakeClock) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        composer = screen.query_one(Composer)
        await pilot.press("n")
        await pilot.pause()
        assert composer.title == "Internal note - never sent"
        note_colour = composer.styles.border_top[1]
        await pilot.press("escape", "r")
        await pilot.pause()
        assert composer.title.startswith("Reply to ")
        assert composer.styles.border_top[1] != note_colour


async def test_escape_from_a_note_keeps_it(demo_store: Store, clock: FakeClock) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("n", *"half a note", "escape")
        assert demo_store.draft(cid, agent=SAM[1], mode="note") == "half a note"
        assert demo_store.draft(cid, agent=SAM[1], mode="reply") == ""
        await pilot.press("escape")  # back to the queue, then in again
        screen = await open_current(pilot)
        await pilot.press("n")
        assert screen.query_one(Composer).editor.text == "half a note"


async def test_switching_mode_keeps_each_text_in_its_own_draft(
    demo_store: Store, clock: FakeClock
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        composer = screen.query_one(Composer)
        await pilot.press("r", *"to the customer", "escape", "n", *"for us")
        assert composer.mode == "note" and composer.editor.text == "for us"
        await pilot.press("escape", "r")
        assert composer.editor.text == "to the customer"
        assert demo_store.draft(cid, agent=SAM[1], mode="note") == "for us"


async def test_a_second_agent_does_not_see_the_first_agents_draft(
    demo_store: Store, clock: FakeClock, db_path: Path
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"Sam's private words", "escape", "escape")
    kims_store = Store(db_path, policy=DEMO_POLICY, clock=clock)
    kim = make_app(kims_store, clock, agent=KIM)
    async with kim.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        assert screen.conversation_id == cid
        assert not screen.query_one("#conversation-drafts").display
        await pilot.press("r")
        assert screen.query_one(Composer).editor.text == ""
    kims_store.close()
    assert demo_store.draft(cid, agent=SAM[1]) == "Sam's private words"
