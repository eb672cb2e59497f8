-- Customer satisfaction surveys (issue 21). One row per survey sent after a close: the token
-- (secrets.token_urlsafe, unguessable) is what the customer's one-click answer carries in its
-- subject (`Rating 4 [fd-TOKEN]`); the answer is recorded here once, never twice.
CREATE TABLE surveys (
    id               INTEGER PRIMARY KEY,
    token            TEXT NOT NULL UNIQUE,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    contact_id       INTEGER NOT NULL REFERENCES contacts(id),
    kind             TEXT NOT NULL CHECK (kind IN ('csat', 'ces', 'nps')),
    scale_max        INTEGER NOT NULL,
    -- the survey mail in the thread (its outbox item delivers it like any reply)
    message_id       INTEGER REFERENCES messages(id),
    sent_at          REAL NOT NULL,
    answered_at      REAL,
    rating           INTEGER,
    comment          TEXT,
    -- the remote id of the answering mail: seen again (a resync), it is skipped, not refiled
    answer_remote_id TEXT,
    state            TEXT NOT NULL DEFAULT 'sent' CHECK (state IN ('sent', 'answered'))
);
CREATE INDEX surveys_contact ON surveys(contact_id, sent_at);
CREATE INDEX surveys_conversation ON surveys(conversation_id);
CREATE INDEX surveys_sent ON surveys(sent_at);
CREATE INDEX surveys_answer_remote ON surveys(answer_remote_id);
