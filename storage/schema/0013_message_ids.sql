-- The email Message-ID of an outbox reply, minted by the email connector and stored with the
-- reply's first claim, before SMTP sees the mail (issue 13/14, storage/message_ids.py). Every
-- later attempt (a retry, the resend after a crash) and the Sent-folder probe use this one.
ALTER TABLE outbox ADD COLUMN mail_id TEXT;
-- Email replies queued before this migration got their Message-ID when queued: keep it (an
-- in-flight one may have gone out with it).
UPDATE outbox SET mail_id = (SELECT m.remote_id FROM messages m WHERE m.id = outbox.message_id)
 WHERE account_id IN (SELECT id FROM accounts WHERE kind = 'imap');
