"""Follow-up batches (issue 14): one message per customer, recipients can be left out, and
cancelling (ctrl+x or `u`) puts every conversation back exactly as it was.

Driven with Pilot on the real app; the delivery test syncs a real Dovecot and sends through
aiosmtpd. Oracles are read with SQL before the batch, never computed by the product.
"""

from __future__ import annotations

import email as email_lib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Static

from console import followup
from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.confirm import ConfirmScreen
from console.screens.followup import FollowUpScreen
from console.widgets.picker import Picker
from storage import search
from storage.aio import AsyncStore
from storage.models import CannedReply
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email
from tests.imap_helpers import (
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.waits import until_async

TAG = "feature-request/snooze-dates"
BODY = "Hi {{ contact.first_name }}, snoozing until a date has shipped."
ALICE = "Alice Martin <alice@customer.example>"
BRUNO = "Bruno Silva <bruno@b.example>"


async def start_follow_up(pilot, reply: str) -> FollowUpScreen:  # type: ignore[no-untyped-def]
    await pilot.press("slash", *f"tag:{TAG}", "enter")
    await pilot.press("F")
    await until_async(lambda: isinstance(pilot.app.screen, Picker), "the canned reply picker")
    await pilot.press(*reply, "enter")
    await until_async(lambda: isinstance(pilot.app.screen, FollowUpScreen), "the review")
    screen = pilot.app.screen
    assert isinstance(screen, FollowUpScreen)
    return screen


def day(n: int) -> datetime:
    return datetime(2026, 3, n, 9, 30, tzinfo=UTC)


@pytest.mark.usefixtures("imap_password")
async def test_one_message_per_customer_and_an_unticked_one_gets_none(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    """Alice asked twice (two conversations with the tag), Bruno once; the agent unticks
    Bruno. aiosmtpd receives one mail, to Alice, in her most recent conversation."""
    dovecot.append("INBOX", mail("<a1@customer.example>", date=day(2)).as_bytes())
    later = mail("<a2@customer.example>", subject="Snooze to a date?", date=day(5))
    dovecot.append("INBOX", later.as_bytes())
    dovecot.append("INBOX", mail("<b1@b.example>", sender=BRUNO, date=day(3)).as_bytes())
    settings = account_settings(
        dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port, open_recent_days=36500
    )
    await sync(settings, astore)
    older, newer, bruno = (
        message_row(store, key)["conversation_id"]
        for key in ("<a1@customer.example>", "<a2@customer.example>", "<b1@b.example>")
    )
    assert len({older, newer, bruno}) == 3
    store.tag([older, newer, bruno], "Sam", TAG)
    store.upsert_canned_reply("Feature shipped", BODY, shortcut=None, folder="", source="agent")

    app = FrontdeskApp(store, me="sam@frontdesk.test", agent_name="Sam", clock=store.clock)
    async with app.run_test(size=(150, 45)) as pilot:
        screen = await start_follow_up(pilot, "feature shipped")
        shown = {(r.conversation_id, r.left_out) for r in screen.rendered}
        assert shown == {(newer, (older,)), (bruno, ())}
        recipients = screen.query_one("#followup-recipients")
        recipients.focus()
        await pilot.press("home")
        rows = [r.conversation_id for r in screen.rendered]
        await pilot.press(*["down"] * rows.index(bruno), "space", "ctrl+s")
        await until_async(lambda: not isinstance(app.screen, FollowUpScreen), "the queue")

    await sync(settings, astore)
    await sync(settings, astore)  # a second pass sends nothing more

    [received] = mail_server.messages
    assert list(received.rcpt_tos) == ["alice@customer.example"]
    parsed = email_lib.message_from_bytes(received.data)
    assert parsed["In-Reply-To"] == "<a2@customer.example>"
    assert "Hi Alice, snoozing until a date has shipped." in received.data.decode()
    outbox = store.conn.execute("SELECT conversation_id FROM outbox").fetchall()
    assert [r[0] for r in outbox] == [newer]


NOW = 1_800_000_000.0


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    return store


def as_they_are(store: Store, ids: list[int]) -> dict[int, tuple[object, ...]]:
    """Every column of each conversation and its tags, read with SQL."""
    seen = {}
    for cid in ids:
        row = store.conn.execute("SELECT * FROM conversations WHERE id = ?", (cid,)).fetchone()
        tags = store.conn.execute(
            "SELECT tag_id FROM conversation_tags WHERE conversation_id = ? ORDER BY tag_id",
            (cid,),
        ).fetchall()
        seen[cid] = (tuple(row), tuple(t[0] for t in tags))
    return seen


def contacts_of(store: Store, ids: list[int]) -> int:
    marks = ",".join("?" * len(ids))
    sql = f"SELECT count(DISTINCT contact_id) FROM conversations WHERE id IN ({marks})"
    return int(store.conn.execute(sql, ids).fetchone()[0])


@pytest.mark.parametrize("key", ["ctrl+x", "u"])
async def test_cancelling_a_batch_restores_status_tags_and_sla_exactly(
    demo_store: Store, key: str
) -> None:
    ids = [r.id for r in demo_store.page(search.parse(f"tag:{TAG}"), limit=1000)]
    assert len(ids) >= 3
    before = as_they_are(demo_store, ids)
    app = FrontdeskApp(demo_store, me=AGENT.address, agent_name="Sam Rivera", clock=FakeClock(NOW))
    async with app.run_test(size=(150, 40)) as pilot:
        await start_follow_up(pilot, "feature shipped")
        await pilot.press("ctrl+s")
        await until_async(lambda: not isinstance(app.screen, FollowUpScreen), "the queue")
        queued = as_they_are(demo_store, ids)
        chosen = {r[0] for r in demo_store.conn.execute("SELECT conversation_id FROM outbox")}
        assert len(chosen) == contacts_of(demo_store, ids)  # one per customer
        for cid in ids:  # the chosen ones pending and tagged, the others untouched
            assert (queued[cid] != before[cid]) == (cid in chosen), cid
        await pilot.press("escape")  # leave the search: the batch is still the last action
        await pilot.press(key)
        await pilot.pause()
        assert not any("Nothing to undo" in str(n.message) for n in app._notifications)

    assert as_they_are(demo_store, ids) == before
    statuses = demo_store.conn.execute("SELECT DISTINCT status FROM outbox").fetchall()
    assert [r[0] for r in statuses] == ["cancelled"]
    assert demo_store.due_outbox() == []


def test_a_reply_already_going_keeps_its_conversation_as_it_is(demo_store: Store) -> None:
    ids = [r.id for r in demo_store.page(search.parse(f"tag:{TAG}"), limit=1000)]
    before = as_they_are(demo_store, ids)
    reply = CannedReply(0, "Shipped", None, "", BODY, "config")
    rendered, blocked = followup.render_batch(demo_store, ids, reply, "Sam", "sam@x.test")
    assert blocked == []
    batch = followup.queue_batch(
        demo_store, rendered, agent_name="Sam", agent_email="sam@x.test", tag="done", close=False
    )
    first, *others = demo_store.due_outbox()
    assert demo_store.outbox_sending(first.id) is True  # the sync is sending it right now
    after_queue = as_they_are(demo_store, [first.conversation_id])

    assert demo_store.cancel_follow_up(batch.id, batch.snapshot, "Sam") == (len(others), 1)

    assert as_they_are(demo_store, [o.conversation_id for o in others]) == {
        o.conversation_id: before[o.conversation_id] for o in others
    }
    assert as_they_are(demo_store, [first.conversation_id]) == after_queue  # it is going out


def customer_writes(db_path: Path, cid: int, text: str) -> None:
    """Another process (the sync) stores a customer message in conversation `cid`."""
    other = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW + 5))
    first = other.detail(cid).messages[0]
    row = other.conn.execute(
        "SELECT account_id, remote_id FROM messages WHERE id = ?", (first.id,)
    ).fetchone()
    who = other.detail(cid).contact.identities[0]
    other.ingest([email(row[0], "<late@x>", NOW + 5, who=who, parents=(row[1],), text=text)])
    other.close()


