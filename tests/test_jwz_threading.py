"""JWZ-style threading (issue 15): replies to a message never stored join through the id they
share, a late parent merges the conversations its replies formed (and the merge is in the
history), junk ids and placeholder subjects join nothing, and the result does not depend on
the order the mail arrives in. The participant rule holds throughout.

Mail is raw RFC 5322 text (written here, or the real fixtures in tests/data/mail) mapped by
the connector and stored by the real store on SQLite files. The expected partitions are
written out by hand from the headers.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

from storage.store import Store
from tests.test_membership import ALICE, Mailbox, raw

LIST = "dev@lists.example"
CORPUS = Path(__file__).parent / "data" / "mail"


def list_mail(
    msgid: str,
    sender: str,
    *,
    in_reply_to: str | None = None,
    references: str | None = None,
    subject: str = "Re: Build fails on ARM",
    date: str = "Mon, 02 Mar 2026 09:30:00 +0000",
) -> bytes:
    """A mailing-list message as the list delivers it to our support address."""
    lines = [
        f"From: {sender}",
        f"To: {LIST}",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: {msgid}",
        "List-Id: Developers <dev.lists.example>",
    ]
    lines += [f"In-Reply-To: {in_reply_to}"] if in_reply_to else []
    lines += [f"References: {references}"] if references else []
    lines += ["Content-Type: text/plain; charset=utf-8", "", f"Text of {msgid}.", ""]
    return "\r\n".join(lines).encode()


# A list thread: P (root) <- Q <- R2, and P <- R1. R1 and R2 share no id unless Q is seen:
# R2's mailer wrote only In-Reply-To (no References), as many do.
P = list_mail("<p@a.example>", "Ann <ann@a.example>", subject="Build fails on ARM")
R1 = list_mail("<r1@b.example>", "Ben <ben@b.example>", in_reply_to="<p@a.example>")
Q = list_mail(
    "<q@c.example>",
    "Cat <cat@c.example>",
    in_reply_to="<p@a.example>",
    references="<p@a.example>",
)
R2 = list_mail("<r2@d.example>", "Dan <dan@d.example>", in_reply_to="<q@c.example>")
THREAD = [P, R1, Q, R2]


def partition(store: Store) -> set[frozenset[str]]:
    """Conversations as sets of messages; a message is named by its Message-ID, and by its
    fingerprint too when another message shares that id (which gets the plain key depends on
    which came first)."""
    rows = store.conn.execute(
        "SELECT conversation_id, CASE WHEN (SELECT count(*) FROM messages o"
        " WHERE o.thread_ref = m.thread_ref) > 1 THEN thread_ref || ' ' || fingerprint"
        " ELSE thread_ref END FROM messages m"
    ).fetchall()
    groups: dict[int, set[str]] = {}
    for conversation, remote_id in rows:
        groups.setdefault(conversation, set()).add(remote_id)
    return {frozenset(g) for g in groups.values()}


def test_replies_to_a_message_never_stored_join_through_it(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(R1)  # P never arrives
    box.deliver(
        list_mail(
            "<r3@e.example>",
            "Eli <eli@e.example>",
            in_reply_to="<p@a.example>",
            references="<p@a.example>",
        )
    )

    assert partition(store) == {frozenset({"<r1@b.example>", "<r3@e.example>"})}
    assert box.row("<r3@e.example>")["thread_reason"] == "refers to <p@a.example>"


def test_a_late_parent_merges_the_conversations_its_replies_formed(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(R1, R2)
    assert len(partition(store)) == 2  # nothing connects them yet
    r2_conversation = box.conversation_of("<r2@d.example>")

    box.deliver(Q)

    everyone = frozenset({"<r1@b.example>", "<r2@d.example>", "<q@c.example>"})
    assert partition(store) == {everyone}
    survivor = box.conversation_of("<q@c.example>")
    [(detail,)] = store.conn.execute(
        "SELECT detail FROM events WHERE conversation_id = ? AND kind = 'merged'", (survivor,)
    ).fetchall()
    merged = json.loads(detail)
    assert merged["from"] == r2_conversation
    assert merged["messages"] == [box.row("<r2@d.example>")["id"]]
    gone = store.conn.execute("SELECT count(*) FROM conversations WHERE id = ?", (r2_conversation,))
    assert gone.fetchone()[0] == 0


def test_every_delivery_order_gives_one_conversation(tmp_path: Path) -> None:
    orders = list(itertools.permutations(THREAD))
    for n, order in enumerate(orders):
        store = Store(tmp_path / f"{n}.db")
        try:
            Mailbox(store).deliver(*order)
            assert partition(store) == {
                frozenset({"<p@a.example>", "<r1@b.example>", "<q@c.example>", "<r2@d.example>"})
            }, [m.split(b"Message-ID: ")[1][:14] for m in order]
        finally:
            store.close()


def test_one_at_a_time_in_any_order_too(tmp_path: Path) -> None:
    # Separate syncs (one message per batch), as IDLE delivers them.
    for n, order in enumerate(itertools.permutations(THREAD)):
        store = Store(tmp_path / f"{n}.db")
        try:
            box = Mailbox(store)
            for message in order:
                box.deliver(message)
            assert len(partition(store)) == 1
        finally:
            store.close()


def test_junk_ids_join_nothing(store: Store) -> None:
    box = Mailbox(store)
    box.deliver(
        raw("<j1@customer.example>", ALICE, subject="Login broken", in_reply_to="<yes>"),
        raw(
            "<j2@customer.example>",
            ALICE,
            subject="Refund for order 99",
            in_reply_to="<yes>",
            date="Tue, 03 Mar 2026 09:30:00 +0000",
        ),
        raw(
            "<j3@customer.example>",
            ALICE,
            subject="New address",
            in_reply_to="<1234>",
            date="Wed, 04 Mar 2026 09:30:00 +0000",
        ),
    )

    assert len(partition(store)) == 3


def test_placeholder_subjects_join_nothing(store: Store) -> None:
    box = Mailbox(store)
    placeholders = ["...", "Subject Unavailable", "...", "Encrypted Message"]
    box.deliver(
        *(
            raw(f"<e{n}@customer.example>", ALICE, subject=s, date=f"0{n + 2} Mar 2026 09:30 +0000")
            for n, s in enumerate(placeholders)
        )
    )
    assert len(partition(store)) == len(placeholders)
    # A real subject still groups by the fallback.
    box.deliver(
        raw("<s1@customer.example>", ALICE, subject="Invoice missing"),
        raw("<s2@customer.example>", ALICE, subject="RE: Invoice missing"),
    )
    assert box.conversation_of("<s1@customer.example>") == box.conversation_of(
        "<s2@customer.example>"
    )


def test_a_shared_ghost_reference_never_lets_a_stranger_in(tmp_path: Path) -> None:
    # Eve quotes an id from Alice's thread that we never stored; Alice refers to it too.
    eve = raw(
        "<eve1@x.example>",
        "Eve <eve@x.example>",
        subject="Re: Invoice missing",
        in_reply_to="<a0@customer.example>",
    )
    eve_again = raw(
        "<eve2@x.example>",
        "Eve <eve@x.example>",
        subject="Re: Invoice missing",
        in_reply_to="<a0@customer.example>",
        date="Mon, 02 Mar 2026 12:00:00 +0000",
    )
    alice = [
        raw(
            f"<a{n}@customer.example>",
            ALICE,
            subject="Re: Invoice missing",
            in_reply_to="<a0@customer.example>" if n == 2 else f"<a{n - 1}@customer.example>",
            date=f"Mon, 02 Mar 2026 1{n}:30:00 +0000",
        )
        for n in (2, 3)
    ]
    for n, order in enumerate(itertools.permutations([eve, eve_again, *alice])):
        store = Store(tmp_path / f"{n}.db")
        try:
            Mailbox(store).deliver(*order)
            assert partition(store) == {
                frozenset({"<eve1@x.example>", "<eve2@x.example>"}),
                frozenset({"<a2@customer.example>", "<a3@customer.example>"}),
            }
        finally:
            store.close()


def _corpus() -> list[bytes]:
    return [path.read_bytes() for path in sorted(CORPUS.rglob("*.eml"))]


def test_the_real_corpus_threads_alike_in_shuffled_orders(tmp_path: Path) -> None:
    mails = _corpus()
    assert len(mails) > 100
    results = []
    for seed in range(12):
        order = mails[:]
        random.Random(seed).shuffle(order)
        store = Store(tmp_path / f"{seed}.db")
        try:
            Mailbox(store).deliver(*order)
            results.append(partition(store))
        finally:
            store.close()
    assert all(result == results[0] for result in results)
    # RFC 2822's examples 05-07 (John -> Mary -> John, Mary asking for replies elsewhere).
    hello = {"<1234@local.machine.example>", "<3456@example.net>", "<abcd.1234@local.machine.tld>"}
    assert any(hello <= {name.split()[0] for name in group} for group in results[0])
