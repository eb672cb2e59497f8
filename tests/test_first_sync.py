"""First sync of an existing mailbox against a real Dovecot: history is imported closed (still
among the customer's past conversations); only recent, unanswered conversations open the
queue. Same for a folder added later; a crashed first pass resumes with the same rule."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.email import sync as imap_sync
from storage.aio import AsyncStore
from storage.queue import needs_reply
from storage.store import Store
from tests.conftest import FakeClock
from tests.imap_helpers import (
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.usefixtures("imap_password")
DAY = 86_400.0


def _raw(clock: FakeClock, msgid: str, days_ago: float, sender: str, subject: str) -> bytes:
    return mail(msgid, date=_when(clock, days_ago), sender=sender, subject=subject).as_bytes()


def _when(clock: FakeClock, days_ago: float) -> datetime:
    return datetime.fromtimestamp(clock.now - days_ago * DAY, UTC)


@pytest.fixture(autouse=True)
def _clock_at_real_time(clock: FakeClock) -> None:
    """Dovecot stamps arrival with the real time, and a Date after the arrival is not
    believed: the test clock starts at the real now (and is moved by hand from there)."""
    clock.now = float(int(time.time()))


def _status(store: Store, msgid: str) -> str:
    conversation = message_row(store, msgid)["conversation_id"]
    row = store.conn.execute("SELECT status FROM conversations WHERE id = ?", (conversation,))
    return str(row.fetchone()[0])


def _open_subjects(store: Store) -> set[str]:
    return {row.subject for row in store.page(needs_reply())}


def _events(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM events").fetchone()[0])


async def test_first_sync_opens_only_recent_unanswered_conversations(
    dovecot: DovecotServer, astore: AsyncStore, store: Store, clock: FakeClock
) -> None:
    alice = "Alice <alice@customer.example>"
    dovecot.append(
        "INBOX",
        _raw(clock, "<old@c.example>", 200, alice, "Old invoice question"),
    )
    dovecot.append("INBOX", _raw(clock, "<edge@c.example>", 15, alice, "Fifteen days ago"))
    dovecot.append("INBOX", _raw(clock, "<new@c.example>", 2, alice, "Login broken"))
    answered = _raw(clock, "<ans@c.example>", 1, "Bob <bob@b.example>", "Already answered")
    dovecot.append("INBOX", answered, flags=["\\Seen", "\\Answered"])

    await sync(account_settings(dovecot), astore)

    # By hand: 14-day default; 200 and 15 days old are history, the \Answered one too.
    assert _open_subjects(store) == {"Login broken"}
    assert _status(store, "<old@c.example>") == "closed"
    assert _status(store, "<edge@c.example>") == "closed"
    assert _status(store, "<ans@c.example>") == "closed"
    # History stays as context: shown among Alice's other conversations.
    detail = store.detail(message_row(store, "<new@c.example>")["conversation_id"])
    assert {o.subject: o.status for o in detail.others} == {
        "Old invoice question": "closed",
        "Fifteen days ago": "closed",
    }

    # Idempotent: a second pass stores and closes nothing more.
    events = _events(store)
    await sync(account_settings(dovecot), astore)
    assert _events(store) == events
    assert _open_subjects(store) == {"Login broken"}

    # After the first pass, mail is work again, however old its Date (a late delivery).
    dovecot.append("INBOX", _raw(clock, "<late@c.example>", 30, alice, "Delayed by a relay"))
    await sync(account_settings(dovecot), astore)
    assert _open_subjects(store) == {"Login broken", "Delayed by a relay"}


async def test_open_recent_days_is_the_account_setting(
    dovecot: DovecotServer, astore: AsyncStore, store: Store, clock: FakeClock
) -> None:
    carol = "Carol <carol@c.example>"
    dovecot.append("INBOX", _raw(clock, "<a@c.example>", 40, carol, "Forty days"))
    dovecot.append(
        "INBOX",
        _raw(clock, "<b@c.example>", 70, "Dan <dan@d.example>", "Seventy"),
    )
    await sync(account_settings(dovecot, open_recent_days=60), astore)
    assert _open_subjects(store) == {"Forty days"}


async def test_a_newly_added_folder_is_imported_as_history_too(
    dovecot: DovecotServer, astore: AsyncStore, store: Store, clock: FakeClock
) -> None:
    erin = "Erin <erin@e.example>"
    dovecot.append("INBOX", _raw(clock, "<inbox@e.example>", 1, erin, "Current problem"))
    await sync(account_settings(dovecot), astore)
    dovecot.create_folder("Archive")
    dovecot.append("Archive", _raw(clock, "<arch-old@e.example>", 90, erin, "Archived 2025"))
    dovecot.append(
        "Archive",
        _raw(clock, "<arch-new@e.example>", 3, "F <f@f.example>", "Filed"),
    )

    await sync(account_settings(dovecot, folders=["INBOX", "Archive"]), astore)

    assert _open_subjects(store) == {"Current problem", "Filed"}
    assert _status(store, "<arch-old@e.example>") == "closed"


async def test_a_first_pass_cut_short_resumes_with_the_same_rule(
    dovecot: DovecotServer,
    astore: AsyncStore,
    store: Store,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imap_sync, "BATCH", 2)
    raws = [
        _raw(clock, f"<h{n}@g.example>", 100 + n, f"G{n} <g{n}@g.example>", f"Old {n}")
        for n in range(5)
    ]
    dovecot.append_many(
        "INBOX",
        [*raws, _raw(clock, "<now@g.example>", 0.5, "H <h@h.example>", "Now")],
    )

    async def crash(folder: str, last_uid: int) -> None:
        raise RuntimeError("killed after the first batch")

    with pytest.raises(RuntimeError):
        await sync(account_settings(dovecot), astore, on_batch=crash)
    # The stored batch is already settled: nothing of it waits in the queue.
    assert _open_subjects(store) == set()
    assert store.checkpoint(1, "folder:INBOX") is not None
    # A clock far ahead must not move the horizon of the pass being resumed.
    clock.advance(365 * DAY)
    await sync(account_settings(dovecot), astore)
    assert _open_subjects(store) == {"Now"}
    assert {_status(store, f"<h{n}@g.example>") for n in range(5)} == {"closed"}
