"""The email connector mints a reply's Message-ID (issue 13) and keeps it across a crash
(issue 14): minted from the account's `from_address` domain, persisted with the outbox claim
before SMTP sees the mail, and reused by every later attempt, so the Sent-folder probe after a
crash looks for the id that actually went out and no second copy with another id is sent.

Real components: `frontdesk sync --once` subprocesses SIGKILLed mid-send, aiosmtpd holding the
answer to DATA (tests/servers/smtp.py), Dovecot's Sent folder.
"""

from __future__ import annotations

import email
import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from console.actions import send_reply
from storage.db import _statements, migrations
from storage.store import Store
from tests.imap_helpers import (
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_row,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.sync_helpers import RUN_TIMEOUT, run, spawn, write_config
from tests.waits import until

pytestmark = pytest.mark.usefixtures("imap_password")
AGENT_EMAIL = "sam@agents.example"  # the agent's own address: never the reply's Message-ID


def _run(config: Path) -> None:
    status, err = run(config)
    assert status == 0, err


def _reply_row(db: Path) -> tuple[str, str]:
    """(outbox status, the reply's stored Message-ID), read as another process would."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT o.status, m.remote_id FROM outbox o JOIN messages m ON m.id = o.message_id"
        ).fetchone()
        return str(row[0]), str(row[1])
    finally:
        conn.close()


def _expire_leases(db: Path) -> None:
    """The killed holder's lease runs out (30 s without a heartbeat), without waiting 30 s."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE delivery_leases SET expires_at = 0")
    finally:
        conn.close()


def _sent_ids(dovecot: DovecotServer) -> list[str]:
    return [
        str(email.message_from_bytes(dovecot.fetch_raw("Sent", uid))["Message-ID"])
        for uid in dovecot.uids("Sent")
    ]


@pytest.mark.parametrize("server_kept_it", [True, False], ids=["after-data", "before-data"])
def test_a_sync_killed_mid_send_resumes_with_the_message_id_persisted_at_the_claim(
    tmp_path: Path,
    dovecot: DovecotServer,
    mail_server: RecordingSMTPServer,
    server_kept_it: bool,
) -> None:
    db = tmp_path / "store.db"
    config = write_config(tmp_path, dovecot, mail_server, db)
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    _run(config)
    store = Store(db)  # the real clock: the subprocesses see the reply as due
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    send_reply(store, conversation, agent_name="Sam", agent_email=AGENT_EMAIL, text="Done.")
    store.close()

    holding, release = mail_server.hold_next_data()
    first = spawn(config)
    until(holding.is_set, "the reply's DATA to reach the server", timeout=RUN_TIMEOUT)
    # SMTP has the whole message and has not answered: the claim and its id are stored.
    status, claimed_id = _reply_row(db)
    assert status == "sending"
    assert claimed_id.endswith("@frontdesk.test>"), claimed_id  # the account's domain
    if server_kept_it:
        # Gmail-like, the server files what it accepts in Sent; the sender dies as it accepts,
        # before the answer reaches it (a kill within a millisecond of acceptance).
        def accepted(data: bytes) -> None:
            dovecot.append("Sent", data)
            os.killpg(first.pid, signal.SIGKILL)

        mail_server.on_accept(accepted)
        release.set()
        mail_server.wait_for(1, timeout=RUN_TIMEOUT)
    else:  # the sender dies while the server still holds DATA unanswered: it never keeps it
        os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=RUN_TIMEOUT)
    assert first.returncode == -signal.SIGKILL
    mail_server.on_accept(None)
    assert _reply_row(db) == ("sending", claimed_id)  # the outcome unknown to the store

    _expire_leases(db)
    _run(config)  # resumes the item left `sending`: probe the Sent folder, then at most resend

    received = Counter(str(m.message["Message-ID"]) for m in mail_server.messages)
    assert received == Counter([claimed_id])  # exactly one copy, with the id claimed first
    assert _sent_ids(dovecot) == [claimed_id]
    assert _reply_row(db) == ("sent", claimed_id)
    release.set()  # the killed connection's DATA, if aiosmtpd still waits on it


def test_the_message_id_is_the_accounts_domain_not_the_agents(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    db = tmp_path / "store.db"
    config = write_config(tmp_path, dovecot, mail_server, db)
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    _run(config)
    store = Store(db)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    send_reply(store, conversation, agent_name="Sam", agent_email=AGENT_EMAIL, text="Done.")
    store.close()

    _run(config)

    [received] = mail_server.messages
    message_id = str(received.message["Message-ID"])
    assert message_id.startswith("<") and message_id.endswith("@frontdesk.test>"), message_id
    assert _reply_row(db) == ("sent", message_id)  # threading finds the reply by this id
    # The customer answers it: the answer joins the conversation by In-Reply-To alone.
    answer = mail("<a@customer.example>", subject="Thanks", in_reply_to=message_id)
    dovecot.append("INBOX", answer.as_bytes())
    _run(config)
    store = Store(db)
    assert message_row(store, "<a@customer.example>")["conversation_id"] == conversation
    store.close()


def _store_before_0013(path: Path) -> None:
    """A store as the previous version left it: an email reply in flight (claimed, its
    Message-ID minted by the console when it was queued) and a Slack reply waiting."""
    conn = sqlite3.connect(path, isolation_level=None)
    applied = [number for number, _ in migrations() if number < 13]
    for number, script in migrations():
        if number in applied:
            for statement in _statements(script):
                conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {max(applied)}")
    conn.executescript(
        """
        INSERT INTO accounts VALUES (1, 'mail', 'imap', 0), (2, 'slack', 'slack', 0);
        INSERT INTO contacts (id, name, created_at) VALUES (1, 'Alice', 0);
        INSERT INTO conversations (id, account_id, channel, subject, contact_id, status,
            last_message_at, created_at, group_key, queue_key)
            VALUES (1, 1, 'email', 'Order', 1, 'pending', 0, 0, 'order', 0),
                   (2, 2, 'slack', '', 1, 'pending', 0, 0, '', 0);
        INSERT INTO messages (id, conversation_id, account_id, remote_id, thread_ref, direction,
            sent_at, thread_reason, delivery, created_at)
            VALUES (1, 1, 1, '<old@agents.example>', '<old@agents.example>', 'out', 0,
                    'agent reply', 'queued', 0),
                   (2, 2, 2, '<older@agents.example>', '<older@agents.example>', 'out', 0,
                    'agent reply', 'queued', 0);
        INSERT INTO outbox (id, conversation_id, account_id, message_id, body, status,
            next_attempt_at, created_by, created_at)
            VALUES (1, 1, 1, 1, 'Done.', 'sending', 0, 'Sam', 0),
                   (2, 2, 2, 2, 'Done.', 'queued', 0, 'Sam', 0);
        """
    )
    conn.close()


def test_a_reply_in_flight_before_the_upgrade_keeps_the_message_id_it_may_have_gone_with(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    _store_before_0013(db)
    store = Store(db)  # migrates
    try:
        # The resumed claim keeps the id the reply was queued with: the probe and any resend
        # use it, not a fresh one.
        assert store.outbox_claim_with_id(1, "<new@frontdesk.test>", resuming=True) == (
            "<old@agents.example>"
        )
        assert message_row(store, "<old@agents.example>")["thread_ref"] == "<old@agents.example>"
        slack = store.conn.execute("SELECT mail_id FROM outbox WHERE id = 2").fetchone()
        assert slack[0] is None  # Slack replies take no Message-ID
    finally:
        store.close()
