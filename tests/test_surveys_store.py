"""Surveys in the store: queued on close through the outbox, answered once, cooldown."""

from __future__ import annotations

from pathlib import Path

from storage.models import IdentityRef, InboundMessage
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey

ALICE = IdentityRef("email", "alice@example.com", "Alice")


def _mail(
    account: int, rid: str, subject: str, at: float, who: IdentityRef = ALICE
) -> InboundMessage:
    return InboundMessage(
        account_id=account,
        remote_id=rid,
        channel="email",
        direction="in",
        author=who,
        customer=who,
        sent_at=at,
        text="great, thanks",
        subject=subject,
        thread_ref=rid,
    )


def _setup(tmp_path: Path) -> tuple[Store, list[float], int, int]:
    now = [1_000_000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    account = store.ensure_account("mail", "imap")
    store.use_surveys(
        SurveyPolicy({"standard": TierSurvey("How did we do?")}, {account: "help@ours.test"})
    )
    conv = store.ingest([_mail(account, "<1@x>", "Help", now[0])])[0].conversation_id
    return store, now, account, conv


def test_close_queues_survey_and_one_click_answer_is_recorded(tmp_path: Path) -> None:
    store, now, account, conv = _setup(tmp_path)
    store.close_conversation(conv, "Sam")
    token = store.conn.execute("SELECT token FROM surveys").fetchone()[0]
    body = store.due_outbox(account)[0].body
    assert body.count("mailto:help@ours.test?subject=Rating%20") == 5
    assert f"Rating%204%20%5Bfd-{token}%5D" in body
    before = store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
    store.ingest_mail([_mail(account, "<2@x>", f"Rating 4 [fd-{token}]", now[0])])
    assert store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == before
    assert tuple(store.conn.execute("SELECT rating, comment FROM surveys").fetchone()) == (
        4,
        "great, thanks",
    )
    # reused token (another mail): ignored, filed as a conversation, noted
    store.ingest_mail([_mail(account, "<3@x>", f"Rating 1 [fd-{token}]", now[0])])
    assert store.conn.execute("SELECT rating FROM surveys").fetchone()[0] == 4
    assert store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == before + 1


def test_forged_token_and_cooldown(tmp_path: Path) -> None:
    store, now, account, conv = _setup(tmp_path)
    store.ingest_mail([_mail(account, "<9@x>", "Rating 5 [fd-AAAAAAAAAAAAAAAAAAAAAAAA]", now[0])])
    kinds = [r[0] for r in store.conn.execute("SELECT kind FROM events")]
    assert "survey_answer_ignored" in kinds
    store.close_conversation(conv, "Sam")
    other = store.ingest([_mail(account, "<5@x>", "Other", now[0] + 10)])[0].conversation_id
    now[0] += 13 * 86400
    store.close_conversation(other, "Sam")
    assert store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0] == 1
    third = store.ingest([_mail(account, "<6@x>", "Third", now[0])])[0].conversation_id
    now[0] += 2 * 86400
    store.close_conversation(third, "Sam")
    assert store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0] == 2


def test_no_survey_after_spam_or_to_a_no_survey_contact(tmp_path: Path) -> None:
    store, now, account, conv = _setup(tmp_path)
    store.tag([conv], "Sam", "spam")
    store.close_conversation(conv, "Sam")
    other = store.ingest([_mail(account, "<7@x>", "Other", now[0] + 5)])[0].conversation_id
    store.tag([other], "Sam", "no-survey")
    store.close_conversation(other, "Sam")
    assert store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0] == 0
    assert store.due_outbox(account) == []
    reasons = [
        r[0] for r in store.conn.execute("SELECT detail FROM events WHERE kind = 'survey_skipped'")
    ]
    assert len(reasons) == 2


def test_a_history_import_closes_without_surveying(tmp_path: Path) -> None:
    # A first sync imports old threads closed (storage/history.py): no resolution of ours,
    # so no survey to every past customer.
    now = [1_000_000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    account = store.ensure_account("mail", "imap")
    store.use_surveys(
        SurveyPolicy({"standard": TierSurvey("How did we do?")}, {account: "help@ours.test"})
    )
    old = _mail(account, "<old@x>", "Old question", now[0] - 90 * 86400)
    checkpoint = (account, "INBOX", {"uidvalidity": 1, "last_uid": 1})
    [result] = store.ingest_history([old], checkpoint=checkpoint, horizon=now[0] - 30 * 86400)
    status = store.conn.execute(
        "SELECT status FROM conversations WHERE id = ?", (result.conversation_id,)
    ).fetchone()[0]
    assert status == "closed"
    assert store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0] == 0
    assert store.due_outbox(account) == []
