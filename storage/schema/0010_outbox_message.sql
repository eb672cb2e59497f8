-- `frontdesk show/export` read each reply's delivery from its outbox item: find it by message.
CREATE INDEX outbox_message ON outbox(message_id);
