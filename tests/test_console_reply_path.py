"""The reply path in the console (issues 14, 15, 16): undo send, held and failed replies,
why a message is here, split and merge, the Slack length warning.

Pilot drives the real app over a real store file; what is asserted is what the agent sees
(the screen's text, the composer) and what the store holds, read with SQL where a filter of
the product's own could hide a mistake.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot

from console.app import Advance, FrontdeskApp
from console.cli import main
from console.config import ConfigError, load_config
from console.event_lines import event_line, shown
from console.screens.confirm import ConfirmScreen
from console.screens.conversation import ConversationScreen, SplitConfirm
from console.screens.queue import QueueScreen
from console.widgets.composer import Composer
from console.widgets.picker import Picker
from storage.models import Event, IdentityRef, InboundMessage
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.waits import until_async

NOW = 1_800_000_000.0
ME = "sam@frontdesk.test"
ALICE = customer()
BOB = IdentityRef("slack", "U0BOB", "Bob Slack")
HELD = "the customer deleted the message you answer"
WIDE = (200, 40)  # the whole footer fits


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Store:
    return Store(db_path, clock=clock)


def thread(store: Store, *texts: str, remote: str = "a", subject: str = "Order 1") -> int:
    """An email conversation of Alice's, one message per text, a minute apart."""
    account = store.ensure_account("mail", "imap")
    messages = [
        email(
            account,
            f"<{remote}{i}@x>",
            NOW - 3600 + 60 * i,
            text=text,
            subject=subject,
            parents=(f"<{remote}{i - 1}@x>",) if i else (),
        )
        for i, text in enumerate(texts)
    ]
    results = store.ingest(messages)
    assert len({r.conversation_id for r in results}) == 1
    return results[0].conversation_id


def slack_thread(store: Store, text: str = "is the API down?") -> int:
    account = store.ensure_account("slack", "slack")
    message = InboundMessage(
        account_id=account,
        remote_id="C1:1.0",
        channel="slack",
        direction="in",
        author=BOB,
        customer=BOB,
        sent_at=NOW - 600,
        text=text,
        thread_ref="C1:1.0",
    )
    return store.ingest([message])[0].conversation_id


def make_app(
    store: Store, clock: FakeClock, *, delay: float = 10.0, advance: Advance = "stay"
) -> FrontdeskApp:
    return FrontdeskApp(
        store, me=ME, agent_name="Sam", clock=clock, send_delay=delay, advance=advance
    )


async def open_conversation(pilot: Pilot[None], conversation_id: int) -> ConversationScreen:
    app = pilot.app
    assert isinstance(app, FrontdeskApp)
    await pilot.pause()
    app.open_conversation(conversation_id)
    await until_async(lambda: isinstance(app.screen, ConversationScreen), "the conversation")
    await pilot.pause()
    assert isinstance(app.screen, ConversationScreen)
    return app.screen


