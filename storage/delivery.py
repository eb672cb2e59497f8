"""Delivery bookkeeping: the per-account delivery lease and the outbox outcomes beyond `status`.

Contract (issue 14, DESIGN.md 2b):
- One process delivers an account's outbox at a time. It holds the account's lease (a row:
  holder, heartbeat, expiry), taken in one IMMEDIATE transaction: a free row, an expired row
  or our own row is ours; a live row of someone else's is not. The lease is the only thing a
  PostgreSQL store would replace (by `pg_try_advisory_lock(account_id)` on the session).
- An item claimed (`sending`) records its holder; another process recovers it only once that
  holder's lease expired (it crashed, or was stopped for longer than the lease).
- `outcome` adds what `status` cannot say: `uncertain` (the server may have it: probe before
  any retry) and `held` (must not go as is; `last_error` says why).
- `sent_copy`: the Sent folder copy, tracked apart from delivery so its failure never blocks.

Functions take the connection; the caller (storage.store.Store) owns the transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# An item is recoverable when nobody holds a live lease in its claimant's name.
_CLAIM_IS_STALE = (
    "(claimed_by IS NULL OR claimed_by = :holder OR NOT EXISTS (SELECT 1 FROM delivery_leases l"
    " WHERE l.account_id = outbox.account_id AND l.holder = outbox.claimed_by"
    " AND l.expires_at > :now))"
)
_HOLDS_LEASE = (
    "EXISTS (SELECT 1 FROM delivery_leases l WHERE l.account_id = outbox.account_id"
    " AND l.holder = :holder AND l.expires_at > :now)"
)


@dataclass(frozen=True, slots=True)
class OutboxProblem:
    """A reply that did not (certainly) go out, or whose Sent copy is missing: for the agent."""

    outbox_id: int
    conversation_id: int
    account_id: int
    subject: str
    state: str  # 'failed' | 'uncertain' | 'held' | 'sending' | 'copy failed'
    reason: str


def take_lease(
    conn: sqlite3.Connection, account_id: int, holder: str, ttl: float, now: float
) -> str:
    """Take or renew the account's lease; return who holds it afterwards (us if we got it)."""
    conn.execute(
        "INSERT INTO delivery_leases (account_id, holder, taken_at, heartbeat_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET"
        " holder = excluded.holder, heartbeat_at = excluded.heartbeat_at,"
        " expires_at = excluded.expires_at,"
        " taken_at = CASE WHEN delivery_leases.holder = excluded.holder"
        "   THEN delivery_leases.taken_at ELSE excluded.taken_at END"
        " WHERE delivery_leases.holder = excluded.holder OR delivery_leases.expires_at <= ?",
        (account_id, holder, now, now, now + ttl, now),
    )
    row = conn.execute(
        "SELECT holder FROM delivery_leases WHERE account_id = ?", (account_id,)
    ).fetchone()
    return str(row[0])


def release_lease(conn: sqlite3.Connection, account_id: int, holder: str) -> None:
    conn.execute(
        "DELETE FROM delivery_leases WHERE account_id = ? AND holder = ?", (account_id, holder)
    )


def claim(
    conn: sqlite3.Connection, outbox_id: int, holder: str | None, resuming: bool, now: float
) -> bool:
    """Mark an item `sending` in `holder`'s name; False if it is not ours to send.

    With a holder, the claim needs that holder's live lease. `resuming` also takes an item left
    `sending`, but only when its claimant's lease expired (or it was ours)."""
    allowed = "('queued', 'failed', 'sending')" if resuming else "('queued', 'failed')"
    sql = (
        "UPDATE outbox SET status = 'sending', claimed_by = :holder"
        f" WHERE id = :id AND status IN {allowed}"
        " AND (outcome IS NULL OR (:resuming AND outcome = 'uncertain'))"
    )
    if holder is not None:
        sql += f" AND {_HOLDS_LEASE} AND (status != 'sending' OR {_CLAIM_IS_STALE})"
    params = {"holder": holder, "id": outbox_id, "resuming": resuming, "now": now}
    if conn.execute(sql, params).rowcount != 1:
        return False
    conn.execute(  # a retry of a failed reply: the thread says "queued" again until it goes
        "UPDATE messages SET delivery = 'queued' WHERE delivery = 'failed'"
        " AND id = (SELECT message_id FROM outbox WHERE id = ?)",
        (outbox_id,),
    )
    return True


