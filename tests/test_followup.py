"""Follow-ups by tag: every customer who asked hears back, personally, after one review."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.followup import BlockedScreen, FollowUpScreen
from console.widgets.picker import Picker
from storage import search
from storage.store import Store
from tests.conftest import FakeClock

NOW = 1_800_000_000.0
TAG = "feature-request/snooze-dates"


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    return store


def asked(store: Store) -> list[int]:
    return [r.id for r in store.page(search.parse(f"tag:{TAG}"), limit=1000)]


def customers_of(store: Store, ids: list[int]) -> set[int]:
    """The contacts of `ids`, read with SQL."""
    marks = ",".join("?" * len(ids))
    sql = f"SELECT contact_id FROM conversations WHERE id IN ({marks})"
    return {r[0] for r in store.conn.execute(sql, ids)}


async def start_follow_up(pilot, reply: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash", *f"tag:{TAG}", "enter")
    await pilot.press("F")
    await pilot.pause()
    assert isinstance(pilot.app.screen, Picker)
    await pilot.press(*reply, "enter")
    await pilot.pause()


def make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=AGENT.address, agent_name="Sam Rivera", clock=FakeClock(NOW))


async def test_every_customer_who_asked_gets_one_personal_reply(demo_store: Store) -> None:
    ids = asked(demo_store)
    customers = customers_of(demo_store, ids)  # several asked in two conversations
    assert len(ids) >= 3 and len(customers) < len(ids)
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "feature shipped")
        assert isinstance(app.screen, FollowUpScreen)
        assert len(app.screen.rendered) == len(customers)
        await pilot.press("ctrl+s")
        await pilot.pause()
    outbox = demo_store.due_outbox()
    contacts = [demo_store.detail(o.conversation_id).contact.id for o in outbox]
    assert sorted(contacts) == sorted(customers)  # each customer once
    for item in outbox:
        detail = demo_store.detail(item.conversation_id)
        first = detail.contact.name.split()[0]
        assert item.body.startswith(f"Hi {first},")
        assert detail.conversation.subject in item.body
        assert "followed-up" in dict(detail.tags)
        assert any(e.kind == "replied" and e.detail.get("batch") for e in detail.events)


async def test_an_undefined_variable_blocks_the_whole_batch(demo_store: Store) -> None:
    demo_store.upsert_canned_reply(
        "Shipped (broken)", "Hi {{ contact.nickname }}", shortcut=None, folder="", source="agent"
    )
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "shipped broken")
        assert isinstance(app.screen, BlockedScreen)
        assert len(app.screen.blocked) == len(customers_of(demo_store, asked(demo_store)))
        assert "contact.nickname" in app.screen.blocked[0].reason
    assert demo_store.due_outbox() == []


async def test_cancel_before_sending_leaves_nothing_to_send(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "feature shipped")
        await pilot.press("ctrl+s")
        await pilot.pause()
        ids = asked(demo_store)
        assert len(demo_store.due_outbox()) == len(customers_of(demo_store, ids))
        await pilot.press("ctrl+x")
        await pilot.pause()
    assert demo_store.due_outbox() == []
    detail = demo_store.detail(ids[0])  # the most recent of its customer's: it had the reply
    assert detail.messages[-1].delivery == "cancelled"
    assert [e.kind for e in detail.events[-2:]] == ["cancelled", "undone"]


async def test_escape_at_review_sends_nothing(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "feature shipped")
        await pilot.press("escape")
        await pilot.pause()
    assert demo_store.due_outbox() == []


def test_follow_up_review_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await start_follow_up(pilot, "feature shipped")

    assert snap_compare(make_app(demo_store), terminal_size=(120, 36), run_before=run_before)
