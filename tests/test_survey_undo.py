"""Undo of a close (`u`, console/actions.py) withdraws the survey it queued while the survey
has not started going out; one already sent stays, and the undo says so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from console.actions import Actions
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email


@pytest.fixture
def surveyed(db_path: Path) -> tuple[Store, Actions, int, int]:
    clock = FakeClock()
    store = Store(db_path, clock=clock)
    account = store.ensure_account("mail", "imap")
    store.use_surveys(
        SurveyPolicy({"standard": TierSurvey("How did we do?")}, {account: "help@ours.test"})
    )
    msg = email(account, "<q@x>", clock.now, who=customer("alice@example.com", "Alice"))
    conversation = store.ingest([msg])[0].conversation_id
    return store, Actions(store, "Sam", "sam@ours.test"), account, conversation


def _status(store: Store, conversation: int) -> str:
    row = store.conn.execute("SELECT status FROM conversations WHERE id = ?", (conversation,))
    return str(row.fetchone()[0])


def _undone(store: Store) -> dict[str, object]:
    row = store.conn.execute("SELECT detail FROM events WHERE kind = 'undone'").fetchone()
    return dict(json.loads(row[0]))


def _surveys(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0])


def test_undo_of_a_close_withdraws_the_queued_survey(
    surveyed: tuple[Store, Actions, int, int],
) -> None:
    store, actions, account, conversation = surveyed
    actions.close([conversation])
    [survey_mail] = store.due_outbox(account)
    assert "mailto:help@ours.test" in survey_mail.body

    assert actions.undo() == "close"

    assert _status(store, conversation) == "open"
    assert store.due_outbox(account) == []  # the sync will send nothing
    delivery = store.conn.execute(
        "SELECT delivery FROM messages WHERE id = ?", (survey_mail.message_id,)
    ).fetchone()[0]
    assert delivery == "cancelled"  # the thread shows it did not go
    assert _surveys(store) == 0  # nothing in reports, no cooldown held
    assert _undone(store) == {"action": "close", "surveys_withdrawn": 1}
    actions.close([conversation])  # closed again for real: surveyed again
    assert len(store.due_outbox(account)) == 1 and _surveys(store) == 1


def test_a_survey_already_sent_stays_and_the_undo_says_so(
    surveyed: tuple[Store, Actions, int, int],
) -> None:
    store, actions, account, conversation = surveyed
    actions.close([conversation])
    [survey_mail] = store.due_outbox(account)
    store.outbox_sent(survey_mail.id)

    actions.undo()

    assert _status(store, conversation) == "open"
    assert _surveys(store) == 1
    assert store.outbox_item(survey_mail.id).status == "sent"
    assert _undone(store) == {"action": "close", "surveys_already_sent": 1}


def test_undoing_another_action_leaves_an_earlier_survey_alone(
    surveyed: tuple[Store, Actions, int, int],
) -> None:
    store, actions, account, conversation = surveyed
    actions.close([conversation])
    actions.tag([conversation], "billing", on=True)
    actions.undo()
    assert _status(store, conversation) == "closed"
    assert len(store.due_outbox(account)) == 1 and _surveys(store) == 1
    assert _undone(store) == {"action": "tag billing"}


def test_a_reopen_or_the_customer_writing_again_withdraws_a_survey_not_sent(
    surveyed: tuple[Store, Actions, int, int],
) -> None:
    store, actions, account, conversation = surveyed
    actions.close([conversation])
    store.reopen(conversation, "Sam")  # `o`, not undo
    assert store.due_outbox(account) == [] and _surveys(store) == 0
    actions.close([conversation])
    [survey_mail] = store.due_outbox(account)
    again = email(account, "<q2@x>", store.clock(), who=customer("alice@example.com", "Alice"))
    store.ingest_mail([replace(again, parent_refs=("<q@x>",))])  # "one more thing..."
    assert _status(store, conversation) == "open"
    assert store.outbox_item(survey_mail.id).status == "cancelled" and _surveys(store) == 0
    whys = [
        json.loads(r[0])["why"]
        for r in store.conn.execute("SELECT detail FROM events WHERE kind = 'survey_withdrawn'")
    ]
    assert whys == ["reopened", "the customer wrote again"]
