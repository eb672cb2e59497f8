"""A canned reply with `{{ survey }}` (issue 21): the reply carries the tier's question and five
rating links in place of the mark, and a click on one is recorded like any survey answer;
without a survey to give (cooldown) the mark is removed and the reason noted; undo send and a
cancelled follow-up batch take the survey back with the reply."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from console import canned
from console.actions import send_reply
from storage.models import CannedReply
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email

ALICE = customer("alice@example.com", "Alice Martin")
BODY = "Hi {{ contact.first_name }}, the refund is on its way.\n\n{{ survey }}\n\nSam"
DAY = 86400.0


@pytest.fixture
def desk(db_path: Path) -> tuple[Store, FakeClock, int, int]:
    clock = FakeClock()
    store = Store(db_path, clock=clock)
    account = store.ensure_account("mail", "imap")
    tiers = {"standard": TierSurvey("How did we do?")}
    store.use_surveys(SurveyPolicy(tiers, {account: "help@ours.test"}))
    conversation = store.ingest([email(account, "<q@x>", clock.now, who=ALICE)])[0]
    return store, clock, account, conversation.conversation_id


def _send(store: Store, conversation: int, *, delay: float = 0.0) -> int:
    values = canned.variables(store.detail(conversation), "Sam", "sam@ours.test")
    text = canned.render("Refund done", BODY, values)
    assert canned.SURVEY_MARK in text  # what the agent sees in the composer
    if delay:
        return store.queue_reply(
            conversation, "Sam", text, remote_id="<r@x>", send_delay=delay,
            survey_at=canned.SURVEY_MARK,
        )  # fmt: skip
    return send_reply(store, conversation, agent_name="Sam", agent_email="sam@ours.test", text=text)


def _text(store: Store, message_id: int) -> str:
    row = store.conn.execute("SELECT text FROM messages WHERE id = ?", (message_id,))
    return str(row.fetchone()[0])


def _surveys(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0])


def test_the_reply_carries_the_links_and_a_click_is_recorded(
    desk: tuple[Store, FakeClock, int, int],
) -> None:
    store, clock, account, conversation = desk
    reply = _send(store, conversation)
    text = _text(store, reply)
    lines = text.splitlines()
    assert lines[:3] == ["Hi Alice, the refund is on its way.", "", "How did we do?"]
    assert lines[-2:] == ["", "Sam"]
    assert canned.SURVEY_MARK not in text and text.count("mailto:help@ours.test") == 5
    [outgoing] = store.due_outbox(account)
    assert outgoing.body == text  # what goes out is what the thread shows
    subject = unquote(re.findall(r"subject=(\S+)", text)[4])  # "Rating 5 [fd-...]"
    store.ingest_mail([email(account, "<a@x>", clock.now, who=ALICE, subject=subject)])
    rating = store.latest_rating(conversation)
    assert rating is not None and (rating.kind, rating.rating) == ("csat", 5)
    assert store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1


def test_within_the_cooldown_the_mark_is_removed_and_the_reason_noted(
    desk: tuple[Store, FakeClock, int, int],
) -> None:
    store, clock, account, conversation = desk
    store.close_conversation(conversation, "Sam")  # surveyed now
    clock.advance(DAY)
    other = store.ingest([email(account, "<q2@x>", clock.now, who=ALICE, subject="Other")])[0]
    reply = _send(store, other.conversation_id)
    assert _text(store, reply) == "Hi Alice, the refund is on its way.\n\n\n\nSam"
    assert _surveys(store) == 1
    detail = store.conn.execute(
        "SELECT detail FROM events WHERE kind = 'survey_skipped' AND conversation_id = ?",
        (other.conversation_id,),
    ).fetchone()[0]
    assert json.loads(detail) == {
        "reason": "the contact was surveyed within the cooldown",
        "in_reply": True,
    }


def test_undo_send_takes_the_survey_back(desk: tuple[Store, FakeClock, int, int]) -> None:
    store, _, _, conversation = desk
    reply = _send(store, conversation, delay=30)
    assert _surveys(store) == 1
    assert store.take_back(reply, "Sam") is not None
    assert _surveys(store) == 0  # no survey counted, no cooldown held


def test_a_cancelled_follow_up_batch_takes_its_surveys_back(
    desk: tuple[Store, FakeClock, int, int],
) -> None:
    from console.followup import queue_batch, render_batch

    store, _, _, conversation = desk
    reply = CannedReply(0, "Refund done", None, "", BODY, "config")
    rendered, blocked = render_batch(store, [conversation], reply, "Sam", "sam@ours.test")
    assert blocked == []
    batch = queue_batch(
        store, rendered, agent_name="Sam", agent_email="sam@ours.test", tag=None, close=False
    )
    assert _surveys(store) == 1
    assert store.cancel_batch(batch.id, "Sam") == 1
    assert _surveys(store) == 0


def test_check_config_knows_the_variable() -> None:
    canned.check("Refund done", BODY)  # no "not a known variable"
    with pytest.raises(canned.TemplateProblem, match="survey"):
        canned.check("Typo", "{{ surveys }}")


def test_the_customer_writing_again_leaves_a_reply_with_links_queued(
    desk: tuple[Store, FakeClock, int, int],
) -> None:
    store, clock, account, conversation = desk
    reply = _send(store, conversation)
    again = email(account, "<q2@x>", clock.now, who=ALICE, parents=("<q@x>",))
    store.ingest_mail([again])
    [outgoing] = store.due_outbox(account)
    assert outgoing.message_id == reply and _surveys(store) == 1
