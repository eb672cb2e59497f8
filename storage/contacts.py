"""Contacts and their identities (addresses on each channel): attach, look up, merge, link.

Writes run in the caller's transaction (opened by storage/store.py).
"""

from __future__ import annotations

import sqlite3

from storage.ingest import resolve_identity
from storage.models import IdentityRef
from storage.policy import InboxPolicy
from storage.state import record_event


def add_identity(conn: sqlite3.Connection, contact_id: int, ref: IdentityRef) -> None:
    """Attach an address to a known contact (e.g. their Slack user to their email)."""
    conn.execute(
        "INSERT INTO identities (contact_id, kind, address, display_name,"
        " original_contact_id) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(kind, address) DO UPDATE SET contact_id = excluded.contact_id",
        (contact_id, ref.kind, ref.address, ref.display_name, contact_id),
    )


def contact_of(conn: sqlite3.Connection, ref: IdentityRef) -> int | None:
    row = conn.execute(
        "SELECT contact_id FROM identities WHERE kind = ? AND address = ?",
        (ref.kind, ref.address),
    ).fetchone()
    return None if row is None else int(row[0])


def merge_contacts(
    conn: sqlite3.Connection, source_id: int, target_id: int, actor: str, now: float
) -> None:
    """Fold contact `source` into `target` (see `Store.merge_contacts`)."""
    if source_id == target_id:
        return
    moved = [
        int(r[0])
        for r in conn.execute("SELECT id FROM conversations WHERE contact_id = ?", (source_id,))
    ]
    conn.execute(
        "UPDATE conversations SET contact_id = ? WHERE contact_id = ?", (target_id, source_id)
    )
    conn.execute(
        "UPDATE identities SET contact_id = ? WHERE contact_id = ?", (target_id, source_id)
    )
    conn.execute("UPDATE contacts SET merged_into = ? WHERE id = ?", (target_id, source_id))
    detail: dict[str, object] = {"from": source_id, "into": target_id}
    for conversation_id in moved:
        record_event(conn, conversation_id, now, actor, "contact_merged", detail)


def link_email(
    conn: sqlite3.Connection, slack: IdentityRef, email: str, policy: InboxPolicy, now: float
) -> None:
    """Make `slack` and `email:<email>` one contact: the Slack identity joins the email
    contact, the email joins the Slack contact, or the two are merged (reversibly)."""
    email_ref = IdentityRef("email", email, slack.display_name)
    email_contact = contact_of(conn, email_ref)
    slack_contact = contact_of(conn, slack)
    if email_contact is None:
        # Mail from this address later joins the person we already know from Slack.
        if slack_contact is None:
            slack_contact = resolve_identity(conn, slack, policy, now)[1]
        add_identity(conn, slack_contact, email_ref)
    elif slack_contact is None:
        add_identity(conn, email_contact, slack)
    elif slack_contact != email_contact:
        merge_contacts(conn, slack_contact, email_contact, "sync", now)


def unnamed_identities(
    conn: sqlite3.Connection, kind: str, prefix: str, account_id: int, limit: int
) -> list[str]:
    """Addresses of `kind` identities stored under their placeholder name (`prefix` + address)
    that wrote in this account's conversations, oldest first."""
    rows = conn.execute(
        "SELECT i.address FROM identities i WHERE i.kind = ?"
        " AND i.display_name = ? || i.address"
        " AND EXISTS (SELECT 1 FROM messages m"
        "             WHERE m.author_identity_id = i.id AND m.account_id = ?)"
        " ORDER BY i.id LIMIT ?",
        (kind, prefix, account_id, limit),
    )
    return [str(address) for (address,) in rows]


def learn_name(conn: sqlite3.Connection, ref: IdentityRef, placeholder: str) -> bool:
    """Give `ref`'s identity its name if it was stored under `placeholder`, and the same to its
    contact and the messages it wrote; False when there was nothing to rename."""
    if not ref.display_name or ref.display_name == placeholder:
        return False
    row = conn.execute(
        "SELECT id, contact_id FROM identities WHERE kind = ? AND address = ? AND display_name = ?",
        (ref.kind, ref.address, placeholder),
    ).fetchone()
    if row is None:  # the common case: nothing to write
        return False
    identity_id, contact_id = int(row[0]), int(row[1])
    name = ref.display_name
    conn.execute("UPDATE identities SET display_name = ? WHERE id = ?", (name, identity_id))
    conn.execute(
        "UPDATE contacts SET name = ? WHERE id = ? AND name = ?", (name, contact_id, placeholder)
    )
    conn.execute(
        "UPDATE messages SET author_name = ? WHERE author_identity_id = ? AND author_name = ?",
        (name, identity_id, placeholder),
    )
    return True
