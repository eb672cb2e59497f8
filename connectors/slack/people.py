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
from storage.models import IdentityRef
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
                await store.call(link_email, user.ref(), user.email)

    async def _lookup(self, user_id: str) -> SlackUser | None:
        # Ids come from message text too: only ask Slack about ones shaped like user ids.
        if not USER_ID.match(user_id):
            return None
        data = await self.api.user(user_id)
        return SlackUser.from_json(data) if data else None


def link_email(store: Store, slack: IdentityRef, email: str) -> None:
    """Make `slack` and `email:<email>` one contact (runs on the store's thread)."""
    email_ref = IdentityRef("email", email, slack.display_name)
    email_contact = store.contact_of(email_ref)
    slack_contact = store.contact_of(slack)
    if email_contact is None:
        # Mail from this address later joins the person we already know from Slack.
        store.add_identity(slack_contact or store.ensure_contact(slack), email_ref)
    elif slack_contact is None:
        store.add_identity(email_contact, slack)
    elif slack_contact != email_contact:
        store.merge_contacts(slack_contact, email_contact)
