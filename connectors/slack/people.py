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
from storage.db import transaction
from storage.models import IdentityRef
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
            await store.call(learn_name, user.ref())
            if user.email and not (user.is_bot or user.deleted):
                await store.call(link_email, user.ref(), user.email)

    async def rename_unnamed(
        self, store: AsyncStore, account_id: int, clock: Callable[[], float], every: float
    ) -> None:
        """Ask Slack again about the users stored without a name, once `every` seconds have
        passed since the last time (across runs): a name Slack now shows replaces the id."""
        last = (await store.call(Store.checkpoint, account_id, NAMES_SCOPE) or {}).get("at")
        if isinstance(last, int | float) and clock() - last < every:
            return
        waiting = await store.call(unnamed_users, account_id, RENAME_BATCH)
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


def unnamed_users(store: Store, account_id: int, limit: int) -> list[str]:
    """Slack user ids stored under their placeholder name that wrote in this account's
    conversations (runs on the store's thread)."""
    rows = store.conn.execute(
        "SELECT i.address FROM identities i WHERE i.kind = 'slack'"
        " AND i.display_name = 'Slack user ' || i.address"
        " AND EXISTS (SELECT 1 FROM messages m"
        "             WHERE m.author_identity_id = i.id AND m.account_id = ?)"
        " ORDER BY i.id LIMIT ?",
        (account_id, limit),
    )
    return [str(address) for (address,) in rows]


def learn_name(store: Store, slack: IdentityRef) -> bool:
    """Give `slack`'s identity its name if it was stored under the placeholder, and the same
    to its contact and the messages it wrote; False when there was nothing to rename (runs
    on the store's thread)."""
    placeholder = unnamed(slack.address)
    if not slack.display_name or slack.display_name == placeholder:
        return False
    row = store.conn.execute(
        "SELECT id, contact_id FROM identities WHERE kind = ? AND address = ? AND display_name = ?",
        (slack.kind, slack.address, placeholder),
    ).fetchone()
    if row is None:  # the common case: nothing to write
        return False
    identity_id, contact_id = int(row[0]), int(row[1])
    name = slack.display_name
    with transaction(store.conn):
        store.conn.execute(
            "UPDATE identities SET display_name = ? WHERE id = ?", (name, identity_id)
        )
        store.conn.execute(
            "UPDATE contacts SET name = ? WHERE id = ? AND name = ?",
            (name, contact_id, placeholder),
        )
        store.conn.execute(
            "UPDATE messages SET author_name = ? WHERE author_identity_id = ? AND author_name = ?",
            (name, identity_id, placeholder),
        )
    return True
