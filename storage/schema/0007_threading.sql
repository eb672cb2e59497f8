-- Threading that survives real mail (issues 14, 15): who belongs in a conversation, the ids a
-- conversation answers to (JWZ containers, also for messages never stored), message keys that
-- keep different messages sharing a Message-ID, and the marks the thread view shows.

-- sha256 of (Message-ID, sender, normalised subject, Date): equal for copies of one message.
ALTER TABLE messages ADD COLUMN fingerprint TEXT;
-- the conversation this message pointed at but was not let into (its sender is no participant)
ALTER TABLE messages ADD COLUMN refers_to INTEGER;
-- why the From looks forged (a display name showing another address), NULL when it does not
ALTER TABLE messages ADD COLUMN spoofing TEXT;

-- Addresses that may write into a conversation: everyone on From/To/Cc of its messages, and
-- "list:<List-Id>" for mailing-list conversations (anyone on a public list may answer).
CREATE TABLE conversation_participants (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    address         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, address)
) WITHOUT ROWID;
CREATE INDEX conversation_participants_address ON conversation_participants(address);

-- Every id a conversation's messages are or point at (Message-ID, In-Reply-To, References):
-- a reply to a message we never stored finds its siblings through the id they share.
CREATE TABLE thread_links (
    account_id      INTEGER NOT NULL REFERENCES accounts(id),
    ref             TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, ref, conversation_id)
) WITHOUT ROWID;
CREATE INDEX thread_links_conversation ON thread_links(conversation_id);

-- What a split remembers: mail pointing at these ids goes to the split-off conversation.
CREATE TABLE thread_splits (
    account_id      INTEGER NOT NULL REFERENCES accounts(id),
    ref             TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, ref)
) WITHOUT ROWID;

-- Existing stores: links and participants from what is already stored.
INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id)
    SELECT account_id, thread_ref, conversation_id FROM messages WHERE thread_ref IS NOT NULL;
INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id)
    SELECT m.account_id, j.value, m.conversation_id
    FROM messages m JOIN conversations c ON c.id = m.conversation_id,
         json_each(m.headers, '$.references') j
    WHERE c.channel = 'email' AND json_valid(m.headers) AND j.type = 'text';
INSERT OR IGNORE INTO thread_links (account_id, ref, conversation_id)
    SELECT m.account_id, json_extract(m.headers, '$.in_reply_to'), m.conversation_id
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.channel = 'email' AND json_valid(m.headers)
      AND json_type(m.headers, '$.in_reply_to') = 'text';
-- (Our own address is never a participant: it would let a forged "from us" in anywhere. It
-- is the author of the mail we sent, which the old mapping stored as direction 'out'.)
CREATE TEMP TABLE ours_0007 AS
    SELECT DISTINCT i.address FROM messages m JOIN identities i ON i.id = m.author_identity_id
    WHERE m.direction = 'out' AND i.kind = 'email';
INSERT OR IGNORE INTO conversation_participants (conversation_id, address)
    SELECT m.conversation_id, i.address
    FROM messages m JOIN identities i ON i.id = m.author_identity_id
    WHERE i.kind = 'email' AND m.direction = 'in'
      AND i.address NOT IN (SELECT address FROM ours_0007);
INSERT OR IGNORE INTO conversation_participants (conversation_id, address)
    SELECT m.conversation_id, lower(json_extract(j.value, '$[1]'))
    FROM messages m JOIN conversations c ON c.id = m.conversation_id,
         json_each(m.headers, '$.to') j
    WHERE c.channel = 'email' AND json_valid(m.headers) AND j.type = 'array'
      AND lower(json_extract(j.value, '$[1]')) NOT IN (SELECT address FROM ours_0007);
INSERT OR IGNORE INTO conversation_participants (conversation_id, address)
    SELECT m.conversation_id, lower(json_extract(j.value, '$[1]'))
    FROM messages m JOIN conversations c ON c.id = m.conversation_id,
         json_each(m.headers, '$.cc') j
    WHERE c.channel = 'email' AND json_valid(m.headers) AND j.type = 'array'
      AND lower(json_extract(j.value, '$[1]')) NOT IN (SELECT address FROM ours_0007);
DROP TABLE ours_0007;

-- Conversations kept out of another one are looked up on every message stored there.
CREATE INDEX messages_refers_to ON messages(refers_to) WHERE refers_to IS NOT NULL;
