"""Connector and process promises no other test pinned down (issue 22's table), each shown to
fail on the small plausible bug named in its docstring:

- a UIDVALIDITY change resyncs the folder (real Dovecot);
- Slack events are handed over once per `event_id`, however often Slack redelivers them
  (real Socket Mode client against the local Slack);
- an older edit delivered late never overwrites a newer one;
- a secret read by the process never reaches the log file;
- a config file that is not UTF-8 exits 2 with one line and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from connectors.slack.live import EventInbox
from storage.aio import AsyncStore
from storage.store import Store
from tests.factories import email
from tests.imap_helpers import (
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    message_count,
    sync,
)
from tests.servers.dovecot import DovecotServer
from tests.slack.fixtures import APP_TOKEN, BOT_TOKEN
from tests.slack.server import LocalSlack
from tests.test_metrics import T0

# ---- IMAP: UIDVALIDITY --------------------------------------------------------------------


@pytest.mark.usefixtures("imap_password")
async def test_a_new_uidvalidity_reads_the_folder_again_from_uid_1(
    dovecot: DovecotServer, astore: AsyncStore, store: Store
) -> None:
    """Three messages stored (checkpoint: last UID 3). The server rebuilds INBOX with two new
    messages, UIDs 1 and 2: both are below the old checkpoint, so only a resync finds them.

    Mutant killed: the UIDVALIDITY comparison removed (the old last UID kept): the run sees
    UIDNEXT 3 <= 3 + 1, fetches nothing, and the two newcomers never arrive."""
    settings = account_settings(dovecot)
    olds = [mail(f"<old-{n}@customer.example>", subject=f"Old {n}").as_bytes() for n in range(3)]
    dovecot.append_many("INBOX", olds)
    await sync(settings, astore)
    assert message_count(store) == 3

    dovecot.recreate_folder("INBOX")
    news = [mail(f"<new-{n}@customer.example>", subject=f"New {n}").as_bytes() for n in range(2)]
    dovecot.append_many("INBOX", news)
    await sync(settings, astore)

    account = store.ensure_account(settings.name, "imap")
    wanted = ["<new-0@customer.example>", "<new-1@customer.example>"]
    assert store.known_remote_ids(account, wanted) == set(wanted)
    assert message_count(store) == 5
    assert store.checkpoint(account, "folder:INBOX") == {
        "uidvalidity": dovecot.uidvalidity("INBOX"),
        "last_uid": 2,
    }


# ---- Slack: one hand-over per event_id ----------------------------------------------------


async def test_each_slack_event_is_handed_over_once_whatever_slack_redelivers(
    local_slack: LocalSlack,
) -> None:
    """Three events, then every envelope sent again as is and again as Slack's retries (new
    envelope ids, same event ids): nine envelopes, all acked, three events handed over.

    Mutant killed: the `_seen` check removed from `EventInbox._accept` (ingest's own
    idempotency hides it downstream; here the batch would hold each event three times)."""
    channel = local_slack.add_channel("support")
    alice = local_slack.add_user("alice")
    inbox = EventInbox(settle=0.01)
    web = AsyncWebClient(token=BOT_TOKEN, base_url=local_slack.api_url)
    socket = SocketModeClient(app_token=APP_TOKEN, web_client=web)
    inbox.attach(socket)
    await socket.connect()  # type: ignore[no-untyped-call]
    try:
        await local_slack.wait_connected()
        sent = [local_slack.post(channel, alice, f"message {n}") for n in range(3)]
        await local_slack.wait_until(lambda: len(local_slack.acked) >= 3)
        await local_slack.redeliver_all()
        for envelope in list(local_slack.envelopes)[:3]:
            again = {**envelope, "envelope_id": f"{envelope['envelope_id']}-retry"}
            await local_slack.hub._send_frame(again)
        # An envelope is acked only after `_accept` ran for it: once the nine are acked,
        # everything the inbox will ever queue is queued.
        await local_slack.wait_until(lambda: _acks(local_slack) == 9)
        batch = await asyncio.wait_for(inbox.next_batch(), 5)
    finally:
        await socket.close()  # type: ignore[no-untyped-call]
    assert sorted(event["ts"] for event in batch) == sorted(sent)


def _acks(slack: LocalSlack) -> int:
    """Acks the server received, a byte-for-byte redelivery's second ack included."""
    return sum("envelope_id" in frame for frame in slack.hub.received)


# ---- edits ----------------------------------------------------------------------------------


def test_an_older_edit_delivered_late_keeps_the_newer_text(store: Store) -> None:
    """Edits at T0+10 ("the printer") then, late, at T0+5 ("teh printr"): the newer text stays.

    Mutant killed: no edited-at guard in `Store.update_message_text` (a redelivered old
    `message_changed` overwrote the newer edit)."""
    account = store.ensure_account("team", "slack")
    store.ingest([email(account, "C1:100.000001", T0, text="teh printer", channel="slack")])
    assert store.update_message_text(account, "C1:100.000001", "the printer", T0 + 10)
    assert not store.update_message_text(account, "C1:100.000001", "teh printr", T0 + 5)
    text = store.conn.execute(
        "SELECT text, edited_at FROM messages WHERE remote_id = 'C1:100.000001'"
    ).fetchone()
    assert tuple(text) == ("the printer", T0 + 10)


# ---- logs -----------------------------------------------------------------------------------

_LOGGING_CHILD = textwrap.dedent(
    """
    import logging, sys
    from connectors.secrets import SecretSource
    from console import logs

    secret = SecretSource(env="FD_TEST_LOG_SECRET").read()
    path = logs.setup("debug")
    log = logging.getLogger("connectors.test")
    log.info("login with %s", secret)
    log.warning("token=" + secret + " refused")
    log.error("as a dict arg: %(token)s", {"token": secret})
    logging.getLogger("aiohttp.client").debug("header Authorization: Bearer %s", secret)
    print(path)
    """
)


def test_a_secret_read_by_the_process_never_reaches_the_log_file(tmp_path: Path) -> None:
    """Through the public path only: a secret read from its source, the logging set up, the
    secret logged four ways by four loggers; the file has the lines, never the secret.

    Mutant killed: the scrubber made a no-op."""
    secret = "xoxb-9f3kQz-very-secret"
    env = {
        **os.environ,
        "FD_TEST_LOG_SECRET": secret,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LOGGING_CHILD],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    log_file = Path(done.stdout.strip())
    assert log_file.is_relative_to(tmp_path)
    written = log_file.read_text(encoding="utf-8")
    assert len(written.splitlines()) == 4  # every record was written
    assert "login with" in written and "refused" in written and "Bearer" in written
    assert secret not in written
    assert "9f3kQz" not in written


# ---- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check-config", "sync"])
def test_a_config_that_is_not_utf8_exits_2_with_one_line(tmp_path: Path, command: str) -> None:
    """Mutant killed: `UnicodeDecodeError` no longer turned into a ConfigError (a traceback,
    exit 1)."""
    path = tmp_path / "latin1.toml"
    path.write_bytes('[storage]\npath = "/tmp/caf\xe9.db"\n'.encode("latin-1"))
    extra: list[str] = ["--once"] if command == "sync" else []
    done = subprocess.run(
        [sys.executable, "-m", "console", command, *extra, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "latin1.toml" in lines[0] and "utf-8" in lines[0].lower()
    assert not (tmp_path / "café.db").exists()
