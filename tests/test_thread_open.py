"""Opening a long conversation paints its last message in the very first frame of the
conversation screen (not its middle while the scroll catches up), every message is in the
thread, and the keys move from what was painted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from console.app import FrontdeskApp
from console.screens.conversation import ConversationScreen
from console.widgets.thread_view import ThreadView
from storage.store import Store
from tests.factories import email
from tests.waits import until_async

NOW = 1_800_000_000.0


def _long_store(db_path: Path, count: int = 200) -> Store:
    store = Store(db_path, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    store.ingest(
        [
            email(
                account,
                f"<m{i}@x>",
                NOW - 10_000 + i * 10,
                text=f"message number {i}",
                parents=(f"<m{i - 1}@x>",) if i else (),
            )
            for i in range(count)
        ]
    )
    return store


def _visible(thread: ThreadView) -> str:
    return "\n".join(thread.render_line(y).text.rstrip() for y in range(thread.size.height))


async def test_the_first_frame_of_a_long_thread_shows_its_last_message(db_path: Path) -> None:
    app = FrontdeskApp(_long_store(db_path), me="sam@x.test", agent_name="Sam", clock=lambda: NOW)
    first_frames: list[str] = []
    display = app._display

    def record(screen: Any, update: Any) -> None:
        display(screen, update)
        if isinstance(screen, ConversationScreen) and not first_frames:
            first_frames.append(_visible(screen.query_one(ThreadView)))

    app._display = record  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await until_async(lambda: first_frames, "the conversation's first frame")
        assert "message number 199" in first_frames[0]
        assert "message number 150\n" not in first_frames[0] + "\n"
        thread = app.screen.query_one(ThreadView)
        body = "\n".join(strip.text.rstrip() for strip in thread.lines())
        assert all(f"message number {i}\n" in body + "\n" for i in range(200))
        await pilot.press("k")  # a line up from the end that was painted, not from the middle
        shown = _visible(thread)
        assert "message number 198" in shown and "message number 100\n" not in shown + "\n"
