"""Shared by the IMAP and SMTP tests: account settings for the Dovecot fixture, mail builders,
an AsyncStore on the test's database file, and row lookups by Message-ID."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.email.connector import ImapConnector
from connectors.email.settings import ImapAccountSettings
from storage.aio import AsyncStore
from storage.store import Store
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer

PASSWORD_ENV = "FRONTDESK_TEST_IMAP_PASSWORD"
SUPPORT = "help@frontdesk.test"
ACCOUNT = "support-mail"


def account_settings(server: DovecotServer, **overrides: Any) -> ImapAccountSettings:
    """Plain IMAP to the fixture, SMTP nowhere (port 9) unless a test says otherwise."""
    values: dict[str, Any] = {
        "name": ACCOUNT,
        "kind": "imap",
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_security": "none",
        "imap_cafile": server.cafile,
        "username": server.user,
        "password_env": PASSWORD_ENV,
        "smtp_host": "127.0.0.1",
        "smtp_port": 9,
        "smtp_security": "none",
        "from_address": f"Support Team <{SUPPORT}>",
    }
    return ImapAccountSettings(**{**values, **overrides})


def mail(
    msgid: str | None,
    *,
    subject: str = "Invoice missing",
    sender: str = "Alice Martin <alice@customer.example>",
    to: str = f"Support Team <{SUPPORT}>",
    cc: str | None = None,
    body: str = "Hello, the invoice for order 1234 is missing.\n",
    date: datetime | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    charset: str = "utf-8",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    if msgid:
        message["Message-ID"] = msgid
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body, charset=charset)
    return message


# Registered under their names; the functions are named apart so that test modules can import
# them without the parameters of their tests shadowing the import.
@pytest.fixture(name="imap_password")
def imap_password_fixture(monkeypatch: pytest.MonkeyPatch, dovecot: DovecotServer) -> str:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    return dovecot.password


@pytest.fixture(name="astore")
async def astore_fixture(
    db_path: Path, clock: Callable[[], float], store: Store
) -> AsyncIterator[AsyncStore]:
    """The connector's view of the same database file the `store` fixture reads."""
    async_store = AsyncStore(lambda: Store(db_path, clock=clock))
    yield async_store
    await async_store.aclose()


@pytest.fixture(name="mail_server")
def mail_server_fixture(dovecot: DovecotServer) -> Iterator[RecordingSMTPServer]:
    """SMTP accepting the account's login: the connector uses one password for both."""
    with RecordingSMTPServer(user=dovecot.user, password=dovecot.password) as server:
        yield server


async def sync(settings: ImapAccountSettings, astore: AsyncStore, **kwargs: Any) -> ImapConnector:
    account_id = await astore.call(Store.ensure_account, settings.name, settings.kind)
    connector = ImapConnector(settings, account_id, **kwargs)
    await connector.sync_once(astore)
    return connector


def message_row(store: Store, remote_id: str) -> sqlite3.Row:
    row = store.conn.execute("SELECT * FROM messages WHERE remote_id = ?", (remote_id,)).fetchone()
    assert row is not None, f"{remote_id} is not stored"
    return row


def message_count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM messages").fetchone()[0])
