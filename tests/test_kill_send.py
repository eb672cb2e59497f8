"""`frontdesk sync` SIGKILLed while the SMTP server is accepting its reply (issue 14: "a kill
within 1 ms of acceptance gives a second copy"): the server keeps the message and files it in
Sent, as Gmail does; the next run probes Sent and never sends it again.

Real components: Dovecot, aiosmtpd (tests/servers/smtp.py, its DATA held until the process is
dead), `frontdesk sync --once` subprocesses killed with SIGKILL (no `finally` runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from storage.message_ids import queued_key
from storage.store import Store
from tests.imap_helpers import (
    imap_password_fixture,  # noqa: F401
    mail_server_fixture,  # noqa: F401
    message_row,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.test_delivery import (
    RUN_TIMEOUT,
    _config,
    _message_ids,
    _questions,
    _sent_as,
    _status,
)
from tests.waits import until

pytestmark = pytest.mark.usefixtures("imap_password")


def _spawn(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # the kill reaches every process it started
    )


def test_a_sync_killed_while_the_server_accepts_never_sends_the_reply_twice(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    db = tmp_path / "store.db"
    config = _config(tmp_path, dovecot, mail_server, db)
    _questions(dovecot, 1)
    first = _spawn(config)
    assert first.wait(RUN_TIMEOUT) == 0
    store = Store(db)
    conversation = message_row(store, "<q0@customer.example>")["conversation_id"]
    reply = store.queue_reply(conversation, "Sam", "Refund issued.", remote_id=queued_key())
    mail_server.on_accept(lambda data: dovecot.append("Sent", data))
    holding, release = mail_server.hold_next_answer()

    doomed = _spawn(config)
    until(holding.is_set, "the reply accepted, its answer held", timeout=RUN_TIMEOUT)
    os.killpg(doomed.pid, signal.SIGKILL)  # accepted, filed in Sent, the "250" not yet read
    doomed.wait(RUN_TIMEOUT)
    release.set()
    assert len(mail_server.messages) == 1
    assert _status(store, reply) == ("sending", None)
    sent_as = _sent_as(store, reply)  # minted at the claim, before the server saw the mail
    # The dead holder's lease runs out (LEASE_TTL); written here instead of waiting 30 s.
    store.conn.execute("UPDATE delivery_leases SET expires_at = 0")
    store.conn.commit()

    after = _spawn(config)
    _, err = after.communicate(timeout=RUN_TIMEOUT)

    assert after.returncode == 0, err.decode()
    assert _message_ids(mail_server) == Counter([sent_as])  # once, with the id it first had
    assert _status(store, reply) == ("sent", None)
    assert len(dovecot.uids("Sent")) == 1
    store.close()
