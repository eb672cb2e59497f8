"""A note never reaches any server (issue 14, "Done when"): not on its own, and not quoted in
the reply that follows it.

Real components: Dovecot and aiosmtpd for email, the local Slack server for Slack; the
conversations come in through the connectors, the notes are written as the console writes them
(`Store.add_note`, what ctrl+s in note mode calls), and what the servers received is read back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.aio import AsyncStore
from storage.store import Store
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer
from tests.slack.server import LocalSlack
from tests.test_followup_delivery import (
    ask_on_both_channels,
    astore,  # noqa: F401
    connectors,
    smtp,  # noqa: F401
    sync_all,
)

SECRET = "INTERNAL: chargeback risk, do not refund"


async def test_notes_never_reach_smtp_or_slack_nor_the_reply_after_them(
    dovecot: DovecotServer,
    smtp: RecordingSMTPServer,  # noqa: F811
    local_slack: LocalSlack,
    astore: AsyncStore,  # noqa: F811
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await connectors(dovecot, smtp, local_slack, astore, monkeypatch)
    ask_on_both_channels(dovecot, local_slack)
    await sync_all(astore, running)
    store = Store(db_path)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM conversations ORDER BY id")]
    assert len(ids) == 4
    for cid in ids:
        store.add_note(cid, "Sam", f"{SECRET} (#{cid})")
    store.close()

    await sync_all(astore, running)
    await sync_all(astore, running)
    assert smtp.messages == [] and local_slack.posted == []

    store = Store(db_path)
    for cid in ids:  # the note is now the newest message of each thread
        store.queue_reply(cid, "Sam", "Refund issued.", remote_id=f"<r{cid}@frontdesk.test>")
    store.close()
    await sync_all(astore, running)

    assert len(smtp.messages) == 2 and len(local_slack.posted) == 2
    for received in smtp.messages:
        assert "Refund issued." in received.data.decode()
        assert b"chargeback" not in received.data
    for post in local_slack.posted:
        assert post["text"] == "Refund issued."
