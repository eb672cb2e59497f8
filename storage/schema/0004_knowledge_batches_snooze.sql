-- Knowledge base: Markdown articles from the admin's folder, indexed for search.
CREATE TABLE kb_articles (
    id       INTEGER PRIMARY KEY,
    path     TEXT NOT NULL UNIQUE,      -- relative to the knowledge folder
    title    TEXT NOT NULL,
    tags     TEXT NOT NULL DEFAULT '',  -- space separated
    url      TEXT,
    body     TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL
);

CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, body, tags,
    content = 'kb_articles', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_articles BEGIN
    INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_articles BEGIN
    INSERT INTO kb_fts(kb_fts, rowid, title, body, tags)
    VALUES ('delete', old.id, old.title, old.body, old.tags);
END;
CREATE TRIGGER kb_fts_update AFTER UPDATE ON kb_articles BEGIN
    INSERT INTO kb_fts(kb_fts, rowid, title, body, tags)
    VALUES ('delete', old.id, old.title, old.body, old.tags);
    INSERT INTO kb_fts(rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;

-- Follow-up batches: one reply per conversation, cancellable while still queued.
ALTER TABLE outbox ADD COLUMN batch TEXT;
CREATE INDEX outbox_batch ON outbox(batch) WHERE batch IS NOT NULL;

-- When the current snooze began: snoozed time does not count against the SLA.
ALTER TABLE conversations ADD COLUMN snoozed_at REAL;