def screen_text(app: FrontdeskApp) -> str:
    """Every character on the terminal, line by line (what the agent sees)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def outbox(store: Store, message_id: int) -> tuple[str, str | None, float, int]:
    row = store.conn.execute(
        "SELECT status, outcome, next_attempt_at, top_level FROM outbox WHERE message_id = ?",
        (message_id,),
    ).fetchone()
    return row[0], row[1], row[2], row[3]


def status(store: Store, conversation_id: int) -> str:
    row = store.conn.execute(
        "SELECT status FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    return str(row[0])


def reply_ids(store: Store) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT message_id FROM outbox ORDER BY id")]


def notified(app: FrontdeskApp) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


async def write_reply(pilot: Pilot[None], text: str) -> None:
    await pilot.press("r", *text, "ctrl+s")
    await pilot.pause()


# undo send ----------------------------------------------------------------------------------


async def test_undo_send_within_the_delay_puts_the_reply_back_in_the_composer(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Where is my order?")
    app = make_app(store, clock, delay=10)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await write_reply(pilot, "On its way")
        [reply] = reply_ids(store)
        assert outbox(store, reply) == ("queued", None, NOW + 10, 0)
        assert status(store, cid) == "pending"
        assert "Your reply goes out in 10 s · u takes it back" in screen_text(app)
        clock.advance(4)
        await until_async(lambda: "goes out in 6 s" in screen_text(app), "the countdown to move on")
        await pilot.press("u")
        await pilot.pause()
        composer = screen.query_one(Composer)
        assert composer.is_open and composer.mode == "reply"
        assert composer.editor.text == "On its way"
        assert outbox(store, reply)[0] == "cancelled"
        assert status(store, cid) == "open"  # as before the reply
        assert "goes out in" not in screen_text(app)
        assert "Reply taken back" in notified(app)
        kinds = [e.kind for e in store.detail(cid).events]
        assert kinds[-1] == "reply_taken_back"


async def test_after_the_delay_u_undoes_the_last_action_as_before(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Where is my order?")
    app = make_app(store, clock, delay=10)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await write_reply(pilot, "On its way")
        [reply] = reply_ids(store)
        clock.advance(11)
        await until_async(lambda: "goes out in" not in screen_text(app), "the undo line to go")
        await pilot.press("e")  # close
        await pilot.pause()
        assert status(store, cid) == "closed"
        await pilot.press("u")
        await pilot.pause()
        assert status(store, cid) == "pending"  # the close undone; the reply stays
        assert outbox(store, reply)[0] == "queued"
        assert not screen.query_one(Composer).is_open


async def test_take_back_wins_over_a_later_action_and_leaves_nothing_stale_to_undo(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Where is my order?")
    app = make_app(store, clock, delay=10)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await write_reply(pilot, "On its way")
        [reply] = reply_ids(store)
        await pilot.press("e")  # close, after the reply
        await pilot.pause()
        assert status(store, cid) == "closed"
        await pilot.press("u")
        await pilot.pause()
        assert outbox(store, reply)[0] == "cancelled"
        assert screen.query_one(Composer).editor.text == "On its way"
        assert status(store, cid) == "open"  # as before the reply (and the close)
        await pilot.press("escape", "u")
        await pilot.pause()
        assert status(store, cid) == "open"
        assert "Nothing to undo" in notified(app)


async def test_send_delay_zero_queues_at_once_and_u_has_nothing_to_take(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Where is my order?")
    app = make_app(store, clock, delay=0)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        await write_reply(pilot, "On its way")
        [reply] = reply_ids(store)
        assert outbox(store, reply)[2] == NOW
        assert "goes out in" not in screen_text(app)
        await pilot.press("u")
        await pilot.pause()
        assert outbox(store, reply)[0] == "queued"
        assert "Nothing to undo" in notified(app)


async def test_undo_send_from_the_queue_reopens_the_conversation_with_the_text(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Where is my order?")
    app = make_app(store, clock, delay=10, advance="queue")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        await write_reply(pilot, "Refund done")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("u")
        await until_async(lambda: isinstance(app.screen, ConversationScreen), "the conversation")
        screen = app.screen
        assert isinstance(screen, ConversationScreen) and screen.conversation_id == cid
        composer = screen.query_one(Composer)
        await until_async(lambda: composer.is_open, "the composer to open")
        assert composer.editor.text == "Refund done"
        assert outbox(store, reply_ids(store)[0])[0] == "cancelled"


async def test_undo_send_after_moving_on_names_the_conversation_and_goes_back(
    store: Store, clock: FakeClock
) -> None:
    first = thread(store, "Where is my order?", remote="a")
    second = thread(store, "Cancel my plan", remote="b", subject="Plan")
    app = make_app(store, clock, delay=10, advance="stay")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, first)
        await write_reply(pilot, "Shipped today")
        screen.load(second)
        await pilot.pause()
        assert f"Your reply (#{first}) goes out in 10 s" in screen_text(app)
        await pilot.press("u")
        await pilot.pause()
        assert screen.conversation_id == first
        assert screen.query_one(Composer).editor.text == "Shipped today"


# held and failed replies ----------------------------------------------------------------------


def held_reply(store: Store, cid: int, text: str, reason: str = HELD) -> int:
    message_id = store.queue_reply(cid, "Sam", text, remote_id=f"r{cid}")
    [outbox_id] = [
        r[0]
        for r in store.conn.execute("SELECT id FROM outbox WHERE message_id = ?", (message_id,))
    ]
    assert store.outbox_held(outbox_id, reason)
    return message_id


async def test_a_held_slack_reply_is_shown_with_its_choices_and_posts_in_the_channel(
    store: Store, clock: FakeClock
) -> None:
    cid = slack_thread(store)
    reply = held_reply(store, cid, "Yes, we are on it")
    app = make_app(store, clock)
    async with app.run_test(size=WIDE) as pilot:
        await open_conversation(pilot, cid)
        shown = screen_text(app)
        assert f"A reply is held, not sent: {HELD}" in shown
        assert (
            "P post it in the channel · D send it as a DM · C cancel (back into the composer)"
            in shown
        )
        footer = shown.splitlines()[-1]
        assert "Post in channel" in footer and "Cancel held reply" in footer
        await pilot.press("P")
        await pilot.pause()
        assert outbox(store, reply)[:2] == ("queued", None)
        assert outbox(store, reply)[3] == 1  # top level, as the agent chose
        assert [e.kind for e in store.detail(cid).events][-1] == "reply_to_channel"
        shown = screen_text(app)
        assert "A reply is held" not in shown
        assert "Post in channel" not in shown.splitlines()[-1]
        assert "posted a held reply in the channel" in shown


async def test_d_sends_a_held_slack_reply_to_the_customer_as_a_dm(
    store: Store, clock: FakeClock
) -> None:
    cid = slack_thread(store)
    reply = held_reply(store, cid, "Yes, we are on it")
    app = make_app(store, clock)
    async with app.run_test(size=WIDE) as pilot:
        await open_conversation(pilot, cid)
        assert "Send as DM" in screen_text(app).splitlines()[-1]
        await pilot.press("D")
        await pilot.pause()
        row = store.conn.execute(
            "SELECT status, outcome, as_dm FROM outbox WHERE message_id = ?", (reply,)
        ).fetchone()
        assert tuple(row) == ("queued", None, 1)  # due again, to the customer's DM
        assert [e.kind for e in store.detail(cid).events][-1] == "reply_as_dm"
        shown = screen_text(app)
        assert "A reply is held" not in shown and "Send as DM" not in shown.splitlines()[-1]


async def test_cancelling_a_held_reply_brings_its_text_back(store: Store, clock: FakeClock) -> None:
    cid = slack_thread(store)
    reply = held_reply(store, cid, "Yes, we are on it")
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await pilot.press("C")
        await pilot.pause()
        assert outbox(store, reply)[0] == "cancelled"
        composer = screen.query_one(Composer)
        assert composer.is_open and composer.editor.text == "Yes, we are on it"
        assert "A reply is held" not in screen_text(app)


async def test_an_email_reply_held_offers_no_channel_post(store: Store, clock: FakeClock) -> None:
    cid = thread(store, "Hello")
    held_reply(store, cid, "Hi", reason="too big for the server")
    app = make_app(store, clock)
    async with app.run_test(size=WIDE) as pilot:
        await open_conversation(pilot, cid)
        shown = screen_text(app)
        assert "A reply is held, not sent: too big for the server" in shown
        assert "post it in the channel" not in shown
        assert "Post in channel" not in shown.splitlines()[-1]
        await pilot.press("P")  # hidden, and does nothing
        await pilot.pause()
        row = store.conn.execute("SELECT outcome, top_level FROM outbox").fetchone()
        assert tuple(row) == ("held", 0)


async def test_a_failed_reply_shows_the_server_words_as_plain_text(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "Hello")
    message_id = store.queue_reply(cid, "Sam", "Hi", remote_id="r1")
    [outbox_id] = [r[0] for r in store.conn.execute("SELECT id FROM outbox")]
    store.outbox_failed(outbox_id, "[b]550[/b] mailbox \x1b[31mfull", NOW + 60)
    app = make_app(store, clock)
    async with app.run_test(size=WIDE) as pilot:
        await open_conversation(pilot, cid)
        shown = screen_text(app)
        assert "A reply could not be sent (retried by itself): [b]550[/b] mailbox full" in shown
        assert "Cancel held reply" not in shown.splitlines()[-1]
    assert outbox(store, message_id)[0] == "failed"


def test_held_reply_snapshot(store: Store, clock: FakeClock, snap_compare) -> None:  # type: ignore[no-untyped-def]
    cid = slack_thread(store)
    held_reply(store, cid, "Yes, we are on it")
    app = make_app(store, clock)

    async def run_before(pilot: Pilot[None]) -> None:
        await open_conversation(pilot, cid)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# why, split, merge ----------------------------------------------------------------------------


async def test_w_says_why_the_message_is_here_and_flags_a_forged_sender(
    store: Store, clock: FakeClock
) -> None:
    account = store.ensure_account("mail", "imap")
    forged = email(account, "<f@x>", NOW - 60, text="pay here")
    forged = replace(forged, spoofing="the name shows boss@corp.example")
    cid = store.ingest([forged])[0].conversation_id
    reason = store.detail(cid).messages[0].thread_reason
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await open_conversation(pilot, cid)
        assert "⚠ sender looks forged (w: why)" in screen_text(app).splitlines()[0]
        await pilot.press("w")
        await pilot.pause()
        said = notified(app)
        assert "Why this message is here (Alice Liddell)" in said
        assert reason in said
        assert "Looks forged: the name shows boss@corp.example" in said


async def test_a_message_kept_out_of_another_conversation_says_so(
    store: Store, clock: FakeClock
) -> None:
    """Issue 14's hijack: Eve answers Alice's Message-ID; she gets her own conversation."""
    account = store.ensure_account("mail", "imap")
    alice = replace(email(account, "<a0@x>", NOW - 900), participants=("alice@example.com",))
    eve = customer("eve@evil.example", "Eve")
    hijack = replace(
        email(account, "<e0@x>", NOW - 600, who=eve, parents=("<a0@x>",)),
        participants=("eve@evil.example",),
    )
    first, second = store.ingest([alice, hijack])
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await open_conversation(pilot, second.conversation_id)
        title = screen_text(app).splitlines()[0]
        assert f"refers to #{first.conversation_id} (w: why)" in title
        await pilot.press("w")
        await pilot.pause()
        said = notified(app)
        assert "eve@evil.example is not one of its participants" in said
        assert f"It refers to #{first.conversation_id} but was kept out" in said


async def test_x_splits_at_the_message_after_asking_and_u_undoes_it(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "first", "second", "unrelated question")
    ids = [m.id for m in store.detail(cid).messages]
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, SplitConfirm)
        asked = screen_text(app)
        assert "Split this conversation?" in asked and "unrelated question" in asked
        assert "(1 of 3)" in asked
        await pilot.press("y")
        await pilot.pause()
        assert [m.id for m in store.detail(cid).messages] == ids[:2]
        (new,) = store.conn.execute(
            "SELECT conversation_id FROM messages WHERE id = ?", (ids[2],)
        ).fetchone()
        assert new != cid
        assert f"moved to #{new}" in notified(app)
        await pilot.press("u")
        await pilot.pause()
        assert [m.id for m in store.detail(cid).messages] == ids


async def test_the_split_point_moves_with_brackets_but_never_to_the_first_message(
    store: Store, clock: FakeClock
) -> None:
    cid = thread(store, "first", "second", "third")
    ids = [m.id for m in store.detail(cid).messages]
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        await pilot.press("X", "left_square_bracket", "left_square_bracket")
        await pilot.pause()
        asked = screen_text(app)
        assert "second" in asked and "(2 of 3)" in asked
        await pilot.press("y")
        await pilot.pause()
    assert [m.id for m in store.detail(cid).messages] == ids[:1]


async def test_split_refused_by_no_keeps_everything(store: Store, clock: FakeClock) -> None:
    cid = thread(store, "first", "second")
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        await pilot.press("X", "n")
        await pilot.pause()
    assert len(store.detail(cid).messages) == 2
    assert store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1


async def test_m_merges_another_conversation_of_the_customer(
    store: Store, clock: FakeClock
) -> None:
    target = thread(store, "my order is late", remote="a", subject="Late order")
    source = thread(store, "still waiting!", remote="b", subject="Where is it")
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, target)
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        assert f"#{source} Where is it" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Merge into this conversation?" in screen_text(app)
        await pilot.press("y")
        await pilot.pause()
        texts = [m.text for m in store.detail(target).messages]
        assert texts == ["my order is late", "still waiting!"]
        assert status(store, source) == "closed"
        assert store.detail(source).messages == ()


async def test_m_by_number_refuses_another_customers_conversation(
    store: Store, clock: FakeClock
) -> None:
    target = thread(store, "my order is late", remote="a")
    account = store.ensure_account("mail", "imap")
    other = customer("eve@evil.example", "Eve")
    source = store.ingest([email(account, "<e@x>", NOW - 5, who=other, subject="x")])[0]
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, target)
        await pilot.press("M", *str(source.conversation_id), "enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert "same contact" in notified(app)
    assert [m.text for m in store.detail(target).messages] == ["my order is late"]


# Slack length -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (4_000, ""),
        (4_001, "4,001 characters: Slack shows at most 4,000 in one message"),
        (40_001, "Slack takes at most 40,000 in a message; this reply would be held"),
    ],
)
async def test_a_long_slack_reply_is_warned_about(
    store: Store, clock: FakeClock, size: int, expected: str
) -> None:
    cid = slack_thread(store)
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await pilot.press("r")
        composer = screen.query_one(Composer)
        composer.editor.insert("word " * (size // 5) + "x" * (size % 5))
        await pilot.pause()
        assert len(composer.editor.text) == size
        if expected:
            assert expected in composer.warning
            assert expected[:30] in screen_text(app)
        else:
            assert composer.warning == ""


async def test_a_long_email_reply_has_no_slack_warning(store: Store, clock: FakeClock) -> None:
    cid = thread(store, "Hello")
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_conversation(pilot, cid)
        await pilot.press("r")
        composer = screen.query_one(Composer)
        composer.editor.insert("x" * 5000)
        await pilot.pause()
        assert composer.warning == ""


# event lines --------------------------------------------------------------------------------


def lines_of(store: Store, cid: int) -> list[str]:
    return [event_line(e).plain for e in store.detail(cid).events if shown(e)]


AT = "Fri 15 Jan 2027 08:00"  # NOW in UTC (tests pin TZ)


def test_reply_path_events_read_as_sentences(store: Store) -> None:
    cid = slack_thread(store)
    taken = store.queue_reply(cid, "Sam", "first try", remote_id="t1", send_delay=10)
    assert store.take_back(taken, "Sam") == "first try"
    reply = held_reply(store, cid, "second try")
    assert store.post_held_in_channel(reply, "Sam")
    (outbox_id,) = store.conn.execute(
        "SELECT id FROM outbox WHERE message_id = ?", (reply,)
    ).fetchone()
    store.outbox_resending(outbox_id)
    assert lines_of(store, cid) == [
        f"· Sam took back a reply before it went out (undo send) · {AT}",
        f"· Sam posted a held reply in the channel (its question was deleted) · {AT}",
        f"· sync sent a reply again after an uncertain attempt (it may arrive twice) · {AT}",
    ]


def test_split_merge_and_undo_events_name_the_conversations(store: Store) -> None:
    cid = thread(store, "first", "second", "third")
    moved = store.detail(cid).messages[2].id
    edit = store.split_conversation(moved, "Sam")
    new = edit.target
    assert lines_of(store, new) == [
        f"· Sam split the conversation: 1 message moved from #{cid} to #{new} · {AT}"
    ]
    store.merge_conversations(new, cid, "Sam")
    assert lines_of(store, cid)[-1] == (
        f"· Sam merged another conversation into this one: 1 message came from #{new} · {AT}"
    )
    assert lines_of(store, new)[-1] == (
        f"· Sam merged this conversation into another: 1 message moved to #{cid} · {AT}"
    )


@pytest.mark.parametrize(
    ("kind", "detail", "expected"),
    [
        ("survey_sent", {"kind": "csat"}, "· Sam sent a satisfaction survey (CSAT)"),
        (
            "survey_skipped",
            {"reason": "closed as spam"},
            "· Sam sent no satisfaction survey: closed as spam",
        ),
        (
            "survey_answered",
            {"kind": "ces", "rating": 2, "of": 7},
            "· customer answered the satisfaction survey: 2 of 7 (CES)",
        ),
        ("undone", {"action": "merge"}, "· Sam undid a change (merge)"),
        ("tagged", {"tag": "[red]vip[/red]"}, "· Sam added a tag [red]vip[/red]"),
    ],
)
def test_event_details_are_plain_sentences(
    kind: str, detail: dict[str, object], expected: str
) -> None:
    actor = "customer" if kind == "survey_answered" else "Sam"
    line = event_line(Event(NOW, actor, kind, detail))
    assert line.plain == f"{expected} · {AT}"
    assert not line.spans  # one style for the line: nothing in it was read as markup


async def test_the_thread_shows_reply_path_events(store: Store, clock: FakeClock) -> None:
    cid = thread(store, "Where is my order?")
    taken = store.queue_reply(cid, "Sam", "first try", remote_id="t1", send_delay=10)
    assert store.take_back(taken, "Sam") == "first try"
    app = make_app(store, clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_conversation(pilot, cid)
        assert "Sam took back a reply before it went out (undo send)" in screen_text(app)


# configuration --------------------------------------------------------------------------------

CONFIG = """
[storage]
path = "{db}"

