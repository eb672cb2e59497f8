"""A message kept out of a conversation (issue 14: its sender was no participant, "refers to
#N") is merged in when the agent decides; any other customer's conversation still is not.

Pilot on the real app over a real store file; the thread is read back from the store.
"""

from __future__ import annotations

from dataclasses import replace

from console.screens.confirm import ConfirmScreen
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.test_console_reply_path import (
    NOW,
    clock,  # noqa: F401
    make_app,
    notified,
    open_conversation,
    store,  # noqa: F401
)
from tests.waits import until_async


def _kept_out(db: Store) -> tuple[int, int, int]:
    """Alice asks; Bob (her colleague, not on the thread) answers her Message-ID; Eve writes
    about something else. (Alice's, Bob's, Eve's conversation)"""
    account = db.ensure_account("mail", "imap")
    alice = replace(email(account, "<a0@x>", NOW - 900), participants=("alice@example.com",))
    bob = customer("bob@example.com", "Bob")
    kept_out = replace(
        email(account, "<b0@x>", NOW - 600, who=bob, parents=("<a0@x>",), text="Same here"),
        participants=("bob@example.com",),
    )
    eve = customer("eve@evil.example", "Eve")
    other = email(account, "<e0@x>", NOW - 300, who=eve, subject="Unrelated", text="Hi")
    first, second, third = db.ingest([alice, kept_out, other])
    assert second.conversation_id != first.conversation_id  # kept out, refers to #first
    return first.conversation_id, second.conversation_id, third.conversation_id


async def test_the_agent_merges_a_kept_out_message_into_the_conversation_it_refers_to(
    store: Store,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    alice, bob, _ = _kept_out(store)
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await open_conversation(pilot, alice)  # M: merge another into this one
        await pilot.press("M", *str(bob), "enter")
        await until_async(lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await pilot.pause()
        assert "same contact" not in notified(app)
    texts = [m.text for m in store.detail(alice).messages]
    assert texts[-1] == "Same here" and len(texts) == 2
    assert store.detail(bob).messages == ()


async def test_a_kept_out_message_does_not_let_its_target_merge_into_it(
    store: Store,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    """The other way round would hand Alice's thread to Bob's conversation: refused."""
    alice, bob, _ = _kept_out(store)
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await open_conversation(pilot, bob)
        await pilot.press("M", *str(alice), "enter")
        await until_async(lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await pilot.pause()
        assert "same contact" in notified(app)
    assert len(store.detail(alice).messages) == 1


async def test_another_customers_conversation_still_does_not_merge(
    store: Store,  # noqa: F811
    clock: FakeClock,  # noqa: F811
) -> None:
    alice, _, eve = _kept_out(store)
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await open_conversation(pilot, alice)
        await pilot.press("M", *str(eve), "enter")
        await until_async(lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await pilot.pause()
        assert "same contact" in notified(app)
    assert [m.text for m in store.detail(eve).messages] == ["Hi"]
    assert len(store.detail(alice).messages) == 1
