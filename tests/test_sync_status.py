"""Per-account sync status: the runner writes it around each pass, the console shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from textual.widgets import Static

from connectors.email.settings import ImapAccountSettings
from connectors.runner import run_once
from connectors.slack.settings import SlackAccountSettings
from console.app import FrontdeskApp
from storage.aio import AsyncStore
from storage.store import Store
from storage.sync_status import SyncStatus, describe, scrub
from tests.imap_helpers import PASSWORD_ENV, account_settings
from tests.servers.dovecot import DovecotServer, free_ports
from tests.slack.fixtures import BOT_TOKEN
from tests.slack.server import LocalSlack
from tests.waits import until_async

NOW = 1_800_000_000.0
SLACK_ENV = "FD_TEST_STATUS_SLACK"


@pytest_asyncio.fixture
async def astore(db_path: Path) -> AsyncIterator[AsyncStore]:
    async_store = AsyncStore(lambda: Store(db_path, clock=lambda: NOW))
    yield async_store
    await async_store.aclose()


def statuses(db_path: Path) -> dict[str, SyncStatus]:
    store = Store(db_path)
    try:
        return {s.account: s for s in store.sync_statuses()}
    finally:
        store.close()


async def test_a_good_pass_ends_idle(
    dovecot: DovecotServer, astore: AsyncStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    assert await run_once(astore, [account_settings(dovecot)]) == []
    status = statuses(db_path)["support-mail"]
    assert (status.state, status.detail, status.retry_at) == ("idle", "", None)


async def test_a_wrong_password_is_auth_failed_and_the_password_is_not_shown(
    dovecot: DovecotServer, astore: AsyncStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong-s3cret")
    failures = await run_once(astore, [account_settings(dovecot)])
    assert len(failures) == 1
    status = statuses(db_path)["support-mail"]
    assert status.state == "auth failed"
    assert "refused" in status.detail and "wrong-s3cret" not in status.detail


async def test_a_server_down_is_retrying_with_the_reason(
    astore: AsyncStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "whatever")
    (closed_port,) = free_ports(1)  # nothing listens there: connection refused
    settings = ImapAccountSettings(
        name="support-mail",
        kind="imap",
        imap_host="127.0.0.1",
        imap_port=closed_port,
        imap_security="none",
        username="agent",
        password_env=PASSWORD_ENV,
        smtp_host="127.0.0.1",
        smtp_port=9,
        smtp_security="none",
        from_address="help@frontdesk.test",
    )
    await run_once(astore, [settings], retry_in=30.0)
    status = statuses(db_path)["support-mail"]
    assert (status.state, status.detail, status.retry_at) == (
        "retrying",
        "connection refused",
        NOW + 30.0,
    )
    assert describe(status, NOW) == "support-mail: retrying in 30 s (connection refused)"


async def test_a_bad_slack_token_is_auth_failed_without_the_token(
    local_slack: LocalSlack, astore: AsyncStore, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SLACK_ENV, "xoxb-not-the-right-one")
    settings = SlackAccountSettings(
        name="team-slack", kind="slack", bot_token_env=SLACK_ENV, api_url=local_slack.api_url
    )
    await run_once(astore, [settings])
    status = statuses(db_path)["team-slack"]
    assert (status.state, status.detail) == ("auth failed", "Slack said invalid_auth")


def test_details_are_one_short_line_without_tokens() -> None:
    detail = scrub(f"server said\n token {BOT_TOKEN} and xapp-1-A0-secret " + "x" * 500)
    assert "\n" not in detail and BOT_TOKEN not in detail and "A0-secret" not in detail
    assert len(detail) <= 160


async def test_the_queue_screen_shows_every_account_status(store: Store) -> None:
    mail = store.ensure_account("support-mail", "imap")
    slack = store.ensure_account("team-slack", "slack")
    app = FrontdeskApp(store, me="sam@frontdesk.test", clock=lambda: NOW)
    async with app.run_test(size=(120, 20)):
        bar = app.screen.query_one("#sync-status", Static)
        assert not bar.display  # no sync has run: no line taken from the queue
        # Written through another connection, as `frontdesk sync` does.
        writer = Store(store.path, clock=lambda: NOW)
        writer.set_sync_status(mail, "idle")
        writer.set_sync_status(slack, "retrying", "connection refused", retry_in=30.0)
        writer.close()
        expected = "support-mail: idle · team-slack: retrying in 30 s (connection refused)"
        # the app polls data_version every 0.5 s
        await until_async(lambda: bar.display and str(bar.render()) == expected, "the status")
