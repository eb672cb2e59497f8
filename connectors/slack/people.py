"""Who wrote what: users.info once per user per run, and Slack users joined to their email.

A user Slack will not describe (`user_not_visible`: another organisation's member, a guest)
costs only their name: they are stored as "Slack user U…" (mapping.unnamed) and asked about
again, at most every `rename_every` seconds across runs (the `names` row of sync_state); once
Slack names them, the identity, the contact and their messages' author name take the name.

With the `users:read.email` scope a profile carries the person's email address. The same
address on Slack and on mail is one person (DESIGN.md §3), so the Slack identity joins the
email contact, or the two contacts are merged (reversibly) when both exist already. Without
the scope there is no address and nothing is linked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectors.slack.api import SlackApi
from connectors.slack.mapping import USER_ID, SlackUser, unnamed
from storage.aio import AsyncStore
from storage.store import Store

NAMES_SCOPE = "names"  # sync_state row: when unnamed users were last asked about
RENAME_BATCH = 50  # unnamed users asked about per pass (users.info is Tier 4: 100+ a minute)


class People:
    def __init__(self, api: SlackApi) -> None:
        self.api = api
        # None: looked up and unknown (deleted from the workspace, or a forged id).
        self.users: dict[str, SlackUser | None] = {}

    async def learn(self, store: AsyncStore, user_ids: Iterable[str]) -> None:
        """Look up the users not seen yet in this run and link them to their email contact."""
        for user_id in sorted(set(user_ids) - self.users.keys()):
            user = await self._lookup(user_id)
            self.users[user_id] = user
            if user is None:
                continue
            await store.call(Store.learn_name, user.ref(), unnamed(user_id))
            if user.email and not (user.is_bot or user.deleted):
                await store.call(Store.link_email, user.ref(), user.email)

    async def rename_unnamed(
        self, store: AsyncStore, account_id: int, clock: Callable[[], float], every: float
    ) -> None:
        """Ask Slack again about the users stored without a name, once `every` seconds have
        passed since the last time (across runs): a name Slack now shows replaces the id."""
        last = (await store.call(Store.checkpoint, account_id, NAMES_SCOPE) or {}).get("at")
        if isinstance(last, int | float) and clock() - last < every:
            return
        waiting = await store.call(
            Store.unnamed_identities, "slack", unnamed(""), account_id, RENAME_BATCH
        )
        for user_id in waiting:
            self.users.pop(user_id, None)  # asked again even if this run asked already
        await self.learn(store, waiting)
        state: dict[str, object] = {"at": clock()}
        checkpoint = (account_id, NAMES_SCOPE, state)
        await store.call(Store.ingest, [], checkpoint=checkpoint)

    async def _lookup(self, user_id: str) -> SlackUser | None:
        # Ids come from message text too: only ask Slack about ones shaped like user ids.
        if not USER_ID.match(user_id):
            return None
        data = await self.api.user(user_id)
        return SlackUser.from_json(data) if data else None
