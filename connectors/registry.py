"""The one place a channel plugs in: kind -> settings model, connector factory, live or not.

The config's account union (`AccountSettings`) is declared here and nowhere else; the
console composes it into its config model. Importing this module loads the settings models
only (pydantic): each channel's connector, and with it its library (aioimaplib, aiosmtplib,
slack_sdk, aiohttp), is imported on first use, so commands that never sync stay light.

A third channel: a package `connectors/<kind>/` with `settings.py` (a pydantic model with
`kind: Literal["<kind>"]` and `name`) and a connector implementing `connectors.base.Connector`
(and its outbox on `connectors.outbox`), plus one entry in `CHANNELS` and one member in
`AccountSettings` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from connectors.base import Connector
from connectors.email.settings import ImapAccountSettings
from connectors.slack.settings import SlackAccountSettings

AccountSettings = Annotated[ImapAccountSettings | SlackAccountSettings, Field(discriminator="kind")]


@dataclass(frozen=True)
class Channel:
    settings: type[Any]  # the account's pydantic settings model
    connector: Callable[[Any, int], Connector]  # (settings, account id) -> its connector
    live: bool  # the connector has `run_live` (a `LiveConnector`)

    def connect(self, settings: AccountSettings, account_id: int) -> Connector:
        """The account's connector; `settings` must be this channel's model."""
        if not isinstance(settings, self.settings):
            raise TypeError(f"{type(settings).__name__} is not {self.settings.__name__}")
        return self.connector(settings, account_id)


def _imap(settings: ImapAccountSettings, account_id: int) -> Connector:
    from connectors.email.connector import ImapConnector  # aioimaplib/aiosmtplib on first use

    return ImapConnector(settings, account_id)


def _slack(settings: SlackAccountSettings, account_id: int) -> Connector:
    from connectors.slack.connector import SlackConnector  # slack_sdk/aiohttp on first use

    return SlackConnector(settings, account_id)


CHANNELS: dict[str, Channel] = {
    "imap": Channel(ImapAccountSettings, _imap, live=True),
    "slack": Channel(SlackAccountSettings, _slack, live=True),
}
KINDS = tuple(CHANNELS)  # every account kind the config accepts, for its error messages
