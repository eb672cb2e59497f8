"""The console's eight queue views (keys 1-8): their names, which conversations each holds and in
what order, the columns of a row, jumps by offset, and a tag's view when two tags differ only in
case. Oracles by hand from the story below (who wrote when, what the agent did).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import queue
from storage.models import IdentityRef, QueueRow
from storage.policy import SimplePolicy
from storage.queue import View
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

HOUR = 3600.0
T = 1_800_000_000.0
ME = "sam@x.test"
POLICY = SimplePolicy(first_response={"standard": 4 * HOUR})


@pytest.fixture
def story(db_path: Path, clock: FakeClock) -> tuple[Store, dict[str, int]]:
    """Ann (T), Ben (T+1 min, assigned to me, read) and Cat (T+2 min, on Slack) wait for a reply;
    Dan (T+3) got one and is pending; Eve, Fay and Gus (T+4..6) are snoozed until T+3h, +1h and
    +2h; Hal and Ivy (T+7, T+8) are closed. Ann is tagged vip and billing, Cat "on hold"."""
    store = Store(db_path, clock=clock, policy=POLICY)
    clock.now = T
    mail = store.ensure_account("mail", "imap")
    slack = store.ensure_account("slack", "slack")
    ids: dict[str, int] = {}
    for minute, name in enumerate(("Ann", "Ben", "Cat", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy")):
        if name == "Cat":
            who = IdentityRef("slack", "U3", "Cat")
            message = email(slack, "1.000300", T + 120, who=who, channel="slack", subject="Hi")
        else:
            who = customer(f"{name.lower()}@example.com", name)
            message = email(mail, f"<{name}@x>", T + 60 * minute, who=who, subject=f"Q {name}")
        ids[name] = store.ingest([message])[0].conversation_id
    clock.now = T + 600
    store.assign(ids["Ben"], "Lead", ME)
    store.mark_read(ids["Ben"])
    store.queue_reply(ids["Dan"], "Sam", "On it", remote_id="<r-dan@x>")
    for name, hours in (("Eve", 3), ("Fay", 1), ("Gus", 2)):
        store.snooze(ids[name], "Sam", T + hours * HOUR)
    for name in ("Hal", "Ivy"):
        store.close_conversation(ids[name], "Sam")
    store.ensure_tag("vip", "magenta")
    store.tag([ids["Ann"]], "Sam", "vip")
    store.tag([ids["Ann"]], "Sam", "billing")
    store.tag([ids["Cat"]], "Sam", "on hold")
    return store, ids


def names(store: Store, view: View) -> list[str]:
    return [r.contact_name for r in store.page(view)]


def test_the_eight_views_hold_their_conversations_in_their_order(
    story: tuple[Store, dict[str, int]],
) -> None:
    store, _ = story
    expected = [
        ("needs reply", ["Ann", "Ben", "Cat"]),  # longest waiting first
        ("mine", ["Ben"]),
        ("unassigned", ["Ann", "Cat"]),
        ("pending", ["Dan"]),
        ("snoozed", ["Fay", "Gus", "Eve"]),  # soonest to wake first, not who wrote first
        ("closed", ["Ivy", "Hal"]),  # latest activity first
        ("email", ["Ann", "Ben"]),
        ("slack", ["Cat"]),
    ]
    views = queue.standard_views(ME)
    assert [(v.name, names(store, v)) for v in views] == expected
    assert [store.count(v) for v in views] == [len(rows) for _, rows in expected]


def test_a_row_carries_what_the_queue_line_shows(story: tuple[Store, dict[str, int]]) -> None:
    store, ids = story
    ann, ben = store.page(queue.needs_reply())[:2]
    due = T + 4 * HOUR  # Ann wrote at T; the standard tier answers within 4 h
    assert ann == QueueRow(
        id=ids["Ann"],
        channel="email",
        contact_name="Ann",
        tier="standard",
        subject="Q Ann",
        tags=(("billing", "cyan"), ("vip", "magenta")),
        status="open",
        assignee=None,
        waiting_since=T,
        sla_due_at=due,
        last_message_at=T,
        unread=True,
        woken=False,
        queue_key=due,
        sort_key=due,
    )
    assert (ben.assignee, ben.unread, ben.last_message_at, ben.waiting_since) == (
        ME,
        False,
        T + 60,
        T + 60,
    )
    [cat] = store.page(queue.by_channel("slack"))
    assert (cat.channel, cat.subject, cat.tags) == ("slack", "Hi", (("on hold", "cyan"),))


def test_jumps_by_offset_from_either_end(story: tuple[Store, dict[str, int]]) -> None:
    store, _ = story
    view = queue.needs_reply()
    assert [r.contact_name for r in store.page_at(view, 0, 2)] == ["Ann", "Ben"]
    assert [r.contact_name for r in store.page_at(view, 1, 5)] == ["Ben", "Cat"]
    assert [r.contact_name for r in store.page_at(view, -1, 5)] == ["Cat"]
    assert [r.contact_name for r in store.page_at(view, -2, 5)] == ["Ben", "Cat"]
    closed = queue.by_status("closed")
    assert [r.contact_name for r in store.page_at(closed, 0, 5)] == ["Ivy", "Hal"]


def test_a_tag_view_takes_both_spellings_of_a_tag(story: tuple[Store, dict[str, int]]) -> None:
    store, ids = story
    view = queue.by_tag("billing")
    assert view.name == "#billing"
    assert names(store, view) == ["Ann"]
    store.tag([ids["Ben"]], "Sam", "Billing")  # another tag, the same name but for case
    assert names(store, view) == ["Ben", "Ann"] and store.count(view) == 2


def test_a_view_of_chosen_ids_lists_newest_activity_first(
    story: tuple[Store, dict[str, int]],
) -> None:
    store, _ = story
    subject_like = "SELECT id FROM conversations WHERE subject LIKE ?"
    # LIKE ignores case: Ann, Dan, Fay and Hal. Dan's latest activity is our reply at T+10 min.
    view = queue.by_ids("found", subject_like, ("Q %a%",))
    assert view.name == "found"
    assert names(store, view) == ["Dan", "Hal", "Fay", "Ann"]


def test_only_a_newest_first_view_can_read_a_tag_s_recency_index() -> None:
    # The tag's index is ordered by last activity, newest first: a view in another order would
    # come back in the index's order, so it is refused.
    with pytest.raises(AssertionError):
        queue.tag_driven(View("x", "1", key="queue_key", order="desc"), "vip")
    with pytest.raises(AssertionError):
        queue.tag_driven(View("x", "1", key="last_message_at", order="asc"), "vip")
