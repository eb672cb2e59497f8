"""A server's error quoting the password back is stored and shown masked (issue 14, `sync
--once` naming why a reply did not go): the outbox runs every failure reason it records
through `connectors.redact.redact`, so neither the store (which the console shows) nor the
`frontdesk sync --once` output nor its log holds the secret.

Real components: `frontdesk sync --once` subprocesses, Dovecot, aiosmtpd refusing DATA with a
reply that quotes the account's password (any server may echo what it got).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.runner import run_once
from storage.aio import AsyncStore
from storage.store import Store
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
from tests.sync_helpers import run, write_config

pytestmark = pytest.mark.usefixtures("imap_password")


def _stored_reasons(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [str(r[0]) for r in conn.execute("SELECT last_error FROM outbox")]
    finally:
        conn.close()


def test_a_refusal_quoting_the_password_is_stored_and_printed_masked(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    db = tmp_path / "store.db"
    config = write_config(tmp_path, dovecot, mail_server, db)
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    assert run(config)[0] == 0
    store = Store(db)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    store.queue_reply(conversation, "Sam", "Here it is.", remote_id="k")
    store.close()
    password = dovecot.password
    mail_server.refuse_next(1, code=554, text=f"5.7.1 AUTH {password} is not allowed to send")

    status, err = run(config)

    assert status == 1
    assert (
        f"frontdesk sync: mail: reply in conversation #{conversation} (Invoice missing) failed:"
        " the mail server refused the reply: 554 5.7.1 AUTH *** is not allowed to send"
    ) in err.splitlines(), err
    assert _stored_reasons(db) == [
        "the mail server refused the reply: 554 5.7.1 AUTH *** is not allowed to send"
    ]
    log = (tmp_path / "state" / "frontdesk" / "frontdesk.log").read_text(encoding="utf-8")
    assert password not in err + log


async def test_a_sent_copy_error_quoting_the_password_is_stored_masked(
    dovecot: DovecotServer, mail_server: RecordingSMTPServer, astore: AsyncStore, store: Store
) -> None:
    # Dovecot's answer to APPEND names the folder it was given: here, one holding the secret.
    password = dovecot.password
    settings = account_settings(
        dovecot,
        smtp_host=mail_server.host,
        smtp_port=mail_server.port,
        sent_folder=f"Archive/{password}",
    )
    dovecot.append("INBOX", mail("<q@customer.example>").as_bytes())
    await sync(settings, astore)
    conversation = message_row(store, "<q@customer.example>")["conversation_id"]
    store.queue_reply(conversation, "Sam", "Here it is.", remote_id="k")

    assert await run_once(astore, [settings]) == []  # the reply went out

    [problem] = store.outbox_problems()
    assert problem.state == "copy failed"
    assert "Archive/***" in problem.reason and password not in problem.reason
    [status] = store.sync_statuses()
    assert "Archive/***" in status.detail and password not in status.detail
