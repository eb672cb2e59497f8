"""Store promises no other test pinned down, each checked against a hand-computed oracle and
each shown to fail on the small plausible bug named in its docstring (issue 22's table):

- keyset pages walk the whole view when many rows share a sort key;
- a late (older) message changes no status;
- first-contact resolution per tier ignores a conversation closed with no reply.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import metrics, queue
from storage.metrics import Period
from storage.models import QueueRow
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.test_metrics import DAY, HOUR, POLICY, T0

# ---- keyset pages over equal sort keys ----------------------------------------------------

SAME_TIME = T0


def _many_at_once(store: Store, n: int) -> list[int]:
    """`n` customers who all wrote at the same second: equal `queue_key`, equal
    `last_message_at`, so only the id orders them."""
    account = store.ensure_account("mail", "imap")
    messages = [
        email(account, f"<same-{i}@x>", SAME_TIME, who=customer(f"c{i}@example.com", f"C {i}"))
        for i in range(n)
    ]
    return [r.conversation_id for r in store.ingest(messages)]


def _walk(store: Store, view: queue.View, *, limit: int) -> list[int]:
    seen: list[int] = []
    rows: list[QueueRow] = store.page(view, limit=limit)
    while rows:
        seen += [r.id for r in rows]
        assert len(seen) <= 100, "the walk does not end"
        rows = store.page(view, after=queue.cursor_of(rows[-1]), limit=limit)
    return seen


def _walk_back(store: Store, view: queue.View, *, limit: int) -> list[int]:
    rows = store.page_at(view, -limit, limit)
    seen = [r.id for r in rows]
    while rows:
        rows = store.page(view, before=queue.cursor_of(rows[0]), limit=limit)
        seen = [r.id for r in rows] + seen
        assert len(seen) <= 100, "the walk does not end"
    return seen


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_over_equal_sort_keys_visit_every_conversation_once(store: Store, limit: int) -> None:
    """Mutant killed: the id tie-break dropped from the cursor (`(key) > (?)`): the walk stops
    after the first page, since every other row has the same key."""
    ids = _many_at_once(store, 7)
    assert len({r.sort_key for r in store.page(queue.needs_reply(), limit=50)}) == 1
    # needs reply: ascending (key, id); equal keys, so ids ascending
    assert _walk(store, queue.needs_reply(), limit=limit) == sorted(ids)
    assert _walk_back(store, queue.needs_reply(), limit=limit) == sorted(ids)
    # open, newest first: descending (key, id); equal keys, so ids descending
    assert _walk(store, queue.by_status("open"), limit=limit) == sorted(ids, reverse=True)


# ---- a late, older message ----------------------------------------------------------------


def test_a_late_older_customer_message_changes_no_status(store: Store, clock: FakeClock) -> None:
    """Mutant killed: the `msg.sent_at < state.last_message_at` guard of ingest removed: the
    old message reopens a replied (pending) conversation and restarts its waiting clock."""
    account = store.ensure_account("mail", "imap")
    first = email(account, "<q1@x>", T0)
    cid = store.ingest([first])[0].conversation_id
    store.ingest([email(account, "<r1@x>", T0 + 2 * HOUR, direction="out", parents=("<q1@x>",))])
    # It reaches us only now, but was written between the question and the answer.
    clock.advance(3 * HOUR)
    late = email(account, "<q2@x>", T0 + HOUR, parents=("<q1@x>",))
    assert store.ingest([late])[0].conversation_id == cid

    conversation = store.detail(cid).conversation
    assert conversation.status == "pending"
    assert conversation.waiting_since is None
    assert conversation.last_message_at == T0 + 2 * HOUR
    assert store.count(queue.needs_reply()) == 0
    assert len(store.detail(cid).messages) == 3  # stored all the same


def test_a_late_older_message_does_not_reopen_a_closed_conversation(
    store: Store, clock: FakeClock
) -> None:
    account = store.ensure_account("mail", "imap")
    cid = store.ingest([email(account, "<q1@x>", T0)])[0].conversation_id
    clock.now = T0 + HOUR
    store.close_conversation(cid, "Sam")
    clock.now = T0 + 2 * HOUR
    # written an hour before the question, delivered after the close
    store.ingest([email(account, "<q0@x>", T0 - HOUR, parents=("<q1@x>",))])

    detail = store.detail(cid)
    assert detail.conversation.status == "closed"
    assert [e.kind for e in detail.events if e.kind in ("reopened", "woken")] == []


# ---- first-contact resolution per tier ----------------------------------------------------


def test_fcr_per_tier_counts_only_conversations_closed_after_a_reply(db_path: Path) -> None:
    """Hand-computed: standard has S1 (one reply, closed: FCR), S2 (two replies: not FCR) and
    S3 (closed with no reply: not a contact resolution at all, in neither count): 1 of 2.
    Advanced (big.com) has A1 (one reply, closed: FCR) and A2 (closed unanswered): 1 of 1.

    Mutant killed: "closed with no reply" counted (`replies >= 1` / `replies = 1` loosened to
    every first close): standard would read 2 of 3 and advanced 2 of 2."""
    clock = FakeClock(T0)
    store = Store(db_path, clock=clock, policy=POLICY)
    try:
        account = store.ensure_account("mail", "imap")
        people = {
            "S1": customer("s1@example.com", "S One"),
            "S2": customer("s2@example.com", "S Two"),
            "S3": customer("s3@example.com", "S Three"),
            "A1": customer("a1@big.com", "A One"),
            "A2": customer("a2@big.com", "A Two"),
        }
        ids: dict[str, int] = {}
        for n, (name, who) in enumerate(people.items()):
            clock.now = T0 + n * HOUR
            msg = email(account, f"<{name}@x>", clock.now, who=who, subject=f"Case {name}")
            ids[name] = store.ingest([msg])[0].conversation_id

        def reply(name: str, at: float, *, close: bool) -> None:
            clock.now = at
            remote = f"<reply-{name}-{at}@x>"
            store.queue_reply(ids[name], "Sam", "Answer", remote_id=remote, close=close)

        reply("S1", T0 + 6 * HOUR, close=True)
        reply("S2", T0 + 6 * HOUR, close=False)
        reply("S2", T0 + 7 * HOUR, close=True)
        reply("A1", T0 + 6 * HOUR, close=True)
        for name in ("S3", "A2"):
            clock.now = T0 + 8 * HOUR
            store.close_conversation(ids[name], "Sam")

        now = T0 + 2 * DAY
        report = metrics.report(store.conn, Period(T0, now), "tier", POLICY, now)
        fcr = {s.key: (s.fcr_resolved, s.fcr_total) for s in report.slices}
        assert fcr == {"standard": (1, 2), "advanced": (1, 1)}
        assert (report.total.fcr_resolved, report.total.fcr_total) == (2, 3)
    finally:
        store.close()
