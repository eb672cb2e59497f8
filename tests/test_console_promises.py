"""Console promises no other test pinned down (issue 22's table), each driven through the app
as an agent would and each shown to fail on the small plausible bug named in its docstring:

- snoozes wake on time by the app's own timer (the clock is moved; nothing calls wake_due);
- new knowledge articles are indexed by the app's own timer;
- "Wake when the customer writes" unticked is honoured;
- one follow-up that cannot be rendered blocks the whole batch;
- customer text in the follow-up preview and in the thread is never markup nor controls.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Checkbox, Static

import console.app
from console.app import FrontdeskApp
from console.screens.conversation import ConversationScreen
from console.screens.followup import BlockedScreen, FollowUpScreen
from console.screens.snooze import SnoozeScreen
from console.widgets.picker import Picker
from console.widgets.queue_list import QueueList
from console.widgets.thread_view import ThreadView
from storage import knowledge
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.waits import until_async

NOW = 1_800_000_000.0
HOUR = 3600.0
ME = "sam@x.test"
TAG = "asked"


def make_app(store: Store, clock: FakeClock, **kwargs: object) -> FrontdeskApp:
    return FrontdeskApp(
        store,
        me=ME,
        agent_name="Sam Rivera",
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def three_customers(store: Store, clock: FakeClock, subjects: tuple[str, ...] = ()) -> list[int]:
    """Three open conversations (Ann, Ben, Cat) tagged `asked`; ids in arrival order."""
    account = store.ensure_account("mail", "imap")
    names = ("Ann Archer", "Ben Baker", "Cat Cooper")
    subjects = subjects or ("Printer", "Scanner", "Router")
    ids = []
    for n, (name, subject) in enumerate(zip(names, subjects, strict=True)):
        who = customer(f"{name.split()[0].lower()}@example.com", name)
        msg = email(account, f"<m{n}@x>", clock.now - (3 - n) * HOUR, who=who, subject=subject)
        ids.append(store.ingest([msg])[0].conversation_id)
    store.tag(ids, "Sam", TAG)
    return ids


def qlist(app: FrontdeskApp) -> QueueList:
    return app.screen.query_one(QueueList)


def queue_total(app: FrontdeskApp) -> int | None:
    """Rows in the queue on screen; None while the queue screen is still being composed."""
    found = app.screen.query(QueueList)
    return found.first().total if found else None


def queue_current(app: FrontdeskApp) -> int | None:
    found = app.screen.query(QueueList)
    return found.first().current_id() if found else None


def lines_of(widget: Widget) -> list[Strip]:
    """Every line a widget renders, not only the part scrolled into view."""
    return [widget.render_line(y) for y in range(widget.size.height)]


def text_of(strips: list[Strip]) -> str:
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def actions_in(strips: list[Strip]) -> list[object]:
    """Live `[@click=...]` actions: markup turns them into a style's meta."""
    return [
        segment.style.meta["@click"]
        for strip in strips
        for segment in strip
        if segment.style and "@click" in segment.style.meta
    ]


# ---- the app's timers -----------------------------------------------------------------------


