"""Every reply reaches the customer exactly once (issue 14): one delivering process per account
(the lease), `uncertain` after a lost answer to DATA and a probe of the Sent folder before any
resend, Sent found by SPECIAL-USE, and `sync --once` failing loudly when a reply did not go.

Real components: Dovecot, aiosmtpd (tests/servers/smtp.py), `frontdesk sync` subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.email.imap.wire import sent_folder_in_list
from connectors.email.settings import ImapAccountSettings
from connectors.email.smtp import compose_reply
from connectors.runner import run_once
from storage.aio import AsyncStore
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import email
from tests.imap_helpers import (
    PASSWORD_ENV,
    SUPPORT,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot
from tests.servers.smtp import RecordingSMTPServer
from tests.waits import until

pytestmark = pytest.mark.usefixtures("imap_password")
RUN_TIMEOUT = 120.0


def _config(tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer, db: Path) -> Path:
    config = tmp_path / "frontdesk.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "mail"\nkind = "imap"\n'
        f'imap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\nimap_security = "none"\n'
        f'username = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "{smtp.host}"\nsmtp_port = {smtp.port}\nsmtp_security = "none"\n'
        f'from_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def _spawn(config: Path, state_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XDG_STATE_HOME": str(state_dir)}  # each process its own log
    return subprocess.Popen(
        [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _log(state_dir: Path) -> str:
    path = state_dir / "frontdesk" / "frontdesk.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _questions(dovecot: DovecotServer, count: int) -> None:
    for n in range(count):
        dovecot.append("INBOX", mail(f"<q{n}@customer.example>", subject=f"Order {n}").as_bytes())


def _answer(store: Store, count: int) -> list[int]:
    """Queue a reply in each of `count` conversations; returns the replies' message ids."""
    replies = []
    for n in range(count):
        conversation = message_row(store, f"<q{n}@customer.example>")["conversation_id"]
        replies.append(store.queue_reply(conversation, "Sam", f"Answer {n}", remote_id=f"k{n}"))
    return replies


def _message_ids(smtp: RecordingSMTPServer) -> Counter[str]:
    return Counter(str(m.message["Message-ID"]) for m in smtp.messages)


def _sent_as(store: Store, reply: int) -> str:
    """The Message-ID the email connector gave the reply when it claimed it."""
    row = store.conn.execute("SELECT remote_id FROM messages WHERE id = ?", (reply,)).fetchone()
    assert str(row[0]).endswith("@frontdesk.test>"), row[0]  # minted, in the account's domain
    return str(row[0])


def _status(store: Store, reply: int) -> tuple[str, str | None]:
    row = store.conn.execute(
        "SELECT status, outcome FROM outbox WHERE message_id = ?", (reply,)
    ).fetchone()
    return str(row[0]), row[1]


