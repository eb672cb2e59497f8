"""No secret reaches the log file, in any form, at debug level (issue 20, item 2).

`frontdesk --log-level debug sync --once` logs in to a real Dovecot and sends a reply through
a real aiosmtpd that requires AUTH, with a password holding `"`, `\\`, spaces and non-ASCII.
aioimaplib logs each command it sends as a repr of bytes, with the password IMAP-quoted
(`\\"`, `\\\\`) and non-ASCII as `\\xc3\\xb6`: the scrubber must know each of those forms.
The forms searched for are written out by hand below, not computed by the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.store import Store
from tests.imap_helpers import SUPPORT, mail
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot
from tests.servers.smtp import RecordingSMTPServer
from tests.slack.server import LocalSlack

SECRET = 'Pa"ss\\ wörd ñ-7'  # Pa"ss\ wörd ñ-7
USER = "agent@example.test"
# Each form the password can take in a log line, by hand:
FORMS = [
    'Pa"ss\\ wörd ñ-7',  # raw
    'Pa\\"ss\\\\ wörd ñ-7',  # IMAP quoted string body: Pa\"ss\\ wörd ñ-7
    'Pa\\\\"ss\\\\\\\\ w\\xc3\\xb6rd \\xc3\\xb1-7',  # that, in a repr of bytes
    'Pa"ss\\\\ w\\xc3\\xb6rd \\xc3\\xb1-7',  # raw, in a repr of bytes
    "wörd",
    "w\\xc3\\xb6rd",
    # base64: AUTH PLAIN "\0agent@example.test\0<secret>" and AUTH LOGIN "<secret>"
    "AGFnZW50QGV4YW1wbGUudGVzdABQYSJzc1wgd8O2cmQgw7EtNw==",
    "UGEic3NcIHfDtnJkIMOxLTc=",
]
ENV = "FD_HARDENING_SECRET"
DEBUG_SYNC = [sys.executable, "-m", "console", "--log-level", "debug", "sync", "--once"]


class _Utf8Dovecot(DovecotServer):
    """The fixture's stdlib client, sending its LOGIN in UTF-8 (imaplib says ASCII only until
    UTF8=ACCEPT; Dovecot takes UTF-8 in a quoted string either way)."""

    @contextlib.contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        imap._encoding = "utf-8"  # type: ignore[attr-defined]
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()


@pytest.fixture
def mailbox() -> Iterator[DovecotServer]:
    require_dovecot()
    with _Utf8Dovecot(user=USER, password=SECRET) as server:
        yield server


def _config(tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nusername = "{USER}"\npassword_env = "{ENV}"\n'
        f'smtp_host = "{smtp.host}"\nsmtp_port = {smtp.port}\nsmtp_security = "none"\n'
        f'from_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    return config


def _sync(config: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEBUG_SYNC, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, ENV: SECRET, "XDG_STATE_HOME": str(state)},
        check=False,
    )


def test_imap_and_smtp_secrets_never_reach_the_debug_log(
    tmp_path: Path, mailbox: DovecotServer
) -> None:
    smtp = RecordingSMTPServer(user=USER, password=SECRET, require_auth=True).start()
    try:
        mailbox.append("INBOX", mail("<q1@customer.example>").as_bytes())
        config, state = _config(tmp_path, mailbox, smtp), tmp_path / "state"
        first = _sync(config, state)
        assert first.returncode == 0, first.stderr
        store = Store(tmp_path / "store.db")
        conversation = store.conn.execute("SELECT id FROM conversations").fetchone()[0]
        store.queue_reply(conversation, "Sam", "Resent.", remote_id="<r1@frontdesk.test>")
        store.close()
        second = _sync(config, state)
        assert second.returncode == 0, second.stderr
        sent = smtp.wait_for(1)
        assert sent[0].auth_login == USER  # the password really went over SMTP AUTH
    finally:
        smtp.stop()
    log = (state / "frontdesk" / "frontdesk.log").read_text(encoding="utf-8")
    assert "LOGIN" in log  # debug level really logged the IMAP commands
    leaked = [form for form in FORMS if form in log]
    assert leaked == [], f"secret forms in the log: {leaked}"


def test_every_form_of_a_secret_is_masked_in_the_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a library might log besides the wire: AUTH PLAIN / AUTH LOGIN base64 (alone or
    in a longer line), a JSON body, a URL-encoded form, a %r, and a traceback."""
    import logging

    from connectors.secrets import KNOWN_SECRETS
    from console import logs

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    KNOWN_SECRETS.add(SECRET)
    try:
        path = logs.setup("debug")
        assert path is not None
        log = logging.getLogger("hardening")
        log.debug("AUTH PLAIN %s", FORMS[-2])
        log.debug("334 VXNlcm5hbWU6 / %s / 235 ok", FORMS[-1])
        log.debug('json {"password": "Pa\\"ss\\\\ w\\u00f6rd \\u00f1-7"}')
        log.debug("form password=Pa%22ss%5C+w%C3%B6rd+%C3%B1-7&user=x")
        log.debug("repr %r", SECRET)
        try:
            raise ValueError(f"server said {SECRET}")
        except ValueError:
            log.exception("failed")
        for handler in logging.getLogger().handlers:
            handler.flush()
    finally:
        KNOWN_SECRETS.discard(SECRET)
        logging.getLogger().handlers.clear()
    text = path.read_text(encoding="utf-8")
    assert text.count("***") == 6 and "VXNlcm5hbWU6" in text, text
    for needle in [*FORMS, "w\\u00f6rd", "w%C3%B6rd", "wörd"]:
        assert needle not in text, (needle, text)


