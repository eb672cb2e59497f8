"""`frontdesk check-config --secrets` connects as the sync would and names the failing part.

Real servers: Dovecot (IMAP), aiosmtpd (SMTP, AUTH offered), the local Slack server. The CLI
runs as a real process; the expected lines are written out by hand.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.dovecot import DovecotServer, free_ports
from tests.servers.smtp import RecordingSMTPServer
from tests.slack.server import LocalSlack

FRONTDESK = [sys.executable, "-m", "console", "check-config", "--secrets", "--config"]
AGENT = '[agent]\nname = "Sam Rivera"\nemail = "sam@desk.test"\n\n'
PASSWORD = "fixture-password"  # Dovecot's; the SMTP server is given the same one
WRONG = "not-the-Password-42"


@pytest.fixture
def smtp() -> Iterator[RecordingSMTPServer]:
    """An SMTP server that takes the password the IMAP server takes (one per account)."""
    with RecordingSMTPServer(user="agent@example.test", password=PASSWORD) as server:
        yield server


class _StartTlsHandler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "554 5.7.1 not in a check"  # nothing is ever sent by check-config


@pytest.fixture
def starttls_smtp(dovecot: DovecotServer) -> Iterator[int]:
    """aiosmtpd offering STARTTLS (Dovecot's certificate) and AUTH only after it; its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(dovecot.cafile, str(Path(dovecot.cafile).with_name("key.pem")))

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    [port] = free_ports(1)
    controller = Controller(
        _StartTlsHandler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp.example.test",
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail_account(
    dovecot: DovecotServer,
    smtp: RecordingSMTPServer | int,
    *,
    imap_port: int | None = None,
    imap_security: str = "tls",
    cafile: bool = True,
    folders: str = '["INBOX"]',
    smtp_security: str = "none",
    name: str = "mail",
) -> str:
    ca = f'imap_cafile = "{dovecot.cafile}"\nsmtp_cafile = "{dovecot.cafile}"\n' if cafile else ""
    port = imap_port or (dovecot.tls_port if imap_security == "tls" else dovecot.port)
    smtp_port = smtp if isinstance(smtp, int) else smtp.port
    return (
        f'[[accounts]]\nname = "{name}"\nkind = "imap"\nimap_host = "127.0.0.1"\n'
        f'imap_port = {port}\nimap_security = "{imap_security}"\n{ca}'
        f'username = "{dovecot.user}"\npassword_env = "FD_PASSWORD"\nfolders = {folders}\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_security = "{smtp_security}"\n'
        'from_address = "Support <agent@example.test>"\n\n'
    )


def slack_account(slack: LocalSlack, *, app: bool = True, channels: str = "[]") -> str:
    app_token = 'app_token_env = "FD_APP"\n' if app else ""
    return (
        '[[accounts]]\nname = "chat"\nkind = "slack"\nbot_token_env = "FD_BOT"\n'
        f'{app_token}api_url = "{slack.api_url}"\nchannels = {channels}\n\n'
    )


def write(tmp_path: Path, accounts: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "store.db"}"\n\n{AGENT}{accounts}')
    path.chmod(0o600)
    return path


async def check(path: Path, **secrets: str) -> tuple[int, str, str]:
    """Run the CLI without blocking this loop (the local Slack server lives on it)."""
    env = {**os.environ, "XDG_STATE_HOME": str(path.parent / "state"), **secrets}
    process = await asyncio.create_subprocess_exec(
        *FRONTDESK,
        str(path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def lines_for(err: str, account: str) -> list[str]:
    return [line for line in err.splitlines() if f"{account}:" in line]


GOOD = {"FD_PASSWORD": PASSWORD, "FD_BOT": "xoxb-test", "FD_APP": "xapp-test"}


async def test_every_account_connects_and_it_says_ok(
    tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer, local_slack: LocalSlack
) -> None:
    support = local_slack.add_channel("support")
    channels = f'["#support", "{support}"]'
    path = write(
        tmp_path, mail_account(dovecot, smtp) + slack_account(local_slack, channels=channels)
    )

    code, out, err = await check(path, **GOOD)

    assert (code, err) == (0, ""), err
    assert out.strip() == f"{path}: OK (2 accounts; secrets read and every account connected)"
    methods = sorted(m for m, _ in local_slack.calls)
    assert methods == ["apps.connections.open", "auth.test", "users.conversations"]
    assert smtp.messages == []  # connected, never sent


async def test_starttls_on_both_imap_and_smtp_is_checked_with_the_accounts_ca(
    tmp_path: Path, dovecot: DovecotServer, starttls_smtp: int
) -> None:
    """The production default: STARTTLS, verified against the CA in the file, then AUTH."""
    account = mail_account(
        dovecot, starttls_smtp, imap_security="starttls", smtp_security="starttls"
    )
    path = write(tmp_path, account)

    code, out, err = await check(path, FD_PASSWORD=PASSWORD)
    assert (code, err) == (0, ""), err
    assert "OK (1 accounts; secrets read and every account connected)" in out

    untrusted = account.replace(f'smtp_cafile = "{dovecot.cafile}"\n', "")
    code, _out, err = await check(write(tmp_path, untrusted), FD_PASSWORD=PASSWORD)
    assert code == 2 and "Traceback" not in err
    [line] = lines_for(err, "accounts[0] (mail)")
    assert "accounts[0] (mail): SMTP: STARTTLS failed" in line
    assert "CERTIFICATE_VERIFY_FAILED" in line and "smtp_cafile" in line


async def test_a_wrong_password_names_imap_login_and_smtp_auth_and_never_prints_it(
    tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer
) -> None:
    path = write(tmp_path, mail_account(dovecot, smtp))

    code, out, err = await check(path, FD_PASSWORD=WRONG)

    assert code == 2 and out == "" and "Traceback" not in err
    imap_line, smtp_line = lines_for(err, "accounts[0] (mail)")
    assert f"{path}: accounts[0] (mail): IMAP: login as agent@example.test refused" in imap_line
    assert "environment variable FD_PASSWORD" in imap_line
    assert f"{path}: accounts[0] (mail): SMTP: AUTH as agent@example.test failed: 535" in smtp_line
    assert WRONG not in err


async def test_an_unknown_folder_and_a_server_without_starttls_are_named(
    tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer
) -> None:
    account = mail_account(
        dovecot, smtp, folders='["INBOX", "Support/Escalations"]', smtp_security="starttls"
    )
    path = write(tmp_path, account)

    code, _out, err = await check(path, FD_PASSWORD=PASSWORD)

    assert code == 2 and "Traceback" not in err
    imap_line, smtp_line = lines_for(err, "accounts[0] (mail)")
    assert "IMAP: folder 'Support/Escalations' cannot be opened" in imap_line
    assert "correct `folders`" in imap_line
    assert f"SMTP: 127.0.0.1:{smtp.port} does not offer STARTTLS" in smtp_line


async def test_a_certificate_from_an_unknown_ca_and_a_closed_port_are_named(
    tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer
) -> None:
    [closed] = free_ports(1)
    accounts = mail_account(dovecot, smtp, cafile=False) + mail_account(
        dovecot, smtp, imap_port=closed, name="other"
    )
    path = write(tmp_path, accounts)

    code, _out, err = await check(path, FD_PASSWORD=PASSWORD)

    assert code == 2 and "Traceback" not in err
    [untrusted] = lines_for(err, "accounts[0] (mail)")
    assert "accounts[0] (mail): IMAP:" in untrusted and "CERTIFICATE_VERIFY_FAILED" in untrusted
    assert "imap_cafile" in untrusted
    [closed_line] = lines_for(err, "accounts[1] (other)")
    assert f"accounts[1] (other): IMAP: cannot connect to 127.0.0.1:{closed}" in closed_line
    assert "check imap_host, imap_port and imap_security" in closed_line


async def test_slack_names_the_refused_token_and_the_missing_scopes(
    tmp_path: Path, local_slack: LocalSlack
) -> None:
    path = write(tmp_path, slack_account(local_slack))
    local_slack.scopes -= {"users:read.email", "mpim:read"}

    code, _out, err = await check(path, **{**GOOD, "FD_APP": "xapp-revoked"})

    assert code == 2 and "Traceback" not in err
    scopes, app = lines_for(err, "accounts[0] (chat)")
    assert (
        "accounts[0] (chat): Slack: the bot token lacks the scopes mpim:read, users:read.email"
        in scopes
    )
    assert "slack-app-manifest.yml" in scopes
    assert (
        "accounts[0] (chat): Slack: apps.connections.open refused the app token"
        " (app_token_env; Socket Mode): invalid_auth" in app
    )
    assert "xapp-revoked" not in err


async def test_a_refused_bot_token_stops_the_slack_check_there(
    tmp_path: Path, local_slack: LocalSlack
) -> None:
    path = write(tmp_path, slack_account(local_slack, app=False))

    code, _out, err = await check(path, FD_BOT="xoxb-wrong")

    assert code == 2 and "Traceback" not in err
    [line] = lines_for(err, "accounts[0] (chat)")
    assert "Slack: auth.test refused the bot token (bot_token_env): invalid_auth" in line
    assert "xoxb-wrong" not in err


async def test_channels_the_bot_is_not_in_are_named(
    tmp_path: Path, local_slack: LocalSlack
) -> None:
    local_slack.add_channel("support")
    local_slack.add_channel("sales", bot_member=False)
    channels = '["#support", "sales", "C0NOSUCH"]'
    path = write(tmp_path, slack_account(local_slack, app=False, channels=channels))

    code, _out, err = await check(path, FD_BOT="xoxb-test")

    assert code == 2 and "Traceback" not in err
    [line] = lines_for(err, "accounts[0] (chat)")
    assert "Slack: the bot is not a member of sales, C0NOSUCH (or no such channel)" in line
    assert "/invite" in line


@pytest.fixture
def echoing_smtp() -> Iterator[int]:
    """An SMTP server whose refusal quotes the credentials back, as text and as the AUTH
    PLAIN blob (some servers log-and-echo them): check-config must not print them."""

    def refuse(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        blob = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
        said = f"535 5.7.8 {data.password.decode()} is wrong ({blob})"
        return AuthResult(success=False, handled=False, message=said)

    [port] = free_ports(1)
    controller = Controller(
        _StartTlsHandler(),
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp.example.test",
        authenticator=refuse,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_a_server_that_echoes_the_password_does_not_make_us_print_it(
    tmp_path: Path, dovecot: DovecotServer, echoing_smtp: int
) -> None:
    path = write(tmp_path, mail_account(dovecot, echoing_smtp))

    code, _out, err = await check(path, FD_PASSWORD=WRONG)

    assert code == 2 and "Traceback" not in err
    [_imap, smtp_line] = lines_for(err, "accounts[0] (mail)")
    assert "SMTP: AUTH as agent@example.test failed: 535 5.7.8 *** is wrong (***)" in smtp_line
    assert WRONG not in err
    blob = base64.b64encode(f"\0{dovecot.user}\0{WRONG}".encode()).decode()
    assert blob not in err


async def test_a_slack_api_nobody_answers_is_named(tmp_path: Path) -> None:
    [closed] = free_ports(1)
    account = (
        '[[accounts]]\nname = "chat"\nkind = "slack"\nbot_token_env = "FD_BOT"\n'
        f'api_url = "http://127.0.0.1:{closed}/api/"\n\n'
    )
    path = write(tmp_path, account)

    code, _out, err = await check(path, FD_BOT="xoxb-test")

    assert code == 2 and "Traceback" not in err
    [line] = lines_for(err, "accounts[0] (chat)")
    assert f"Slack: cannot reach http://127.0.0.1:{closed}/api/" in line
    assert "check api_url and the network" in line
