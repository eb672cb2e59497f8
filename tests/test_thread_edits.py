"""Split and merge (issue 15), as Store methods the console binds to X and M: what moves,
what later mail does, the history, and undo. Raw mail through the connector's mapping into
a real store; expectations read off the messages by hand."""

from __future__ import annotations

import pytest

from storage.store import Store
from tests.test_membership import ALICE, ALICE_FIRST, OUR_ANSWER, Mailbox, raw

NEW_TOPIC = raw(
    "<a2@customer.example>",
    ALICE,
    subject="Re: Invoice missing",
    in_reply_to="<s1@frontdesk.test>",
    date="Tue, 03 Mar 2026 09:00:00 +0000",
    body="Thanks! Another thing: my password reset mail never arrives.",
)
MORE = raw(
    "<a3@customer.example>",
    ALICE,
    subject="Re: Invoice missing",
    in_reply_to="<a2@customer.example>",
    date="Tue, 03 Mar 2026 10:00:00 +0000",
    body="Still no reset mail.",
)
LATER = raw(
    "<a4@customer.example>",
    ALICE,
    subject="Re: Invoice missing",
    in_reply_to="<a3@customer.example>",
    date="Tue, 03 Mar 2026 11:00:00 +0000",
)


def _status(store: Store, conversation_id: int) -> str:
    row = store.conn.execute("SELECT status FROM conversations WHERE id = ?", (conversation_id,))
    return str(row.fetchone()[0])


def _kinds(store: Store, conversation_id: int) -> list[str]:
    return [e.kind for e in store.detail(conversation_id).events]


@pytest.fixture
def box(store: Store) -> Mailbox:
    box = Mailbox(store)
    box.deliver(ALICE_FIRST)
    box.deliver(OUR_ANSWER, folder="Sent")
    box.deliver(NEW_TOPIC, MORE)
    return box


def test_split_moves_the_message_and_later_ones_and_later_mail_follows(
    box: Mailbox, store: Store
) -> None:
    source = box.conversation_of("<a1@customer.example>")
    assert box.conversation_of("<a3@customer.example>") == source
    edit = store.split_conversation(box.row("<a2@customer.example>")["id"], "Sam")

    new = box.conversation_of("<a2@customer.example>")
    assert new == edit.target != source
    assert box.remote_ids_in(source) == {"<a1@customer.example>", "<s1@frontdesk.test>"}
    assert box.remote_ids_in(new) == {"<a2@customer.example>", "<a3@customer.example>"}
    assert _status(store, source) == "pending"  # our answer is its last word now
    assert _status(store, new) == "open"  # Alice waits on the password question
    assert "split" in _kinds(store, source) and "split" in _kinds(store, new)
    # Her next mail (References naming a1, s1, a2, a3) goes where the agent put the topic.
    box.deliver(LATER)
    assert box.conversation_of("<a4@customer.example>") == new

    store.undo_thread_edit(edit, "Sam")
    assert box.remote_ids_in(source) == {
        "<a1@customer.example>",
        "<s1@frontdesk.test>",
        "<a2@customer.example>",
        "<a3@customer.example>",
        "<a4@customer.example>",
    }
    assert store.conn.execute("SELECT count(*) FROM thread_splits").fetchone()[0] == 0
    gone = store.conn.execute("SELECT count(*) FROM conversations WHERE id = ?", (new,))
    assert gone.fetchone()[0] == 0
    assert _status(store, source) == "open"
    assert "undone" in _kinds(store, source)


def test_the_first_message_cannot_be_split_off(box: Mailbox, store: Store) -> None:
    with pytest.raises(ValueError, match="first message"):
        store.split_conversation(box.row("<a1@customer.example>")["id"], "Sam")


def test_merge_two_conversations_of_one_contact_and_undo(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(ALICE_FIRST)
    box.deliver(
        raw(
            "<p1@customer.example>",
            ALICE,
            subject="Password reset",
            date="Wed, 04 Mar 2026 09:00:00 +0000",
        )
    )
    invoice = box.conversation_of("<a1@customer.example>")
    password = box.conversation_of("<p1@customer.example>")
    assert invoice != password
    store.close_conversation(invoice, "Sam")
    store.tag([password], "Sam", "login")

    edit = store.merge_conversations(password, invoice, "Sam")

    assert box.remote_ids_in(invoice) == {"<a1@customer.example>", "<p1@customer.example>"}
    assert box.remote_ids_in(password) == set()
    assert _status(store, invoice) == "open"  # the later message (Alice's) is unanswered
    assert _status(store, password) == "closed"
    assert "login" in {name for name, _ in store.detail(invoice).tags}
    merged = [e for e in store.detail(invoice).events if e.kind == "merged"]
    assert merged and merged[0].detail == {
        "from": password,
        "messages": [box.row("<p1@customer.example>")["id"]],
    }
    # Alice's reply to the password mail now lands in the merged conversation.
    box.deliver(
        raw(
            "<p2@customer.example>",
            ALICE,
            subject="Re: Password reset",
            in_reply_to="<p1@customer.example>",
            date="Wed, 04 Mar 2026 10:00:00 +0000",
        )
    )
    assert box.conversation_of("<p2@customer.example>") == invoice

    store.undo_thread_edit(edit, "Sam")
    assert box.remote_ids_in(password) == {"<p1@customer.example>"}
    assert _status(store, password) == "open" and _status(store, invoice) == "closed"
    assert "login" not in {name for name, _ in store.detail(invoice).tags}
    assert _kinds(store, password)[-1] == "undone"


def test_conversations_of_two_contacts_do_not_merge(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(ALICE_FIRST, raw("<b1@other.example>", "Bob <bob@other.example>"))
    with pytest.raises(ValueError, match="same contact"):
        store.merge_conversations(
            box.conversation_of("<b1@other.example>"),
            box.conversation_of("<a1@customer.example>"),
            "Sam",
        )
