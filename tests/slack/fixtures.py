"""Pytest fixture: a LocalSlack per test, with the tokens the connector tests use."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.slack.server import LocalSlack

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"


@pytest_asyncio.fixture
async def local_slack() -> AsyncIterator[LocalSlack]:
    """A started LocalSlack on a free 127.0.0.1 port; stopped (sockets closed) afterwards."""
    slack = LocalSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()
