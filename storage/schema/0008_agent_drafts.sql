-- Drafts belong to the agent who wrote them, one per conversation and mode: a reply draft and
-- a note draft never share a box, and a colleague's console never opens someone else's text.
-- The older `drafts` table (one per conversation, no owner) is left as it was and not read.
CREATE TABLE agent_drafts (
    agent           TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    mode            TEXT NOT NULL CHECK (mode IN ('reply', 'note')),
    body            TEXT NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (agent, conversation_id, mode)
);
