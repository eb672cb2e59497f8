"""Migration 0007 on a store that already holds mail: the links and participants of stored
conversations are rebuilt, and our own address (the author of what we sent) is never made a
participant, so a forged "from us" cannot join an old conversation either."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from storage.db import _statements, migrations
from storage.store import Store
from tests.test_membership import SUPPORT, Mailbox, raw

ALICE = "alice@customer.example"


def _old_store(path: Path) -> None:
    """A store at schema 5 with Alice's question (Bob on Cc) and our answer, as the old
    ingest wrote them."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in migrations():
        if number <= 5:
            for statement in _statements(script):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    conn.executescript(
        f"""
        INSERT INTO accounts VALUES (1, 'support-mail', 'imap', 0);
        INSERT INTO contacts (id, name, created_at) VALUES (1, 'Alice', 0), (2, 'Support', 0);
        INSERT INTO identities VALUES (1, 1, 'email', '{ALICE}', 'Alice', 1),
                                      (2, 2, 'email', '{SUPPORT}', 'Support', 2);
        INSERT INTO conversations (id, account_id, channel, subject, contact_id, status,
            last_message_at, created_at, group_key, queue_key)
            VALUES (1, 1, 'email', 'Invoice missing', 1, 'pending', 200, 100,
                    'invoice missing', 0);
        """
    )
    rows = [
        (
            1,
            "<a1@customer.example>",
            "in",
            1,
            1772443800.0,
            {
                "to": [["", SUPPORT]],
                "cc": [["Bob", "bob@customer.example"]],
                "references": [],
                "in_reply_to": None,
            },
        ),
        (
            2,
            "<s1@frontdesk.test>",
            "out",
            2,
            1772445600.0,
            {
                "to": [["Alice", ALICE]],
                "references": ["<a1@customer.example>"],
                "in_reply_to": "<a1@customer.example>",
            },
        ),
    ]
    for id_, remote, direction, author, at, headers in rows:
        conn.execute(
            "INSERT INTO messages (id, conversation_id, account_id, remote_id, thread_ref,"
            " direction, author_identity_id, sent_at, headers, thread_reason, created_at)"
            " VALUES (?, 1, 1, ?, ?, ?, ?, ?, ?, 'new conversation', 0)",
            (id_, remote, remote, direction, author, at, json.dumps(headers)),
        )
    conn.close()


def test_old_conversations_keep_their_members_and_keep_forgers_out(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _old_store(db)
    store = Store(db)
    try:
        participants = {
            r[0] for r in store.conn.execute("SELECT address FROM conversation_participants")
        }
        assert participants == {ALICE, "bob@customer.example"}
        box = Mailbox(store)
        box.deliver(
            raw(
                "<b2@customer.example>",
                "Bob <bob@customer.example>",
                subject="Re: Invoice missing",
                in_reply_to="<s1@frontdesk.test>",
                date="Mon, 02 Mar 2026 11:00:00 +0000",
            ),
            raw(
                "<z1@x.example>",
                f"Support <{SUPPORT}>",
                subject="Re: Invoice missing",
                in_reply_to="<a1@customer.example>",
                date="Mon, 02 Mar 2026 11:30:00 +0000",
            ),
        )
        assert box.conversation_of("<b2@customer.example>") == 1
        assert box.row("<z1@x.example>")["refers_to"] == 1
    finally:
        store.close()
