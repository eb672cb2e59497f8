-- A tag's conversations, newest first, from one index (issue 18): `tag:billing` (98k of 1M
-- conversations) sorted every match by the conversation's last activity (~170 ms a search).
-- Each tag link carries its conversation's last_message_at, kept by the triggers below
-- whatever writes the link or the conversation, so a page of a tag view walks
-- conversation_tags_recent and stops once full, and the count of a tag alone reads that index
-- without touching conversations (storage/queue.py: TagDriven).
ALTER TABLE conversation_tags ADD COLUMN last_message_at REAL;

UPDATE conversation_tags SET last_message_at = (
    SELECT c.last_message_at FROM conversations c WHERE c.id = conversation_tags.conversation_id
);

CREATE INDEX conversation_tags_recent
    ON conversation_tags(tag_id, last_message_at, conversation_id);

-- A new link takes its conversation's time (tagging, check-ins, merges, undo).
CREATE TRIGGER conversation_tags_recent_insert AFTER INSERT ON conversation_tags BEGIN
    UPDATE conversation_tags SET last_message_at = (
        SELECT c.last_message_at FROM conversations c WHERE c.id = new.conversation_id
    )
    WHERE conversation_id = new.conversation_id AND tag_id = new.tag_id;
END;

-- New activity moves every link of the conversation (a primary-key range: a few rows).
CREATE TRIGGER conversations_recent_tags AFTER UPDATE OF last_message_at ON conversations
WHEN new.last_message_at IS NOT old.last_message_at BEGIN
    UPDATE conversation_tags SET last_message_at = new.last_message_at
    WHERE conversation_id = new.id;
END;
