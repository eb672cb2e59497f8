"""IMAP on the wire: a session (aioimaplib) and the pure response parsing it needs."""
