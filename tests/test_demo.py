"""`frontdesk demo` as it opens: the store `start_demo` builds and the console `demo_app` runs
on it, with the demo channel on a second connection (as the CLI wires them), in real time.

What a user of the demo would notice: replies go out (queued -> sent) within a second and the
thread shows it; the assign list offers every agent the demo assigns to; no customer message
is signed by someone other than the conversation's customer; the queue looks like a healthy
team's morning (most within the SLA, a few due within the hour, one or two over) and grows
by about one conversation a minute, not one every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from console.demo import DEMO_POLICY, DemoInbox, demo_app, start_demo
from console.screens.conversation import ConversationScreen
from console.widgets.picker import Picker
from console.widgets.thread_view import ThreadView
from storage import queue
from storage.models import QueueRow
from storage.store import Store
from tests.waits import until_async

HOUR = 3600.0


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, DemoInbox]]:
    """The console's store with the demo built now, and the feed on its own connection."""
    path = tmp_path / "demo.db"
    store = Store(path, policy=DEMO_POLICY)
    start_demo(store, time.time(), arrivals=11)
    feed_store = Store(path, policy=DEMO_POLICY)
    try:
        yield store, DemoInbox(feed_store, arrivals=12)
    finally:
        feed_store.close()
        store.close()


def every_row(store: Store) -> list[QueueRow]:
    rows: list[QueueRow] = []
    for status in ("open", "pending", "snoozed", "closed"):
        view, after = queue.by_status(status), None
        while page := store.page(view, after=after, limit=200):
            rows += page
            after = queue.cursor_of(page[-1])
    return rows


def thread_text(screen: ConversationScreen) -> str:
    return "\n".join(strip.text.rstrip() for strip in screen.query_one(ThreadView).lines())


async def test_a_reply_goes_out_within_a_second_and_the_thread_shows_it_sent(
    stores: tuple[Store, DemoInbox],
) -> None:
    store, feed = stores
    app = demo_app(store, feed, time.time)
    app.advance = "stay"  # keep the conversation on screen after sending
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        cid = screen.conversation_id
        await pilot.press("r", *"Sorted on our side, thanks!", "ctrl+s")
        await pilot.pause()
        # The channel looks every 0.5 s: "within a second", with room for a busy machine.
        await until_async(
            lambda: store.detail(cid).messages[-1].delivery == "sent", "the reply sent", 1.5
        )
        await until_async(
            lambda: (
                "Sorted on our side" in thread_text(screen) and "queued" not in thread_text(screen)
            ),
            "the thread to show the reply without 'queued'",
            3.0,
        )


async def test_send_and_close_closes_and_the_reply_is_sent(
    stores: tuple[Store, DemoInbox],
) -> None:
    store, feed = stores
    app = demo_app(store, feed, time.time)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        cid = screen.conversation_id
        await pilot.press("r", *"All fixed, closing this one.", "ctrl+o")
        await until_async(
            lambda: store.detail(cid).messages[-1].delivery == "sent", "the reply sent", 1.5
        )
        assert store.detail(cid).conversation.status == "closed"
        assert store.due_outbox() == []


async def test_the_assign_list_offers_every_agent_the_demo_assigns_to(
    stores: tuple[Store, DemoInbox],
) -> None:
    store, feed = stores
    assigned = {row.assignee for row in every_row(store) if row.assignee}
    assert assigned == {"sam@frontdesk.demo", "kim@frontdesk.demo"}
    app = demo_app(store, feed, time.time)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        options = app.screen.query_one(OptionList).options
        offered = " ".join(str(option.prompt) for option in options)
    for address in assigned:
        assert address in offered


def test_every_customer_message_is_signed_by_the_conversations_customer(
    stores: tuple[Store, DemoInbox],
) -> None:
    store, feed = stores
    start = time.time()
    for n in range(120):  # the feed has its own arrivals seed, as `frontdesk demo` gives it
        feed.new_arrival(start + n)
    wrong = []
    for row in every_row(store):
        detail = store.detail(row.id)
        addresses = {identity.address for identity in detail.contact.identities}
        for message in detail.messages:
            if message.direction != "in":
                continue
            if message.author_name != detail.contact.name or message.author_address not in (
                addresses
            ):
                wrong.append((row.id, message.author_name, detail.contact.name))
    assert wrong == []


def test_the_queue_is_a_healthy_morning(stores: tuple[Store, DemoInbox]) -> None:
    store, _feed = stores
    now = time.time()
    waiting = [row for row in every_row(store) if row.status == "open"]
    due = [row.sla_due_at for row in waiting]
    assert None not in due
    over = [d for d in due if d is not None and d < now]
    at_risk = [d for d in due if d is not None and now <= d < now + HOUR]
    within = [d for d in due if d is not None and d >= now + HOUR]
    assert 1 <= len(over) <= 2, over
    assert all(now - d < HOUR for d in over)  # just over, not for days
    assert 2 <= len(at_risk) <= 6
    assert len(within) >= 0.85 * len(waiting), (len(within), len(waiting))
    assert len(waiting) >= 20  # a morning's work, not an empty queue


def test_customers_write_about_once_a_minute(stores: tuple[Store, DemoInbox]) -> None:
    store, feed = stores
    before = len(every_row(store))
    start = time.time()
    for n in range(int(30 * 60 / 0.5)):  # half an hour of ticks, every 0.5 s
        feed.tick(start + n * 0.5)
    arrived = len(every_row(store)) - before
    assert 10 <= arrived <= 60, arrived
