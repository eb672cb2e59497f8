"""The real-server fixtures work: Dovecot speaks IMAP/TLS/IDLE to aioimaplib, SMTP records.

The IMAP side is read back with aioimaplib, the library production code uses, so these tests
also pin down the parts of its API the connector relies on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest

from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot
from tests.servers.smtp import RecordingSMTPServer

RAW = (
    b"From: Customer <customer@example.com>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Printer on fire\r\n"
    b"Message-ID: <fire-1@example.com>\r\n"
    b"\r\n"
    b"It is still burning.\r\n"
)


def _raw(n: int) -> bytes:
    return RAW.replace(b"fire-1", b"fire-%d" % n).replace(b"still", b"still (%d)" % n)


async def _login(server: DovecotServer, **kwargs: object) -> aioimaplib.IMAP4:
    client = aioimaplib.IMAP4(server.host, server.port, **kwargs)
    await client.wait_hello_from_server()
    response = await client.login(server.user, server.password)
    assert response.result == "OK", response
    return client


@pytest.fixture
async def imap(dovecot: DovecotServer) -> AsyncIterator[aioimaplib.IMAP4]:
    client = await _login(dovecot)
    yield client
    if client.get_state() != "LOGOUT":
        # a test may have dropped the connection on purpose
        with contextlib.suppress(TimeoutError, aioimaplib.Abort, OSError):
            await client.logout()


def _uidvalidity(select_lines: list[bytes]) -> int:
    for line in select_lines:
        match = re.search(rb"UIDVALIDITY (\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no UIDVALIDITY in {select_lines!r}")


def _fetched_body(lines: list[object]) -> bytes:
    """In an aioimaplib FETCH response the literal is the one bytearray element."""
    bodies = [bytes(line) for line in lines if isinstance(line, bytearray)]
    assert len(bodies) == 1, lines
    return bodies[0]


# ------------------------------------------------------------------ Dovecot


async def test_append_reads_back_over_imap(dovecot: DovecotServer, imap: aioimaplib.IMAP4) -> None:
    received = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    uid = dovecot.append("INBOX", RAW, flags=["\\Seen", "\\Flagged"], date=received)

    assert (await imap.select("INBOX")).result == "OK"
    response = await imap.uid("fetch", str(uid), "(FLAGS INTERNALDATE BODY.PEEK[])")

    assert response.result == "OK"
    assert _fetched_body(response.lines) == RAW
    meta = b" ".join(bytes(line) for line in response.lines if not isinstance(line, bytearray))
    assert b"\\Seen" in meta and b"\\Flagged" in meta
    assert b'INTERNALDATE "02-Jan-2026 03:04:05 +0000"' in meta


async def test_append_many_returns_uids_in_order(
    dovecot: DovecotServer, imap: aioimaplib.IMAP4
) -> None:
    messages = [_raw(n) for n in range(1, 1201)]  # more than one MULTIAPPEND batch

    uids = dovecot.append_many("INBOX", messages)

    assert uids == list(range(1, 1201))
    assert dovecot.uids("INBOX") == uids
    assert dovecot.fetch_raw("INBOX", 700) == _raw(700)
    await imap.select("INBOX")
    response = await imap.uid("fetch", "1200", "BODY.PEEK[]")
    assert _fetched_body(response.lines) == _raw(1200)


async def test_inbox_and_sent_exist_and_sent_is_special_use(imap: aioimaplib.IMAP4) -> None:
    response = await imap.list('""', "*")

    lines = [bytes(line) for line in response.lines]
    assert any(line.endswith(b" INBOX") for line in lines), lines
    assert any(b"\\Sent" in line and line.endswith(b' "/" Sent') for line in lines), lines


async def test_plain_port_offers_starttls(dovecot: DovecotServer) -> None:
    client = aioimaplib.IMAP4(dovecot.host, dovecot.port)
    await client.wait_hello_from_server()

    assert client.has_capability("STARTTLS")
    await client.logout()


async def test_tls_port_verifies_with_cafile(dovecot: DovecotServer) -> None:
    context = ssl.create_default_context(cafile=dovecot.cafile)
    client = aioimaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port, ssl_context=context)
    await client.wait_hello_from_server()

    assert (await client.login(dovecot.user, dovecot.password)).result == "OK"
    await client.logout()


async def test_tls_port_rejected_without_cafile(dovecot: DovecotServer) -> None:
    client = aioimaplib.IMAP4_SSL(dovecot.host, dovecot.tls_port)  # system CAs only

    with pytest.raises(ssl.SSLCertVerificationError):
        await client.wait_hello_from_server()


async def test_idle_pushes_exists_after_append(
    dovecot: DovecotServer, imap: aioimaplib.IMAP4
) -> None:
    await imap.select("INBOX")
    idle = await imap.idle_start(timeout=30)

    await asyncio.to_thread(dovecot.append, "INBOX", RAW)
    pushed = await _wait_for_push(imap, lambda line: line.endswith(b"EXISTS"), within=2.0)

    imap.idle_done()
    await asyncio.wait_for(idle, 5)  # IDLE must finish before the next command
    assert pushed == b"1 EXISTS"


async def _wait_for_push(
    client: aioimaplib.IMAP4, wanted: Callable[[bytes], bool], within: float
) -> bytes:
    """The first pushed line matching `wanted`; Dovecot may push others ("OK Still here")."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        for line in await client.wait_server_push(timeout=left):
            if wanted(bytes(line)):
                return bytes(line)
    raise AssertionError(f"no matching push within {within}s")