[agent]
name = "Sam"
email = "sam@frontdesk.test"

[[accounts]]
name = "mail"
kind = "imap"
imap_host = "localhost"
username = "u"
password_env = "FD_TEST_UNSET_VAR"
smtp_host = "localhost"
from_address = "Support Team <Help@Frontdesk.test>"

[console]
{console}
"""


def console_config(tmp_path: Path, console: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(db=tmp_path / "f.db", console=console), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_the_console_gets_our_addresses_advance_and_send_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`frontdesk` builds the app from the config (only the terminal loop is left out)."""
    seen: dict[str, object] = {}

    def record(app: FrontdeskApp) -> None:
        seen.update(own=app.own_addresses, advance=app.advance, delay=app.send_delay)

    monkeypatch.setattr(FrontdeskApp, "run", record)
    path = console_config(tmp_path, 'advance = "queue"\nsend_delay = 5')
    result = CliRunner().invoke(main, ["--config", str(path)])
    assert result.exit_code == 0, result.output
    assert seen == {"own": ["help@frontdesk.test"], "advance": "queue", "delay": 5}


def test_send_delay_defaults_to_ten_seconds_and_refuses_a_negative(tmp_path: Path) -> None:
    assert load_config(console_config(tmp_path, "")).console.send_delay == 10
    with pytest.raises(ConfigError) as caught:
        load_config(console_config(tmp_path, "send_delay = -1"))
    assert "console.send_delay" in str(caught.value)
