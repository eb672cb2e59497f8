-- What `frontdesk sync` is doing for each account, for the console's status line: one row per
-- account, overwritten on every state change (no history: the log keeps that).
CREATE TABLE sync_status (
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    state      TEXT NOT NULL
               CHECK (state IN ('syncing', 'idle', 'retrying', 'auth failed', 'error')),
    detail     TEXT NOT NULL DEFAULT '',
    retry_at   REAL,
    updated_at REAL NOT NULL
);