async def test_a_customer_writing_during_the_review_is_shown_before_anything_is_queued(
    demo_store: Store, db_path: Path
) -> None:
    """The collision check at this send too: "CANCEL my order" arrives while the agent reads
    the review; ctrl+s shows it; "no" queues nothing; a fresh review then goes without a
    question."""
    app = FrontdeskApp(demo_store, me=AGENT.address, agent_name="Sam Rivera", clock=FakeClock(NOW))
    async with app.run_test(size=(150, 40)) as pilot:
        screen = await start_follow_up(pilot, "feature shipped")
        target = screen.rendered[1]
        assert target.channel == "email"
        customer_writes(db_path, target.conversation_id, "CANCEL my order")
        await pilot.press("ctrl+s")
        await until_async(lambda: isinstance(app.screen, ConfirmScreen), "the warning")
        warning = str(app.screen.query_one(Static).render())
        assert "CANCEL my order" in warning and f"#{target.conversation_id}" in warning
        await pilot.press("n")
        await pilot.pause()
        assert demo_store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0

        await pilot.press("F")
        await until_async(lambda: isinstance(app.screen, Picker), "the canned reply picker")
        await pilot.press(*"feature shipped", "enter")
        await until_async(lambda: isinstance(app.screen, FollowUpScreen), "the review")
        count = len(app.screen.rendered)
        await pilot.press("ctrl+s")
        await until_async(lambda: not isinstance(app.screen, FollowUpScreen), "the queue")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert len(demo_store.due_outbox()) == count