def unfinished(
    conn: sqlite3.Connection, account_id: int, holder: str | None, now: float
) -> list[sqlite3.Row]:
    """Items left `sending` (crash, lost answer, uncertain) that `holder` may look into now."""
    sql = "SELECT * FROM outbox WHERE status = 'sending' AND account_id = :account"
    if holder is not None:
        sql += f" AND {_CLAIM_IS_STALE}"
    params = {"account": account_id, "holder": holder, "now": now}
    return conn.execute(sql + " ORDER BY id", params).fetchall()


def mark_uncertain(conn: sqlite3.Connection, outbox_id: int, reason: str) -> None:
    """The server may have the reply: keep it `sending`, released, for a probe."""
    conn.execute(
        "UPDATE outbox SET status = 'sending', outcome = 'uncertain', claimed_by = NULL,"
        " last_error = ?, attempts = attempts + 1 WHERE id = ?",
        (reason, outbox_id),
    )


def count_resend(conn: sqlite3.Connection, outbox_id: int) -> None:
    conn.execute(
        "UPDATE outbox SET resends = resends + 1, outcome = NULL WHERE id = ?", (outbox_id,)
    )


def mark_held(conn: sqlite3.Connection, outbox_id: int, reason: str) -> bool:
    cursor = conn.execute(
        "UPDATE outbox SET status = 'queued', outcome = 'held', claimed_by = NULL,"
        " last_error = ? WHERE id = ? AND status IN ('queued', 'failed', 'sending')",
        (reason, outbox_id),
    )
    return cursor.rowcount == 1


def set_copy(
    conn: sqlite3.Connection, outbox_id: int, state: str | None, error: str | None
) -> None:
    conn.execute(
        "UPDATE outbox SET sent_copy = ?, sent_copy_error = ? WHERE id = ?",
        (state, error, outbox_id),
    )


def copies_due(conn: sqlite3.Connection, account_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM outbox WHERE account_id = ? AND status = 'sent'"
        " AND sent_copy IN ('pending', 'failed') ORDER BY id",
        (account_id,),
    )
    return [int(r[0]) for r in rows]


def problems(
    conn: sqlite3.Connection, account_id: int | None, conversation_id: int | None = None
) -> list[OutboxProblem]:
    """Every reply not (certainly) delivered, and every sent reply whose Sent copy failed."""
    sql = (
        "SELECT o.id, o.conversation_id, o.account_id, c.subject, o.status, o.outcome,"
        " o.last_error, o.sent_copy, o.sent_copy_error FROM outbox o"
        " JOIN conversations c ON c.id = o.conversation_id"
        " WHERE (o.status = 'failed' OR o.outcome IS NOT NULL"
        "  OR (o.status = 'sent' AND o.sent_copy = 'failed'))"
    )
    params: list[object] = []
    if account_id is not None:
        sql += " AND o.account_id = ?"
        params.append(account_id)
    if conversation_id is not None:
        sql += " AND o.conversation_id = ?"
        params.append(conversation_id)
    found = []
    for r in conn.execute(sql + " ORDER BY o.id", params):
        if r[4] == "sent":
            state, reason = "copy failed", f"sent, but not copied to Sent: {r[8] or 'unknown'}"
        else:
            state, reason = r[5] or r[4], r[6] or "unknown"
        found.append(OutboxProblem(r[0], r[1], r[2], r[3] or "", state, reason))
    return found
