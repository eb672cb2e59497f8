"""A reply's key before its channel names it, and the email Message-ID stored with its claim.

Contract (issue 13: the connector mints its own Message-ID; issue 14: exactly once):
- A reply is queued under a local key (`queued_key`: unique, in the reserved `.invalid`
  domain, never sent anywhere). It is the message's `remote_id` and `thread_ref` until the
  channel gives the reply its own id: Slack its `channel:ts` once posted
  (`Store.outbox_sent_as`), email its Message-ID at the first claim (below). Nobody outside
  can refer to a reply before it is sent, so nothing threads on the local key.
- The email connector mints the Message-ID (connectors/email/message_id.py) and hands it to
  the claim: `assign`, in the claim's transaction, keeps it in `outbox.mail_id` unless the
  reply has one already (an earlier claim: a retry, a crash and resume), and writes the id in
  effect onto the message (`remote_id`, `thread_ref`). So the id is durable before SMTP sees
  the mail, every later attempt and the Sent-folder probe use that same id, and threading
  (storage/threads.py finds the store's own messages by `thread_ref`) and the store's "ours"
  check (storage/ingest.py, by `remote_id`) know it before any copy can come back.

Functions take the connection; the caller (storage.store.Store) owns the transaction.
"""

from __future__ import annotations

import sqlite3
import uuid

LOCAL_DOMAIN = "frontdesk.invalid"  # RFC 2606: never resolves, never a real sender's


def queued_key() -> str:
    """A fresh local key for a reply being queued (its `remote_id` until the channel's own)."""
    return f"<queued.{uuid.uuid4().hex}@{LOCAL_DOMAIN}>"


def is_local(remote_id: str) -> bool:
    """Whether `remote_id` is still a queued reply's local key (no channel id yet)."""
    return remote_id.startswith("<queued.") and remote_id.endswith(f"@{LOCAL_DOMAIN}>")


def assign(conn: sqlite3.Connection, outbox_id: int, minted: str) -> str:
    """The item's email Message-ID: `minted` unless it has one already; put on its message.

    Call it in the transaction that claims the item, so the claim and its id commit together."""
    conn.execute(
        "UPDATE outbox SET mail_id = ? WHERE id = ? AND mail_id IS NULL", (minted, outbox_id)
    )
    row = conn.execute(
        "SELECT mail_id, message_id FROM outbox WHERE id = ?", (outbox_id,)
    ).fetchone()
    if row is None:
        raise KeyError(f"no outbox item {outbox_id}")
    mail_id, message_id = str(row[0]), int(row[1])
    conn.execute(
        "UPDATE messages SET remote_id = ?, thread_ref = ? WHERE id = ?",
        (mail_id, mail_id, message_id),
    )
    return mail_id
