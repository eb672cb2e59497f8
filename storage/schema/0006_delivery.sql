-- Delivery exactly once (issue 14): one process delivers an account's outbox at a time, and a
-- reply whose fate is unknown is `uncertain` until a probe settles it.

-- The delivery lease: who may send this account's outbox now. Taken (insert, or take over an
-- expired row) in one IMMEDIATE transaction; renewed by heartbeat; a PostgreSQL store can use
-- an advisory lock on the account id instead, behind the same interface.
CREATE TABLE delivery_leases (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    holder       TEXT NOT NULL,
    taken_at     REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    expires_at   REAL NOT NULL
);

-- Who claimed an item (`sending`): it is recovered only once that holder's lease expired.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
-- Beyond `status`: `uncertain` (it may have gone out: probe before any retry) or `held` (it
-- must not go as is: `last_error` says why and the agent decides). NULL otherwise.
ALTER TABLE outbox ADD COLUMN outcome TEXT CHECK (outcome IN ('uncertain', 'held'));
-- How many times a probe found nothing and the reply was sent again (at most once).
ALTER TABLE outbox ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
-- The copy in the Sent folder: NULL (none needed or done), 'pending' or 'failed' (retried).
ALTER TABLE outbox ADD COLUMN sent_copy TEXT CHECK (sent_copy IN ('pending', 'failed'));
ALTER TABLE outbox ADD COLUMN sent_copy_error TEXT;
CREATE INDEX outbox_account_status ON outbox(account_id, status);
-- Undo send: the conversation's state (rules.ConvState as JSON) before the reply was queued,
-- written back when the agent takes the reply back within its send delay.
ALTER TABLE outbox ADD COLUMN state_before TEXT;
-- Slack: the agent chose to post a held reply (its question was deleted) as a new message in
-- the channel rather than in the thread that no longer exists.
ALTER TABLE outbox ADD COLUMN top_level INTEGER NOT NULL DEFAULT 0;