async def test_idle_sends_keepalives_at_the_configured_interval() -> None:
    require_dovecot()
    with DovecotServer(idle_notify_interval=1) as server:
        client = await _login(server)
        await client.select("INBOX")
        idle = await client.idle_start(timeout=30)

        keepalive = await _wait_for_push(client, lambda line: b"Still here" in line, within=2.5)

        client.idle_done()
        await asyncio.wait_for(idle, 5)
        await client.logout()
    assert keepalive == b"OK Still here"


@pytest.mark.parametrize("folder", ["Archive", "INBOX"])
async def test_recreate_folder_changes_uidvalidity_and_restarts_uids(
    dovecot: DovecotServer, folder: str
) -> None:
    if folder != "INBOX":
        dovecot.create_folder(folder)
    dovecot.append_many(folder, [_raw(1), _raw(2)])
    client = await _login(dovecot)
    before = _uidvalidity((await client.select(folder)).lines)
    await client.logout()

    dovecot.recreate_folder(folder)
    uid = dovecot.append(folder, _raw(3))

    client = await _login(dovecot)
    after = _uidvalidity((await client.select(folder)).lines)
    await client.logout()
    assert after != before
    assert uid == 1
    assert dovecot.uids(folder) == [1]


async def test_kill_connections_drops_a_connected_client(dovecot: DovecotServer) -> None:
    lost = asyncio.Event()
    client = await _login(dovecot, conn_lost_cb=lambda _exc: lost.set())
    await client.select("INBOX")

    await asyncio.to_thread(dovecot.kill_connections)

    await asyncio.wait_for(lost.wait(), 2.0)
    again = await _login(dovecot)  # and the server takes the reconnect
    assert (await again.select("INBOX")).result == "OK"
    await again.logout()


async def test_wrong_password_fails_fast_and_does_not_slow_the_next_login(
    dovecot: DovecotServer,
) -> None:
    started = time.monotonic()
    for _ in range(3):  # anvil's penalty would grow with each failure if it were on
        client = aioimaplib.IMAP4(dovecot.host, dovecot.port)
        await client.wait_hello_from_server()
        assert (await client.login(dovecot.user, "wrong")).result == "NO"
        await client.logout()
    good = await _login(dovecot)

    assert time.monotonic() - started < 1.0
    await good.logout()


async def test_restart_keeps_mail_and_ports(dovecot: DovecotServer) -> None:
    uid = dovecot.append("INBOX", RAW)
    port, tls_port = dovecot.port, dovecot.tls_port

    await asyncio.to_thread(dovecot.restart)

    assert (dovecot.port, dovecot.tls_port) == (port, tls_port)
    assert dovecot.fetch_raw("INBOX", uid) == RAW


def _group_gone_within(process_group: int, seconds: float) -> bool:
    """Children may still be exiting under load: wait, boundedly, for the group to be gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(process_group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_stop_kills_every_dovecot_process_and_keeps_logs() -> None:
    require_dovecot()
    server = DovecotServer().start()
    process_group = server.pid  # the master leads its own process group
    assert process_group is not None
    base = server.base_dir

    server.stop()

    assert _group_gone_within(process_group, seconds=3.0)
    assert not Path(base).exists()
    assert "starting up" in server.logs()


def test_folder_names_with_dots_and_spaces(dovecot: DovecotServer) -> None:
    dovecot.create_folder("Clients/acme.com/Q1 2026")

    uid = dovecot.append("Clients/acme.com/Q1 2026", RAW)

    assert "Clients/acme.com/Q1 2026" in dovecot.folders()
    assert dovecot.fetch_raw("Clients/acme.com/Q1 2026", uid) == RAW


# --------------------------------------------------------------------- SMTP


def _email(subject: str = "Re: Printer on fire") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "support@example.test"
    message["To"] = "customer@example.com"
    message["Subject"] = subject
    message.set_content("Please step away from the printer.\n")
    return message


async def test_smtp_records_a_sent_message(smtp_server: RecordingSMTPServer) -> None:
    await aiosmtplib.send(_email(), hostname=smtp_server.host, port=smtp_server.port)

    [received] = await smtp_server.wait_for_async(1, timeout=2)
    assert received.mail_from == "support@example.test"
    assert received.rcpt_tos == ("customer@example.com",)
    assert received.message["Subject"] == "Re: Printer on fire"
    assert b"step away" in received.data
    assert received.auth_login is None


async def test_smtp_auth_accepts_the_fixture_credentials(
    smtp_server: RecordingSMTPServer,
) -> None:
    await aiosmtplib.send(
        _email(),
        hostname=smtp_server.host,
        port=smtp_server.port,
        username=smtp_server.user,
        password=smtp_server.password,
    )
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await aiosmtplib.send(
            _email(),
            hostname=smtp_server.host,
            port=smtp_server.port,
            username=smtp_server.user,
            password="wrong",
        )

    [received] = await smtp_server.wait_for_async(1, timeout=2)
    assert received.auth_login == smtp_server.user


async def test_smtp_refuse_next_fails_once_with_451(smtp_server: RecordingSMTPServer) -> None:
    smtp_server.refuse_next(1)

    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(_email("first"), hostname=smtp_server.host, port=smtp_server.port)
    await aiosmtplib.send(_email("retry"), hostname=smtp_server.host, port=smtp_server.port)

    assert refused.value.code == 451
    received = await smtp_server.wait_for_async(1, timeout=2)
    assert [r.message["Subject"] for r in received] == ["retry"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_require_auth_refuses_anonymous_senders() -> None:
    with RecordingSMTPServer(require_auth=True) as server:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(_email(), hostname=server.host, port=server.port)
        assert refused.value.code == 530
        assert server.messages == []


def test_smtp_wait_for_times_out(smtp_server: RecordingSMTPServer) -> None:
    with pytest.raises(TimeoutError):
        smtp_server.wait_for(1, timeout=0.05)
