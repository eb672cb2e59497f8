"""What every channel is to the runner: the connector protocols and the errors it classifies.

A channel's connector ingests into the store and delivers its outbox (`Connector.sync_once`);
one that can follow its channel as it happens also has `run_live` (`LiveConnector`).

Each channel translates its library's errors at its own edge, where the library is called:
a refused login or token becomes an `AuthFailed` (the admin must act; retrying cannot fix
it), a dropped or unreachable connection a `Transient` (it fixes itself; retried). A channel
may keep its own exception types by deriving them from these (e.g. `LoginRefused(ImapError,
AuthFailed)`), so its own handlers still catch them. The runner then knows no channel library.
"""

from __future__ import annotations

from typing import Protocol

from storage.aio import AsyncStore


class AuthFailed(Exception):
    """The channel refused our credentials; the message says so in one line."""


class Transient(Exception):
    """The connection dropped or the server was unreachable; the next pass will retry."""


class Connector(Protocol):
    # "standing by: ..." when another process delivers this account's outbox, else None.
    delivery_note: str | None

    async def sync_once(self, store: AsyncStore) -> None:
        """Ingest what is new since the checkpoints, then deliver this account's outbox."""


class LiveConnector(Connector, Protocol):
    async def run_live(self, store: AsyncStore) -> None:
        """Until cancelled: follow the channel live, catch up, deliver the outbox."""