async def test_a_snooze_wakes_on_time_by_the_apps_own_timer(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant killed: the wake interval not installed in `on_mount` (the old test called
    `app.wake_due()` by hand). The timer's period is shortened; the clock is what moves."""
    monkeypatch.setattr(console.app, "WAKE_SECONDS", 0.05)
    ids = three_customers(store, clock)
    store.snooze(ids[2], "Sam", NOW + HOUR)
    ticks: list[float] = []
    wake_due = store.wake_due

    def counted() -> list[int]:
        ticks.append(clock.now)
        return wake_due()

    monkeypatch.setattr(store, "wake_due", counted)
    app = make_app(store, clock)
    async with app.run_test(size=(150, 40)):
        await until_async(lambda: queue_total(app) == 2, "the queue without the snoozed one")
        clock.advance(HOUR - 1)  # a second early: the timer runs, nothing wakes
        await until_async(lambda: NOW + HOUR - 1 in ticks, "a timer tick a second early")
        assert store.detail(ids[2]).conversation.status == "snoozed"
        clock.advance(2)
        await until_async(
            lambda: queue_total(app) == 3 and qlist(app).row(0) is not None,
            "the woken conversation back in the queue",
        )
        top = qlist(app).row(0)
        assert top is not None and top.id == ids[2] and top.woken
        assert store.detail(ids[2]).conversation.status == "open"


async def test_a_new_knowledge_article_is_indexed_by_the_apps_own_timer(
    store: Store, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant killed: the reindex interval not installed (the old test called
    `app.reindex_knowledge()` by hand)."""
    monkeypatch.setattr(console.app, "KNOWLEDGE_SECONDS", 0.2)
    folder = tmp_path / "kb"
    folder.mkdir()
    app = make_app(store, clock, knowledge_folder=folder)
    async with app.run_test(size=(150, 40)):
        await until_async(lambda: queue_total(app) == 0, "the (empty) queue")
        (folder / "reset.md").write_text(
            "---\ntitle: Reset your password\nurl: https://help.x.test/reset\n---\n"
            "Open Settings, then Security.\n",
            encoding="utf-8",
        )
        await until_async(
            lambda: [a.title for a in knowledge.search(store.conn, "")] == ["Reset your password"],
            "the new article in the index",
        )


# ---- snooze: wake on reply ------------------------------------------------------------------


async def test_unticking_wake_on_reply_keeps_it_snoozed_when_the_customer_writes(
    store: Store, clock: FakeClock, db_path: Path
) -> None:
    """Mutant killed: the checkbox ignored (`wake = True`): the customer's message would
    reopen the conversation."""
    ids = three_customers(store, clock)
    app = make_app(store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await until_async(lambda: queue_current(app) is not None, "the queue")
        cid = qlist(app).current_id()
        assert cid in ids
        await pilot.press("s")
        await until_async(lambda: isinstance(app.screen, SnoozeScreen), "the snooze dialog")
        box = app.screen.query_one("#snooze-wake", Checkbox)
        ticked = [box.value]  # on by default
        box.focus()
        await pilot.press("space")
        ticked.append(box.value)
        assert ticked == [True, False]
        await pilot.press("ctrl+s")
        await until_async(lambda: store.detail(cid).conversation.status == "snoozed", "snoozed")
        assert store.detail(cid).conversation.wake_on_reply is False

        first = store.detail(cid).messages[0]
        other = Store(db_path, clock=clock)
        try:
            row = other.conn.execute(
                "SELECT account_id, remote_id FROM messages WHERE id = ?", (first.id,)
            ).fetchone()
            who = store.detail(cid).contact.identities[0]
            clock.advance(60)
            other.ingest([email(row[0], "<again@x>", clock.now, who=who, parents=(row[1],))])
        finally:
            other.close()
        await until_async(lambda: len(store.detail(cid).messages) == 2, "the reply stored")
        assert store.detail(cid).conversation.status == "snoozed"


# ---- follow-ups -----------------------------------------------------------------------------


async def start_follow_up(pilot, reply: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("slash", *f"tag:{TAG}", "enter")
    await pilot.press("F")
    await until_async(lambda: isinstance(pilot.app.screen, Picker), "the canned reply picker")
    await pilot.press(*reply, "enter")
    await until_async(
        lambda: isinstance(pilot.app.screen, (FollowUpScreen, BlockedScreen)), "the review"
    )


async def test_one_reply_that_cannot_be_rendered_blocks_the_whole_batch(
    store: Store, clock: FakeClock
) -> None:
    """Ben's message alone fails (`contact.nickname` is no variable): nothing is queued for
    Ann and Cat either, and the blocked list names Ben only.

    Mutant killed: blocked only when every render fails (`if blocked and not rendered`)."""
    ids = three_customers(store, clock)
    body = f"{{% if conversation.id == {ids[1]} %}}{{{{ contact.nickname }}}}{{% endif %}}Hi"
    store.upsert_canned_reply("Partly broken", body, shortcut=None, folder="", source="agent")
    app = make_app(store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "partly broken")
        screen = app.screen
        assert isinstance(screen, BlockedScreen)
        assert [(b.conversation_id, b.customer) for b in screen.blocked] == [(ids[1], "Ben Baker")]
        await pilot.press("escape")
    assert store.due_outbox() == []
    assert [len(store.detail(c).messages) for c in ids] == [1, 1, 1]


async def test_the_follow_up_preview_shows_customer_text_as_written(
    store: Store, clock: FakeClock
) -> None:
    """Subjects with markup and an escape sequence, quoted by the reply: the preview shows the
    brackets as written, runs no action, and paints no control character.

    Mutant killed: the preview built with `Text.from_markup` (or without `safe_block`)."""
    subjects = ("[bold red]x[/] [@click=app.quit]quit[/]", "Scanner", "Router")
    ids = three_customers(store, clock, subjects)
    store.conn.execute(  # as a store written before sanitising would hold it
        "UPDATE conversations SET subject = ? WHERE id = ?",
        ("Router \x1b]0;pwned\x07 now", ids[2]),
    )
    store.conn.commit()
    body = "Hi {{ contact.first_name }}, about {{ conversation.subject }}: fixed."
    store.upsert_canned_reply("About it", body, shortcut=None, folder="", source="agent")
    app = make_app(store, clock)
    async with app.run_test(size=(150, 60)) as pilot:
        await start_follow_up(pilot, "about it")
        screen = app.screen
        assert isinstance(screen, FollowUpScreen)
        preview = screen.query_one("VerticalScroll > Static", Static)
        strips = lines_of(preview)
        shown = text_of(strips)
        assert "Hi Ann, about [bold red]x[/] [@click=app.quit]quit[/]: fixed." in shown
        assert "Hi Cat, about Router  now: fixed." in shown
        assert "pwned" not in shown and "\x1b" not in shown and "\x07" not in shown
        assert actions_in(strips) == []
        await pilot.press("escape")
    assert store.due_outbox() == []


# ---- the thread ------------------------------------------------------------------------------


async def test_the_thread_shows_bodies_without_controls_or_markup(
    store: Store, clock: FakeClock
) -> None:
    """A body as a store may hold it (written before sanitising, or by a connector with a
    bug): the thread paints its words and brackets, never the escape sequences.

    Mutant killed: `safe_block` replaced by `Text` in the thread view."""
    account = store.ensure_account("mail", "imap")
    body = "Hello \x1b]0;pwned\x07team,\n\x1b[2Jsee [@click=app.quit]here[/] \x1b[31mnow\x1b[0m."
    cid = store.ingest([email(account, "<t@x>", NOW - HOUR, text=body)])[0].conversation_id
    stored = store.detail(cid).messages[0].text
    if "\x1b" not in stored:  # ingest cleaned it: put it back as an older store holds it
        store.conn.execute("UPDATE messages SET text = ? WHERE conversation_id = ?", (body, cid))
        store.conn.commit()
    app = make_app(store, clock)
    async with app.run_test(size=(150, 40)) as pilot:
        await until_async(lambda: queue_current(app) == cid, "the queue")
        await pilot.press("enter")
        await until_async(lambda: isinstance(app.screen, ConversationScreen), "the conversation")
        thread = app.screen.query_one(ThreadView)
        await until_async(lambda: bool(thread.lines()), "the thread laid out")
        strips = thread.lines()
        shown = text_of(strips)
        assert "Hello team," in shown
        assert "see [@click=app.quit]here[/] now." in shown
        assert "pwned" not in shown
        assert not {ch for ch in shown if ord(ch) < 32 and ch != "\n"}
        assert actions_in(strips) == []
