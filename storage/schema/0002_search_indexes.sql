-- Search at a million conversations (measured by bench/console.py, see bench/README.md).

-- Search results are ordered by last activity whatever the filter: with this index a page walks
-- the newest conversations and stops once it is full, instead of sorting every match first
-- (channel:slack at 1M conversations: 0.7 s -> 1 ms; after:DATE 110 ms -> 1 ms).
CREATE INDEX conv_recent ON conversations(last_message_at, id);

-- `from:` matches a substring of a contact's name, address or display name. A trigram index
-- finds a substring of 3+ characters without reading every row (LIKE '%x%' reads all 200k
-- contacts and 260k identities: ~50 ms, and the queue runs a view's query 2-3 times).
-- External content: the text stays in its table, the index holds only trigrams. The column
-- names must be the content table's own, or 'rebuild' and snippets cannot read them.
CREATE VIRTUAL TABLE identities_fts USING fts5(
    address, display_name,
    content = 'identities', content_rowid = 'id',
    tokenize = 'trigram'
);
CREATE VIRTUAL TABLE contacts_fts USING fts5(
    name,
    content = 'contacts', content_rowid = 'id',
    tokenize = 'trigram'
);
INSERT INTO identities_fts(identities_fts) VALUES ('rebuild');
INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild');

CREATE TRIGGER identities_fts_insert AFTER INSERT ON identities BEGIN
    INSERT INTO identities_fts(rowid, address, display_name)
    VALUES (new.id, new.address, new.display_name);
END;
CREATE TRIGGER identities_fts_delete AFTER DELETE ON identities BEGIN
    INSERT INTO identities_fts(identities_fts, rowid, address, display_name)
    VALUES ('delete', old.id, old.address, old.display_name);
END;
CREATE TRIGGER identities_fts_update AFTER UPDATE OF address, display_name ON identities BEGIN
    INSERT INTO identities_fts(identities_fts, rowid, address, display_name)
    VALUES ('delete', old.id, old.address, old.display_name);
    INSERT INTO identities_fts(rowid, address, display_name)
    VALUES (new.id, new.address, new.display_name);
END;

CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name ON contacts BEGIN
    INSERT INTO contacts_fts(contacts_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO contacts_fts(rowid, name) VALUES (new.id, new.name);
END;
