"""Who wrote what: users.info once per user per run, and Slack users joined to their email.

With the `users:read.email` scope a profile carries the person's email address. The same
address on Slack and on mail is one person (DESIGN.md §3), so the Slack identity joins the
email contact, or the two contacts are merged (reversibly) when both exist already. Without
the scope there is no address and nothing is linked.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.slack.api import SlackApi
from connectors.slack.mapping import USER_ID, SlackUser
from storage.aio import AsyncStore
from storage.store import Store


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
            if user is not None and user.email and not (user.is_bot or user.deleted):
                await store.call(Store.link_email, user.ref(), user.email)

    async def _lookup(self, user_id: str) -> SlackUser | None:
        # Ids come from message text too: only ask Slack about ones shaped like user ids.
        if not USER_ID.match(user_id):
            return None
        data = await self.api.user(user_id)
        return SlackUser.from_json(data) if data else None
