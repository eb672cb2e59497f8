-- Issue 14: a Slack reply held because the customer deleted the question may be sent to the
-- customer as a direct message instead (the agent's choice; storage/held_replies.py).
ALTER TABLE outbox ADD COLUMN as_dm INTEGER NOT NULL DEFAULT 0;
