-- The heartbeat of `frontdesk sync`: beat_at is refreshed every few seconds while a sync process
-- runs, stopped_at set when it ends cleanly. A beat older than a few intervals is a dead sync
-- (killed, crashed, host rebooted): the console shows "sync not running since HH:MM".
CREATE TABLE sync_heartbeat (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pid        INTEGER NOT NULL,
    started_at REAL NOT NULL,
    beat_at    REAL NOT NULL,
    stopped_at REAL
);
