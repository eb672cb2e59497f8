"""The IMAP connector against a real Dovecot: initial and incremental sync, IDLE, UIDVALIDITY
changes, dropped connections, malformed mail, TLS, and `frontdesk sync --once` end to end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import aioimaplib
import pytest

from connectors.email.connector import ImapConnector
from connectors.email.imap.session import ImapError
from connectors.email.imap.wire import encode_mutf7, parse_search, uid_set
from connectors.email.threads import parent_refs, reply_references, reply_subject
from storage.aio import AsyncStore
from storage.store import Store
from tests.imap_helpers import (
    PASSWORD_ENV,
    SUPPORT,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    message_count,
    message_row,
    sync,
)
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.usefixtures("imap_password")


def _html_only() -> bytes:
    part = MIMEText("<p>Bonjour, je n'arrive <b>pas</b> à me connecter.</p>", "html", "utf-8")
    part["From"] = "=?utf-8?q?Chlo=C3=A9_Dubois?= <chloe@client.example>"
    part["To"] = SUPPORT
    part["Subject"] = "=?utf-8?q?Connexion_impossible_=C3=A0_mon_compte?="
    part["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    part["Message-ID"] = "<html-1@client.example>"
    return part.as_bytes()


def _with_attachment() -> bytes:
    outer = MIMEMultipart("mixed")
    outer["From"] = "Ivan Petrov <ivan@shop.example>"
    outer["To"] = SUPPORT
    outer["Subject"] = "Счёт за март"
    outer["Date"] = "Tue, 03 Mar 2026 08:00:00 +0300"
    outer["Message-ID"] = "<att-1@shop.example>"
    outer.attach(MIMEText("Здравствуйте, счёт во вложении.", "plain", "koi8-r"))
    pdf = MIMEApplication(b"%PDF-1.4 " + bytes(range(256)) * 40, "pdf", Name="счёт-март.pdf")
    outer.attach(pdf)
    return outer.as_bytes()


def _latin1() -> bytes:
    message = mail(
        "<latin-1@kunde.example>",
        subject="Rechnung fehlt",
        sender="=?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@kunde.example>",
        body="Grüße aus München, die Rechnung fehlt noch.\n",
        charset="iso-8859-1",
    )
    return message.as_bytes()


INBOX = [
    mail("<a1@customer.example>").as_bytes(),
    mail(
        "<a2@customer.example>",
        subject="Re: Invoice missing",
        body="Any news?\n\nOn Mon, Alice wrote:\n> Hello\n",
        in_reply_to="<s1@frontdesk.test>",
        references="<a1@customer.example> <s1@frontdesk.test>",
    ).as_bytes(),
    _html_only(),
    _with_attachment(),
    _latin1(),
    mail(None, subject="No id here", sender="bot@alerts.example").as_bytes(),
    # Same contact, same subject, no references: joins by the subject fallback.
    mail("<a3@customer.example>", subject="RE: invoice missing", body="Third try.\n").as_bytes(),
]
SENT = [
    mail(
        "<s1@frontdesk.test>",
        subject="Re: Invoice missing",
        sender=f"Support Team <{SUPPORT}>",
        to="Alice Martin <alice@customer.example>",
        body="We are on it.\n",
        in_reply_to="<a1@customer.example>",
        references="<a1@customer.example>",
    ).as_bytes()
]


async def _flags(server: DovecotServer) -> list[bytes]:
    client = aioimaplib.IMAP4(server.host, server.port)
    await client.wait_hello_from_server()
    await client.login(server.user, server.password)
    await client.select("INBOX")
    response = await client.uid("fetch", "1:*", "(FLAGS)")
    await client.logout()
    return [bytes(line) for line in response.lines if b"FETCH" in bytes(line)]


async def test_initial_sync_of_a_mixed_mailbox(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    dovecot.append_many("INBOX", INBOX)
    dovecot.append_many("Sent", SENT)

    await sync(account_settings(dovecot), astore)

    assert message_count(store) == len(INBOX) + len(SENT)
    a1, a2, a3 = (message_row(store, f"<a{n}@customer.example>") for n in (1, 2, 3))
    s1 = message_row(store, "<s1@frontdesk.test>")
    assert a1["conversation_id"] == a2["conversation_id"] == a3["conversation_id"]
    assert s1["conversation_id"] == a1["conversation_id"]
    assert a2["thread_reason"] == "refers to <a1@customer.example>"  # s1 was not stored yet
    assert s1["thread_reason"] == "refers to <a1@customer.example>"
    assert a3["thread_reason"].startswith("same contact and 'invoice missing'")
    assert s1["direction"] == "out" and a1["direction"] == "in"

    html = message_row(store, "<html-1@client.example>")
    assert html["subject"] == "Connexion impossible à mon compte"
    assert "je n'arrive pas à me connecter" in html["text"] and html["html"]
    assert html["author_name"] == "Chloé Dubois"
    assert "Grüße aus München" in message_row(store, "<latin-1@kunde.example>")["text"]

    attached = message_row(store, "<att-1@shop.example>")
    assert attached["subject"] == "Счёт за март"
    assert "счёт во вложении" in attached["text"]
    [(name, kind, size, ref)] = store.conn.execute(
        "SELECT filename, content_type, size, remote_ref FROM attachments WHERE message_id = ?",
        (attached["id"],),
    ).fetchall()
    assert (name, kind, size) == ("счёт-март.pdf", "application/pdf", 9 + 256 * 40)
    assert ref.startswith("imap:INBOX:") and ref.endswith(":4:0")

    synthetic = store.conn.execute(
        "SELECT remote_id, problems FROM messages WHERE subject = 'No id here'"
    ).fetchone()
    assert synthetic[0].startswith("<nomsgid.") and synthetic[0].endswith("@frontdesk.invalid>")
    assert "no Message-ID" in synthetic[1]
    # BODY.PEEK: syncing leaves the mail unread for the user's other clients.
    assert all(b"\\Seen" not in line for line in await _flags(dovecot))


async def test_incremental_sync_fetches_only_new_mail(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    settings = account_settings(dovecot)
    dovecot.append_many("INBOX", INBOX[:3])
    await sync(settings, astore)
    dovecot.append_many("INBOX", INBOX[3:])
    batches: list[tuple[str, int]] = []

    async def on_batch(folder: str, last_uid: int) -> None:
        batches.append((folder, last_uid))

    await sync(settings, astore, on_batch=on_batch)
    await sync(settings, astore, on_batch=on_batch)  # nothing new: no batch at all

    assert batches == [("INBOX", len(INBOX))]
    assert message_count(store) == len(INBOX)
    account = store.ensure_account(settings.name, "imap")
    checkpoint = store.checkpoint(account, "folder:INBOX")
    assert checkpoint == {"uidvalidity": dovecot.uidvalidity("INBOX"), "last_uid": len(INBOX)}


async def test_idle_delivers_new_mail_within_two_seconds(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    settings = account_settings(dovecot)
    account = store.ensure_account(settings.name, "imap")
    connector = ImapConnector(settings, account)
    live = asyncio.create_task(connector.run_live(astore))
    try:
        await asyncio.wait_for(connector.idling.wait(), 5)
        await asyncio.to_thread(dovecot.append, "INBOX", INBOX[0])
        started = time.monotonic()
        while not store.known_remote_ids(account, ["<a1@customer.example>"]):
            assert time.monotonic() - started < 2.5, "IDLE did not deliver the new message"
            await asyncio.sleep(0.05)
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)


async def test_live_mode_reconnects_after_a_drop(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    settings = account_settings(dovecot)
    account = store.ensure_account(settings.name, "imap")
    connector = ImapConnector(settings, account)
    live = asyncio.create_task(connector.run_live(astore))
    try:
        await asyncio.wait_for(connector.idling.wait(), 5)
        await asyncio.to_thread(dovecot.kill_connections)
        await asyncio.to_thread(dovecot.append, "INBOX", INBOX[0])
        started = time.monotonic()
        while not store.known_remote_ids(account, ["<a1@customer.example>"]):
            assert time.monotonic() - started < 5, "no reconnect after the drop"
            await asyncio.sleep(0.05)
        assert not live.done()
    finally:
        live.cancel()
        await asyncio.gather(live, return_exceptions=True)


async def test_uidvalidity_change_resyncs_without_duplicates(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    settings = account_settings(dovecot)
    dovecot.append_many("INBOX", INBOX)
    await sync(settings, astore)
    before = dovecot.uidvalidity("INBOX")

    dovecot.recreate_folder("INBOX")  # the server rebuilt the mailbox: every UID is new
    newcomer = mail("<new@customer.example>", subject="Another question").as_bytes()
    dovecot.append_many("INBOX", [*INBOX, newcomer])
    await sync(settings, astore)

    assert message_count(store) == len(INBOX) + 1
    account = store.ensure_account(settings.name, "imap")
    checkpoint = store.checkpoint(account, "folder:INBOX")
    assert checkpoint is not None and checkpoint["uidvalidity"] != before
    assert checkpoint["last_uid"] == len(INBOX) + 1


def _numbered(n: int) -> bytes:
    return mail(f"<bulk-{n}@customer.example>", subject=f"Order {n}").as_bytes()


async def test_connection_killed_mid_sync_resumes_from_the_checkpoint(
    dovecot: DovecotServer, astore: AsyncStore, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    total = 1500  # more batches than are downloaded ahead of the store, so the drop hits
    dovecot.append_many("INBOX", [_numbered(n) for n in range(total)])
    stored_up_to: list[int] = []

    async def on_batch(folder: str, last_uid: int) -> None:
        stored_up_to.append(last_uid)
        if len(stored_up_to) == 1:
            await asyncio.to_thread(dovecot.kill_connections)

    await sync(account_settings(dovecot), astore, on_batch=on_batch)

    assert "resuming from the checkpoint" in caplog.text  # the drop did happen mid-sync
    assert message_count(store) == total
    ids = {r[0] for r in store.conn.execute("SELECT remote_id FROM messages")}
    assert ids == {f"<bulk-{n}@customer.example>" for n in range(total)}
    # Every batch after the drop started above the checkpoint: nothing was fetched twice.
    assert stored_up_to == sorted(set(stored_up_to)) and stored_up_to[-1] == total


MALFORMED = [
    b"",  # nothing at all
    b"\x00\x01\x02 not a message \xff\xfe",
    b"Subject: only headers, no blank line, no body",
    b"From: =?utf-8?q?broken=ZZ?= <x@y.example>\r\nSubject: =?bogus-charset?b?!!!?=\r\n"
    b"Date: yesterday-ish\r\nMessage-ID: <mal-1@y.example>\r\n\r\nbody\r\n",
    b"From: a@b.example\r\nMessage-ID: <mal-2@b.example>\r\nContent-Type: multipart/mixed; "
    b'boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding:'
    b" base64\r\n\r\n!!!not base64!!!\r\n--XX\r\nContent-Type: text/plain; charset=nope\r\n\r\n"
    b"\xe9t\xe9 truncated",
    b"From: a@b.example\r\nMessage-ID: <mal-3@b.example>\r\nThis line has no colon\r\n"
    b"Subject: \xff\xfe raw 8-bit\r\n\r\n" + b"x" * 5000,
]


async def test_malformed_messages_are_stored_with_their_problems(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    dovecot.append_many("INBOX", [raw or b"\r\n" for raw in MALFORMED])

    await sync(account_settings(dovecot), astore)

    rows = store.conn.execute("SELECT remote_id, problems FROM messages ORDER BY id").fetchall()
    assert len(rows) == len(MALFORMED)
    assert all(json.loads(problems) for _, problems in rows), rows
    assert {"<mal-1@y.example>", "<mal-2@b.example>", "<mal-3@b.example>"} <= {r[0] for r in rows}


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_sync_over_tls_and_starttls(
    dovecot: DovecotServer, astore: AsyncStore, store: Store, security: str
) -> None:
    port = dovecot.tls_port if security == "tls" else dovecot.port
    settings = account_settings(dovecot, imap_security=security, imap_port=port)
    dovecot.append("INBOX", INBOX[0])

    await sync(settings, astore)

    assert message_count(store) == 1


async def test_tls_refuses_an_unknown_certificate(
    dovecot: DovecotServer, astore: AsyncStore
) -> None:
    settings = account_settings(
        dovecot, imap_security="tls", imap_port=dovecot.tls_port, imap_cafile=None
    )
    with pytest.raises(ImapError, match="CERTIFICATE_VERIFY_FAILED"):
        await sync(settings, astore)


async def test_wrong_password_is_reported(
    dovecot: DovecotServer, astore: AsyncStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(ImapError, match=r"login as agent@example\.test refused"):
        await sync(account_settings(dovecot), astore)


def test_frontdesk_sync_once_end_to_end(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.append_many("INBOX", INBOX)
    dovecot.append_many("Sent", SENT)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nusername = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = 9\nfrom_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    expected = {"conversations": 5, "messages": len(INBOX) + len(SENT)}

    for _ in range(2):  # the second pass finds nothing new and stores nothing twice
        done = _frontdesk("sync", "--once", "--config", str(config))
        assert done.returncode == 0, done.stderr
        stats = json.loads(_frontdesk("stats", "--json", "--config", str(config)).stdout)
        assert {k: stats[k] for k in expected} == expected


def _frontdesk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


# ------------------------------------------------------------------ pure helpers


def test_parent_refs_are_in_reply_to_then_references_newest_first() -> None:
    refs = parent_refs("<me@x>", "<p@x>", ["<root@x>", "<mid@x>", "<p@x>", "<me@x>"])
    assert refs == ("<p@x>", "<mid@x>", "<root@x>")


def test_reply_subject_adds_re_once() -> None:
    assert reply_subject("Invoice missing") == "Re: Invoice missing"
    assert reply_subject("RE: Invoice missing") == "RE: Invoice missing"
    assert reply_subject("") == "Re:"


def test_reply_references_keep_the_root_and_the_newest() -> None:
    refs = reply_references([f"<{n}@x>" for n in range(30)], "<parent@x>")
    assert len(refs) == 20 and refs[0] == "<0@x>" and refs[-2:] == ["<29@x>", "<parent@x>"]


def test_wire_helpers() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert encode_mutf7("Entwürfe & Co") == "Entw&APw-rfe &- Co"
    assert parse_search([b"4 9 12", b"Search completed."]) == [4, 9, 12]
    assert parse_search([b"", b"Search completed."]) == []
