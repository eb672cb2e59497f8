"""Writing a reply: canned shortcuts typed in the composer, `{{ cursor }}`, the picker's `;`.

Driven through the real app (Pilot) on the demo store; each oracle is the text an agent
would see, written out by hand from the canned reply's body.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import FrontdeskApp
from console.canned import CURSOR_MARK, check, render, variables
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.conversation import ConversationScreen
from console.widgets.picker import Picker
from storage.store import Store
from tests.conftest import FakeClock

NOW = 1_800_000_000.0
THANKS = "Thanks for reaching out — I'm looking into this now."  # the demo's ;ty reply
SIGNED = "Hi {{ contact.first_name }},\n\n{{ cursor }}\n\nThanks,\n{{ agent.name }}"


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    store.upsert_canned_reply("Signed", SIGNED, shortcut="sig", folder="", source="agent")
    return store


async def open_reply(pilot) -> tuple[ConversationScreen, str]:  # type: ignore[no-untyped-def]
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ConversationScreen)
    await pilot.press("r")
    first = screen.store.detail(screen.conversation_id).contact.name.split()[0]
    return screen, first


def make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=AGENT.address, agent_name="Sam Rivera", clock=FakeClock(NOW))


async def test_a_shortcut_then_space_becomes_its_canned_reply(demo_store: Store) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, first = await open_reply(pilot)
        await pilot.press(*"Hello ;ty ")
        assert screen.composer.editor.text == f"Hello Hi {first},\n\n{THANKS}\n\nSam Rivera"
        await pilot.press(*"!")  # the cursor is at the end of what was inserted
        assert screen.composer.editor.text.endswith("Sam Rivera!")


async def test_tab_expands_too_and_case_does_not_matter(demo_store: Store) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, first = await open_reply(pilot)
        await pilot.press(*";PW", "tab")
        assert screen.composer.editor.text == (
            f"Hi {first},\n\nYou can reset your password from Settings → Security."
        )


async def test_a_semicolon_inside_a_word_or_an_unknown_shortcut_types_as_text(
    demo_store: Store,
) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, _ = await open_reply(pilot)
        await pilot.press(*"a;ty ;nosuch ")
        assert screen.composer.editor.text == "a;ty ;nosuch "


async def test_the_cursor_lands_where_the_template_says(demo_store: Store) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, first = await open_reply(pilot)
        await pilot.press(*";sig ", *"Your refund is on its way.")
        assert screen.composer.editor.text == (
            f"Hi {first},\n\nYour refund is on its way.\n\nThanks,\nSam Rivera"
        )


async def test_the_picker_inserts_with_the_cursor_at_the_mark_too(demo_store: Store) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, first = await open_reply(pilot)
        await pilot.press("ctrl+r")
        assert isinstance(pilot.app.screen, Picker)
        await pilot.press(*";sig", "enter")
        await pilot.pause()
        await pilot.press(*"Done.")
        assert screen.composer.editor.text == f"Hi {first},\n\nDone.\n\nThanks,\nSam Rivera"


async def test_the_picker_finds_a_reply_by_its_shortcut(demo_store: Store) -> None:
    async with make_app(demo_store).run_test(size=(150, 40)) as pilot:
        screen, first = await open_reply(pilot)
        await pilot.press("ctrl+r", *";pw", "enter")
        await pilot.pause()
        assert screen.composer.editor.text.startswith(f"Hi {first},\n\nYou can reset")


def test_the_cursor_mark_never_leaves_the_composer(demo_store: Store) -> None:
    """Follow-ups and the CLI render without asking for the mark: `{{ cursor }}` is nothing."""
    [first_id] = [row[0] for row in demo_store.conn.execute("SELECT min(id) FROM conversations")]
    detail = demo_store.detail(first_id)
    text = render("Signed", SIGNED, variables(detail, "Sam Rivera", AGENT.address))
    assert CURSOR_MARK not in text and "\n\n\n\nThanks," in text
    check("Signed", SIGNED)  # a known variable for check-config and the editor
