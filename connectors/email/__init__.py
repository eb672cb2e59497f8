"""The email channel: IMAP in, SMTP out (see connector.py). Import from the modules."""
