-- Frontdesk store, version 1. Times are UTC epoch seconds (REAL).

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('imap', 'slack', 'demo')),
    created_at  REAL NOT NULL
);

-- One checkpoint per account and scope (an IMAP folder, a Slack channel): opaque JSON owned by
-- the connector, committed in the same transaction as the messages it covers.
CREATE TABLE sync_state (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    state       TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (account_id, scope)
) WITHOUT ROWID;

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    tier            TEXT NOT NULL DEFAULT 'standard',
    merged_into     INTEGER REFERENCES contacts(id),
    last_checkin_at REAL,
    created_at      REAL NOT NULL
);

CREATE TABLE identities (
    id            INTEGER PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts(id),
    kind          TEXT NOT NULL CHECK (kind IN ('email', 'slack')),
    address       TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    -- the contact this identity was first created under, so a merge can be undone
    original_contact_id INTEGER NOT NULL REFERENCES contacts(id),
    UNIQUE (kind, address)
);
CREATE INDEX identities_contact ON identities(contact_id);

CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts(id),
    channel           TEXT NOT NULL CHECK (channel IN ('email', 'slack')),
    subject           TEXT NOT NULL DEFAULT '',
    contact_id        INTEGER NOT NULL REFERENCES contacts(id),
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'pending', 'snoozed', 'closed')),
    assignee          TEXT,
    snoozed_until     REAL,
    wake_on_reply     INTEGER NOT NULL DEFAULT 1,
    snooze_note       TEXT,
    woken_at          REAL,
    waiting_since     REAL,
    first_response_at REAL,
    closed_at         REAL,
    last_message_at   REAL NOT NULL,
    created_at        REAL NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    tier              TEXT NOT NULL DEFAULT 'standard',
    sla_due_at        REAL,
    unread            INTEGER NOT NULL DEFAULT 1,
    -- threading fallback: same account, contact and group key (normalised subject, Slack
    -- channel) within a window joins the conversation
    group_key         TEXT NOT NULL DEFAULT '',
    -- ascending order of the needs-reply queue, derived by storage/rules.py
    queue_key         REAL NOT NULL
);
CREATE INDEX conv_status_queue ON conversations(status, queue_key, id);
CREATE INDEX conv_status_recent ON conversations(status, last_message_at, id);
CREATE INDEX conv_status_snooze ON conversations(status, snoozed_until, id);
CREATE INDEX conv_assignee_queue ON conversations(assignee, status, queue_key, id);
CREATE INDEX conv_channel_queue ON conversations(channel, status, queue_key, id);
CREATE INDEX conv_contact ON conversations(contact_id, last_message_at);
CREATE INDEX conv_group ON conversations(account_id, contact_id, group_key, last_message_at);

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    account_id       INTEGER NOT NULL REFERENCES accounts(id),
    remote_id        TEXT NOT NULL,
    -- the id other messages use to point at this one (email Message-ID, Slack channel:ts)
    thread_ref       TEXT,
    direction        TEXT NOT NULL CHECK (direction IN ('in', 'out', 'note')),
    author_identity_id INTEGER REFERENCES identities(id),
    author_name      TEXT NOT NULL DEFAULT '',
    sent_at          REAL NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    text             TEXT NOT NULL DEFAULT '',
    html             TEXT,
    quote_offset     INTEGER,
    headers          TEXT NOT NULL DEFAULT '{}',
    thread_reason    TEXT NOT NULL,
    problems         TEXT NOT NULL DEFAULT '[]',
    delivery         TEXT CHECK (delivery IN ('queued', 'sent', 'failed', 'cancelled')),
    edited_at        REAL,
    deleted          INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    UNIQUE (account_id, remote_id)
);
CREATE INDEX messages_conversation ON messages(conversation_id, sent_at, id);
CREATE INDEX messages_thread_ref ON messages(account_id, thread_ref);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY,
    message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    remote_ref    TEXT
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE TABLE tags (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    color  TEXT NOT NULL DEFAULT 'cyan'
);

CREATE TABLE conversation_tags (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id          INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX conversation_tags_tag ON conversation_tags(tag_id, conversation_id);

CREATE TABLE canned_replies (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    shortcut    TEXT,
    folder      TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT 'agent' CHECK (source IN ('config', 'agent')),
    updated_at  REAL NOT NULL
);

CREATE TABLE drafts (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    body            TEXT NOT NULL,
    updated_at      REAL NOT NULL
);

-- Durable send queue: a reply is stored here first; the runner delivers it.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    account_id       INTEGER NOT NULL REFERENCES accounts(id),
    message_id       INTEGER NOT NULL REFERENCES messages(id),
    body             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    last_error       TEXT,
    created_by       TEXT NOT NULL,
    created_at       REAL NOT NULL,
    sent_at          REAL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    at               REAL NOT NULL,
    actor            TEXT NOT NULL,
    kind             TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_conversation ON events(conversation_id, at);
CREATE INDEX events_kind_at ON events(kind, at);

CREATE TABLE presence (
    agent            TEXT NOT NULL,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    state            TEXT NOT NULL CHECK (state IN ('viewing', 'replying')),
    heartbeat_at     REAL NOT NULL,
    PRIMARY KEY (agent, conversation_id)
) WITHOUT ROWID;

-- Full-text index over messages (external content: the text lives once, in messages).
CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, text, author_name,
    content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, subject, text, author_name)
    VALUES (new.id, new.subject, new.text, new.author_name);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, subject, text, author_name)
    VALUES ('delete', old.id, old.subject, old.text, old.author_name);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, text, author_name ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, subject, text, author_name)
    VALUES ('delete', old.id, old.subject, old.text, old.author_name);
    INSERT INTO messages_fts(rowid, subject, text, author_name)
    VALUES (new.id, new.subject, new.text, new.author_name);
END;