# A bot token as Slack would never issue, to see every escaping: HTTP headers carry Latin-1
# at most, so no non-ASCII here; `"`, `\` and a space are what JSON and a repr escape.
SLACK_TOKEN = 'xoxb-Le"ak\\ y-9'
SLACK_FORMS = [
    'xoxb-Le"ak\\ y-9',  # raw
    'xoxb-Le\\"ak\\\\ y-9',  # in JSON or an IMAP-quoted string
    'xoxb-Le\\"ak\\\\\\\\ y-9',  # that, in a repr
    "xoxb-Le%22ak%5C%20y-9",  # URL-encoded (a form body)
    "xoxb-Le%22ak%5C+y-9",
    "eG94Yi1MZSJha1wgeS05",  # base64
    'Le"ak',
    'Le\\"ak',
]


async def test_a_slack_token_never_reaches_the_debug_log(
    tmp_path: Path, local_slack: LocalSlack
) -> None:
    """The whole Slack path at debug level. slack-sdk redacts its Authorization header
    itself, so this holds with the scrubber off too: it guards the path (an SDK upgrade, a
    log line of ours quoting request arguments), the scrubber is proven by the tests above."""
    local_slack.bot_token = SLACK_TOKEN
    channel = local_slack.add_channel("support")
    alice = local_slack.add_user("alice")
    local_slack.post(channel, alice, "Hello, my order is late")
    config, state = tmp_path / "config.toml", tmp_path / "state"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "team"\n'
        f'kind = "slack"\nbot_token_env = "{ENV}"\napi_url = "{local_slack.api_url}"\n',
        encoding="utf-8",
    )
    # Not subprocess.run: the local Slack lives on this event loop and must keep answering.
    process = await asyncio.create_subprocess_exec(
        *DEBUG_SYNC,
        "--config",
        str(config),
        env={**os.environ, ENV: SLACK_TOKEN, "XDG_STATE_HOME": str(state)},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    store = Store(tmp_path / "store.db")
    assert store.stats()["messages"] == 1  # the token was accepted: the history came in
    store.close()
    log = (state / "frontdesk" / "frontdesk.log").read_text(encoding="utf-8")
    assert "conversations.history" in log  # debug level really logged the API calls
    leaked = [form for form in SLACK_FORMS if form in log]
    assert leaked == [], f"token forms in the log: {leaked}"
