"""Agent workflow by keyboard: canned replies, tags, snooze, bulk, macros, undo, collisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

import console.app
from console.app import FrontdeskApp
from console.canned import TemplateProblem, render, variables
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.macros import Macro, MacroStep
from console.screens.conversation import ConversationScreen
from console.widgets.picker import Picker
from console.widgets.queue_list import QueueList
from storage import queue
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email
from tests.waits import until_async

NOW = 1_800_000_000.0
AGENTS = [("Sam Rivera", "sam@frontdesk.demo"), ("Kim Osei", "kim@frontdesk.demo")]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def demo_store(db_path: Path, clock: FakeClock) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=clock)
    build_demo(store, NOW)
    return store


def make_app(store: Store, clock: FakeClock, **kwargs: object) -> FrontdeskApp:
    return FrontdeskApp(
        store,
        me=AGENT.address,
        agent_name="Sam Rivera",
        agents=AGENTS,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def qlist(app: FrontdeskApp) -> QueueList:
    return app.screen.query_one(QueueList)


async def open_current(pilot) -> ConversationScreen:  # type: ignore[no-untyped-def]
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(pilot.app.screen, ConversationScreen)
    return pilot.app.screen


async def pick(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(pilot.app.screen, Picker)
    await pilot.press(*text, "enter")
    await pilot.pause()


# canned replies ---------------------------------------------------------------------------


def test_canned_reply_is_personalised_and_undefined_names_the_variable(
    demo_store: Store,
) -> None:
    cid = demo_store.page(queue.needs_reply(), limit=1)[0].id
    values = variables(demo_store.detail(cid), "Sam Rivera", "sam@x")
    first = demo_store.detail(cid).contact.name.split()[0]
    assert render("hi", "Hi {{ contact.first_name }}, {{ agent.first_name }} here", values) == (
        f"Hi {first}, Sam here"
    )
    with pytest.raises(TemplateProblem, match=r"contact.nickname"):
        render("oops", "Hi {{ contact.nickname }}", values)
    with pytest.raises(TemplateProblem, match="line 2"):
        render("broken", "ok\n{% if %}", values)
    with pytest.raises(TemplateProblem, match="not allowed"):
        render("evil", "{{ contact.__class__.__mro__ }}", values)


async def test_canned_reply_inserted_at_the_cursor_twice(
    demo_store: Store, clock: FakeClock
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        first = demo_store.detail(screen.conversation_id).contact.name.split()[0]
        await pilot.press("r", *"Note: ")
        await pilot.press("ctrl+r")
        await pick(pilot, "thanks looking")
        await pilot.press("ctrl+r")
        await pick(pilot, "password reset")
        text = screen.composer.editor.text
        assert text.startswith(f"Note: Hi {first},")
        assert "Settings → Security" in text and "Sam Rivera" in text


async def test_canned_reply_with_unknown_variable_is_not_inserted(
    demo_store: Store, clock: FakeClock
) -> None:
    demo_store.upsert_canned_reply(
        "Bad", "Hi {{ contact.nickname }}", shortcut=None, folder="", source="agent"
    )
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        await pilot.press("c")
        await pick(pilot, "Bad")
        assert not screen.composer.is_open or screen.composer.editor.text == ""
        assert any("contact.nickname" in str(n.message) for n in app._notifications)


async def test_c_in_the_queue_opens_the_conversation_with_the_picker(
    demo_store: Store, clock: FakeClock
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        await pick(pilot, "feature shipped")
        assert isinstance(app.screen, ConversationScreen)
        assert "Good news" in app.screen.composer.editor.text


# tags, assignment, bulk, undo -------------------------------------------------------------


async def test_tag_picker_toggles_and_creates_tags(demo_store: Store, clock: FakeClock) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        cid = qlist(app).current_id()
        assert cid is not None
        await pilot.press("t")
        await pick(pilot, "vip-escalation")
        assert "vip-escalation" in dict(demo_store.detail(cid).tags)
        await pilot.press("t")
        await pick(pilot, "vip-escal")
        assert "vip-escalation" not in dict(demo_store.detail(cid).tags)
        kinds = [e.kind for e in demo_store.detail(cid).events][-2:]
        assert kinds == ["tagged", "untagged"]


async def test_bulk_select_then_tag_snooze_and_undo(demo_store: Store, clock: FakeClock) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        ids = [qlist(app).row(i).id for i in range(3)]  # type: ignore[union-attr]
        await pilot.press("x", "x", "x")
        assert qlist(app).selected == set(ids)
        await pilot.press("t")
        await pick(pilot, "billing")
        assert all("billing" in dict(demo_store.detail(i).tags) for i in ids)
        assert qlist(app).selected == set()
        await pilot.press("x", "x", "x")  # the cursor moved on: three more
        chosen = set(qlist(app).selected)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")  # first preset: later today
        await pilot.pause()
        assert {demo_store.detail(i).conversation.status for i in chosen} == {"snoozed"}
        await pilot.press("u")
        assert {demo_store.detail(i).conversation.status for i in chosen} == {"open"}
        assert demo_store.detail(min(chosen)).events[-1].kind == "undone"


async def test_assign_from_the_agent_list(demo_store: Store, clock: FakeClock) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        cid = qlist(app).current_id()
        assert cid is not None
        await pilot.press("a")
        await pick(pilot, "kim")
        assert demo_store.detail(cid).conversation.assignee == "kim@frontdesk.demo"
        await pilot.press("A")
        assert demo_store.detail(cid).conversation.assignee == AGENT.address


# snooze -----------------------------------------------------------------------------------


async def test_snooze_free_text_previews_and_refuses_the_past(
    demo_store: Store, clock: FakeClock
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#snooze-when", Input).focus()
        await pilot.press(*"yesterday")
        preview = str(app.screen.query_one("#snooze-preview").render())
        assert "in the past" in preview
        await pilot.press("enter")
        assert demo_store.detail(cid).conversation.status != "snoozed"
        app.screen.query_one("#snooze-when", Input).value = ""
        await pilot.press(*"in 3 days")
        assert "Wakes" in str(app.screen.query_one("#snooze-preview").render())
        app.screen.query_one("#snooze-note", Input).value = "waiting for the parcel"
        await pilot.press("ctrl+s")
        await pilot.pause()
        conv = demo_store.detail(cid).conversation
        assert conv.status == "snoozed" and conv.snooze_note == "waiting for the parcel"
        assert conv.snoozed_until == pytest.approx(NOW + 3 * 86400, abs=60)


async def test_snoozed_conversation_wakes_on_time_to_the_top(
    demo_store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.app, "WAKE_SECONDS", 0.05)  # the app's own timer, sooner
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("j", "j", "j")
        cid = qlist(app).current_id()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")  # later today: in 3 hours
        await pilot.pause()
        assert cid not in [qlist(app).row(i).id for i in range(5)]  # type: ignore[union-attr]
        clock.advance(3 * 3600 + 1)
        await until_async(
            lambda: (row := qlist(app).row(0)) is not None and row.id == cid and row.woken,
            "woken at the top",
        )


async def test_customer_reply_wakes_a_snoozed_conversation(
    demo_store: Store, clock: FakeClock, db_path: Path
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        cid = qlist(app).current_id()
        assert cid is not None
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        thread_ref = demo_store.detail(cid).messages[0]
        other = Store(db_path, policy=DEMO_POLICY, clock=clock)
        row = other.conn.execute(
            "SELECT account_id, remote_id FROM messages WHERE id = ?", (thread_ref.id,)
        ).fetchone()
        who = demo_store.detail(cid).contact.identities[0]
        clock.advance(60)
        other.ingest([email(row[0], "<wake@x>", clock.now, who=who, parents=(row[1],))])
        other.close()
        await until_async(
            lambda: (row := qlist(app).row(0)) is not None and row.id == cid, "woken at the top"
        )
        assert demo_store.detail(cid).conversation.status == "open"


# macros -----------------------------------------------------------------------------------


async def test_macro_runs_its_steps_and_undoes_as_one(demo_store: Store, clock: FakeClock) -> None:
    macro = Macro(
        "Escalate",
        "ctrl+e",
        (
            MacroStep("tag", "escalated"),
            MacroStep("assign", "kim@frontdesk.demo"),
            MacroStep("close"),
        ),
    )
    app = make_app(demo_store, clock, macros=[macro])
    async with app.run_test(size=(150, 40)) as pilot:
        cid = qlist(app).current_id()
        assert cid is not None
        before = demo_store.detail(cid).conversation
        await pilot.press("ctrl+e")
        conv = demo_store.detail(cid)
        assert "escalated" in dict(conv.tags)
        assert (conv.conversation.assignee, conv.conversation.status) == (
            "kim@frontdesk.demo",
            "closed",
        )
        await pilot.press("u")
        conv = demo_store.detail(cid)
        assert "escalated" not in dict(conv.tags)
        assert conv.conversation.status == before.status
        assert conv.conversation.assignee == before.assignee


async def test_macro_with_a_canned_step_fills_the_composer(
    demo_store: Store, clock: FakeClock
) -> None:
    macro = Macro(
        "Shipped",
        "ctrl+g",
        (MacroStep("canned", "Feature shipped"), MacroStep("tag", "followed-up")),
    )
    app = make_app(demo_store, clock, macros=[macro])
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        await pilot.press("ctrl+g")
        assert "Good news" in screen.composer.editor.text
        assert "followed-up" in dict(demo_store.detail(screen.conversation_id).tags)


# collisions and presence ------------------------------------------------------------------


async def test_new_customer_message_while_replying_asks_before_sending(
    demo_store: Store, clock: FakeClock, db_path: Path
) -> None:
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"Here is the fix")
        first = demo_store.detail(cid).messages[0]
        other = Store(db_path, policy=DEMO_POLICY, clock=clock)
        row = other.conn.execute(
            "SELECT account_id, remote_id FROM messages WHERE id = ?", (first.id,)
        ).fetchone()
        who = demo_store.detail(cid).contact.identities[0]
        other.ingest(
            [
                email(
                    row[0],
                    "<late@x>",
                    clock.now + 5,
                    who=who,
                    parents=(row[1],),
                    text="Never mind, it works now!",
                )
            ]
        )
        other.close()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "it works now" in str(app.screen.query_one("Static").render())
        await pilot.press("n")
        assert demo_store.due_outbox() == []
        await pilot.press("ctrl+s", "y")
        await pilot.pause()
        assert [o.body for o in demo_store.due_outbox()] == ["Here is the fix"]


def customer_writes(
    store: Store, db_path: Path, clock: FakeClock, cid: int, key: str, text: str
) -> None:
    """Another process (the sync) stores a customer message in the conversation."""
    first = store.detail(cid).messages[0]
    other = Store(db_path, policy=DEMO_POLICY, clock=clock)
    row = other.conn.execute(
        "SELECT account_id, remote_id FROM messages WHERE id = ?", (first.id,)
    ).fetchone()
    who = store.detail(cid).contact.identities[0]
    clock.advance(5)
    other.ingest([email(row[0], key, clock.now, who=who, parents=(row[1],), text=text)])
    other.close()


async def test_collision_check_runs_at_every_send(
    demo_store: Store, clock: FakeClock, db_path: Path
) -> None:
    """After "back", a newer customer message warns again (issue 14: "CANCEL my order")."""
    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await open_current(pilot)
        cid = screen.conversation_id
        await pilot.press("r", *"Shipped today")
        customer_writes(demo_store, db_path, clock, cid, "<late1@x>", "Where is it?")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Where is it?" in str(app.screen.query_one("Static").render())
        await pilot.press("n")  # back to the reply
        customer_writes(demo_store, db_path, clock, cid, "<late2@x>", "CANCEL my order")
        await pilot.press("ctrl+s")
        await pilot.pause()
        warning = str(app.screen.query_one("Static").render())
        assert "CANCEL my order" in warning and "Where is it?" not in warning
        assert demo_store.due_outbox() == []
        await pilot.press("n", "ctrl+s")  # nothing new since: goes without a question
        await pilot.pause()
        assert [o.body for o in demo_store.due_outbox()] == ["Shipped today"]


async def test_two_consoles_see_each_other(
    demo_store: Store, clock: FakeClock, db_path: Path
) -> None:
    kim_store = Store(db_path, policy=DEMO_POLICY, clock=clock)
    sam = make_app(demo_store, clock)
    kim = FrontdeskApp(kim_store, me="kim@frontdesk.demo", agent_name="Kim Osei", clock=clock)
    async with sam.run_test(size=(150, 40)) as sam_pilot, kim.run_test(size=(150, 40)) as kim_pilot:
        sam_screen = await open_current(sam_pilot)
        kim_screen = await open_current(kim_pilot)
        assert sam_screen.conversation_id == kim_screen.conversation_id
        await kim_pilot.press("r")
        with sam._context():  # two apps in one test: act as Sam's console
            sam_screen._heartbeat()
        presence = str(sam_screen.query_one("#conversation-presence").render())
        assert "Kim Osei is replying" in presence
        await sam_pilot.press("r", *"hello", "ctrl+s")
        await sam_pilot.pause()
        assert type(sam.screen).__name__ == "ConfirmScreen"  # asked, not sent silently
        assert demo_store.due_outbox() == []
    kim_store.close()


def test_tag_picker_snapshot(demo_store: Store, clock: FakeClock, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.press("t", *"bil")
        await pilot.pause()

    assert snap_compare(make_app(demo_store, clock), terminal_size=(120, 30), run_before=run_before)


def test_canned_picker_snapshot(demo_store: Store, clock: FakeClock, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("c", *"ship")
        await pilot.pause()

    assert snap_compare(make_app(demo_store, clock), terminal_size=(120, 30), run_before=run_before)


def test_snooze_picker_snapshot(demo_store: Store, clock: FakeClock, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.press("s")
        await pilot.pause()

    assert snap_compare(make_app(demo_store, clock), terminal_size=(120, 30), run_before=run_before)


async def test_agents_write_and_edit_canned_replies_in_the_console(
    demo_store: Store, clock: FakeClock
) -> None:
    from console.screens.canned_editor import CannedEditor

    app = make_app(demo_store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await open_current(pilot)
        await pilot.press("c", *"Holiday hours", "ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, CannedEditor)
        body = app.screen.query_one("#canned-body", TextArea)
        body.text = "Hi {{ contact.nickname }}"
        await pilot.press("ctrl+s")
        problem = str(app.screen.query_one("#canned-problem").render())
        assert "contact.nickname" in problem  # refused before it can reach a customer
        body.text = "Hi {{ contact.first_name }}, we are closed on Friday."
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, Picker)  # back to choosing, the new one listed
        saved = {r.name: r for r in demo_store.canned_replies()}["Holiday hours"]
        assert saved.source == "agent"
        await pilot.press(*"holiday", "ctrl+e")
        await pilot.pause()
        app.screen.query_one("#canned-body", TextArea).text = "Closed Friday, {{ agent.name }}."
        await pilot.press("ctrl+s")
        await pilot.pause()
        edited = {r.name: r for r in demo_store.canned_replies()}["Holiday hours"]
        assert edited.body == "Closed Friday, {{ agent.name }}."