def test_two_sync_processes_send_each_of_20_replies_exactly_once(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    db = tmp_path / "store.db"
    config = _config(tmp_path, dovecot, mail_server, db)
    _questions(dovecot, 20)
    first = _spawn(config, tmp_path / "ingest")
    assert first.wait(RUN_TIMEOUT) == 0, first.stderr.read().decode() if first.stderr else ""
    store = Store(db)  # the real clock: the subprocesses see these replies as due
    replies = _answer(store, 20)
    # The first process stays in the middle of sending its first reply while the second runs
    # a whole pass: today's code took that in-flight reply for a crashed one and sent it too.
    holding, release = mail_server.hold_next_data()

    a = _spawn(config, tmp_path / "a")
    until(holding.is_set, "the first process to be sending", timeout=RUN_TIMEOUT)
    b = _spawn(config, tmp_path / "b")
    _, b_err = b.communicate(timeout=RUN_TIMEOUT)
    release.set()
    _, a_err = a.communicate(timeout=RUN_TIMEOUT)

    assert (a.returncode, b.returncode) == (0, 0), (a_err.decode(), b_err.decode())
    # each once, none missing
    assert _message_ids(mail_server) == Counter(_sent_as(store, r) for r in replies)
    assert {_status(store, r) for r in replies} == {("sent", None)}
    assert "standing by" in _log(tmp_path / "b")  # the second one said why it did not send
    store.close()


async def test_a_connection_lost_after_data_is_uncertain_then_found_in_sent(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    # Gmail files what its SMTP accepts in Sent; the answer to DATA is lost.
    settings, reply = await _one_reply(dovecot, mail_server, astore, store)
    mail_server.on_accept(lambda data: dovecot.append("Sent", data))
    mail_server.drop_after_data(1, accepted=True)

    await sync(settings, astore)

    assert _status(store, reply) == ("sending", "uncertain")
    [problem] = store.outbox_problems()
    assert problem.state == "uncertain" and "may have been sent" in problem.reason
    await sync(settings, astore)  # the probe finds it in Sent: never sent again

    assert _message_ids(mail_server) == Counter([_sent_as(store, reply)])
    assert _status(store, reply) == ("sent", None)
    assert store.outbox_problems() == []


async def _one_reply(
    dovecot: DovecotServer, smtp: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> tuple[ImapAccountSettings, int]:
    """Sync a customer's question and queue a reply: (settings, the reply's message id)."""
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    settings = account_settings(dovecot, smtp_host=smtp.host, smtp_port=smtp.port)
    await sync(settings, astore)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    reply = store.queue_reply(conversation, "Sam", "Here it is.", remote_id="k")
    return settings, reply


async def test_an_uncertain_reply_missing_from_sent_is_resent_once(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    # The server read all of DATA, then died without keeping it: the probe finds nothing.
    settings, reply = await _one_reply(dovecot, mail_server, astore, store)
    mail_server.drop_after_data(1, accepted=False)

    await sync(settings, astore)  # lost after DATA: uncertain, nothing resent in this pass
    assert _status(store, reply) == ("sending", "uncertain")
    assert mail_server.messages == []
    await sync(settings, astore)  # probe: not in Sent -> sent again, once
    await sync(settings, astore)

    assert _message_ids(mail_server) == Counter([_sent_as(store, reply)])
    assert _status(store, reply) == ("sent", None)
    assert len(dovecot.uids("Sent")) == 1
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    events = [e.kind for e in store.detail(conversation).events]
    assert events.count("reply_resent") == 1  # the agent sees it may have gone twice


async def test_a_reply_uncertain_twice_is_never_sent_a_third_time(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    # A provider that keeps what it gets but files nothing in Sent, and loses both answers.
    settings, reply = await _one_reply(dovecot, mail_server, astore, store)
    mail_server.drop_after_data(2, accepted=True)

    for _ in range(4):
        await sync(settings, astore)

    assert _message_ids(mail_server) == Counter({_sent_as(store, reply): 2})  # try + one resend
    assert _status(store, reply) == ("sending", "uncertain")
    [problem] = store.outbox_problems()
    assert "sent again once" in problem.reason


def test_an_in_flight_claim_is_recovered_only_after_its_holders_lease_expired(
    store: Store, clock: FakeClock
) -> None:
    account = store.ensure_account("mail", "imap")
    [question] = store.ingest([email(account, "<q@customer.example>", clock.now)])
    store.queue_reply(question.conversation_id, "Sam", "Hi", remote_id="<r@frontdesk.test>")
    [item] = store.due_outbox()
    assert store.take_lease(account, "A", 30) == "A"
    assert store.outbox_sending(item.id, holder="A") is True  # A is sending it now

    assert store.take_lease(account, "B", 30) == "A"  # B stands by
    assert store.outbox_sending(item.id, holder="B", resuming=True) is False
    clock.advance(20)
    assert store.take_lease(account, "A", 30) == "A"  # A's heartbeat
    clock.advance(29)
    assert store.take_lease(account, "B", 30) == "A"  # still alive: 1 s left
    assert store.unfinished_outbox(account, "B") == []

    clock.advance(2)  # A missed its heartbeats: crashed
    assert store.take_lease(account, "B", 30) == "B"
    assert [i.id for i in store.unfinished_outbox(account, "B")] == [item.id]
    assert store.outbox_sending(item.id, holder="B", resuming=True) is True
    assert store.outbox_sending(item.id, holder="A", resuming=True) is False  # A lost it


@pytest.fixture
def mail_folders(request: pytest.FixtureRequest) -> Iterator[DovecotServer]:
    """Dovecot whose Sent folder is named as a provider names it (special_use = \\Sent)."""
    require_dovecot()
    server = DovecotServer(sent_folder=request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("mail_folders", ["[Gmail]/Sent Mail", "Sent Items"], indirect=True)
async def test_the_sent_folder_is_found_by_special_use(
    mail_folders: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
    astore: AsyncStore,
    store: Store,
    request: pytest.FixtureRequest,
) -> None:
    dovecot = mail_folders
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    sent = dovecot.folders()
    with RecordingSMTPServer(user=dovecot.user, password=dovecot.password) as smtp:
        settings, reply = await _one_reply(dovecot, smtp, astore, store)
        await sync(settings, astore)
        # A crash after sending: the probe must look in the same folder, not in "Sent".
        later = store.queue_reply(
            message_row(store, "<q@customer.example>")["conversation_id"],
            "Sam",
            "And one more thing.",
            remote_id="k2",
        )
        [second] = store.due_outbox()
        assert store.outbox_claim_with_id(second.id, "<r2@frontdesk.test>") is not None
        context = store.reply_context(second.message_id)
        folder = next(f for f in sent if f != "INBOX")
        dovecot.append(folder, compose_reply(context, settings).raw)
        await sync(settings, astore)

        assert _message_ids(smtp) == Counter([_sent_as(store, reply)])  # the second: found
    assert "Sent" not in dovecot.folders()  # no stray folder created
    assert len(dovecot.uids(folder)) == 2
    assert _status(store, reply) == ("sent", None)
    assert _status(store, later) == ("sent", None)
    assert store.outbox_problems() == []


async def test_a_failed_sent_copy_never_blocks_delivery_and_is_retried(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    settings, reply = await _one_reply(dovecot, mail_server, astore, store)
    settings = settings.model_copy(update={"sent_folder": "Archive/Sent"})  # not there yet

    await run_once(astore, [settings])
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    later = store.queue_reply(conversation, "Sam", "Later reply", remote_id="k2")
    failures = await run_once(astore, [settings])

    assert _message_ids(mail_server) == Counter([_sent_as(store, r) for r in (reply, later)])
    assert failures == []  # the replies went out: the copy is not a failed reply
    problems = store.outbox_problems()
    assert {p.state for p in problems} == {"copy failed"}
    assert len(problems) == 2
    [status] = store.sync_statuses()
    assert "2 replies copy failed" in status.detail and "Archive/Sent" in status.detail

    dovecot.create_folder("Archive/Sent")
    await run_once(astore, [settings])

    assert len(dovecot.uids("Archive/Sent")) == 2
    assert store.outbox_problems() == []
    assert len(mail_server.messages) == 2  # retrying the copy sent nothing again


def test_sync_once_exits_non_zero_naming_each_reply_that_did_not_go(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    db = tmp_path / "store.db"
    config = _config(tmp_path, dovecot, mail_server, db)
    _questions(dovecot, 2)
    assert _spawn(config, tmp_path / "log").wait(RUN_TIMEOUT) == 0
    store = Store(db)
    _answer(store, 2)
    first, second = (message_row(store, f"<q{n}@customer.example>") for n in range(2))
    mail_server.refuse_next(1, code=554, text="5.7.1 Spam suspected")  # the first reply
    mail_server.drop_after_data(1)  # the second: the answer to DATA is lost

    run = _spawn(config, tmp_path / "log")
    _, err = run.communicate(timeout=RUN_TIMEOUT)

    lines = err.decode().splitlines()
    assert run.returncode == 1
    assert any(
        f"conversation #{second['conversation_id']} (Order 1) is uncertain" in line
        for line in lines
    ), lines
    assert any(
        f"conversation #{first['conversation_id']} (Order 0) failed" in line
        and "554 5.7.1 Spam suspected" in line
        for line in lines
    ), lines
    # The console reads the same: the thread marks the refused reply, the conversation its
    # uncertain one.
    assert store.detail(first["conversation_id"]).messages[-1].delivery == "failed"
    [uncertain] = store.outbox_problems(conversation_id=second["conversation_id"])
    assert uncertain.state == "uncertain"
    store.close()


def test_a_sent_folder_is_read_from_a_list_answer() -> None:
    lines = [
        b'(\\HasNoChildren) "/" INBOX',
        b'(\\HasNoChildren \\Sent) "/" "&AMk-l&AOk-ments envoy&AOk-s"',
        b"List completed.",
    ]
    assert sent_folder_in_list(lines) == "Éléments envoyés"
    assert sent_folder_in_list([b'(\\Noselect \\Sent) "/" Sent', b'() "/" INBOX']) is None
    assert sent_folder_in_list([b'(\\sent) "." "Sent \\"old\\""']) == 'Sent "old"'


async def test_undo_send_within_the_delay_takes_the_reply_back(
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    astore: AsyncStore,
    store: Store,
    clock: FakeClock,
) -> None:
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    await sync(settings, astore)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    before = store.detail(conversation).conversation
    reply = store.queue_reply(
        conversation, "Sam", "Oops, wrong customer", remote_id="k", send_delay=10
    )
    assert store.detail(conversation).conversation.status == "pending"

    clock.advance(9)
    await sync(settings, astore)  # not due yet: nothing goes out
    assert mail_server.messages == []
    assert store.takeable_reply(conversation) == (reply, clock.now + 1)
    assert store.take_back(reply, "Sam") == "Oops, wrong customer"

    clock.advance(60)
    await sync(settings, astore)
    assert mail_server.messages == []
    after = store.detail(conversation).conversation
    assert (after.status, after.waiting_since) == (before.status, before.waiting_since)
    assert after.first_response_at is None
    assert store.take_back(reply, "Sam") is None  # only once


async def test_undo_send_after_the_delay_is_too_late(
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    astore: AsyncStore,
    store: Store,
    clock: FakeClock,
) -> None:
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    settings = account_settings(dovecot, smtp_host=mail_server.host, smtp_port=mail_server.port)
    await sync(settings, astore)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    reply = store.queue_reply(conversation, "Sam", "All good", remote_id="k", send_delay=10)

    clock.advance(10)
    assert store.takeable_reply(conversation) is None
    await sync(settings, astore)

    assert _message_ids(mail_server) == Counter([_sent_as(store, reply)])
    assert store.take_back(reply, "Sam") is None
    assert _status(store, reply) == ("sent", None)
