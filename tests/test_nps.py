"""NPS for key accounts (issue 21) on a fake clock: who is asked and when (cadence, cooldown,
open conversations, no-survey), the 0-10 answer, a detractor back in their agent's queue, and
NPS in the report metrics (promoters minus detractors, hand-computed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from storage import metrics
from storage.metrics import Period
from storage.models import IdentityRef
from storage.nps import NpsPolicy
from storage.policy import SimplePolicy
from storage.queue import needs_reply
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email

DAY = 86400.0
POLICY = SimplePolicy(by_domain={"big.com": "advanced"})
NPS = NpsPolicy({"advanced": 90 * DAY}, "Would you recommend us?", "A quick question")
BOSS = customer("boss@big.com", "Big Boss")
ERIN = customer("erin@big.com", "Erin Key")
ALICE = customer("alice@example.com", "Alice")  # standard: never asked for an NPS


@dataclass
class Desk:
    store: Store
    clock: FakeClock
    account: int
    surveys: SurveyPolicy

    def ask(self) -> list[int]:
        return self.store.ask_nps(NPS, self.surveys, lambda name, _: f"Hi {name.split()[0]},")

    def resolved(self, who: IdentityRef, rid: str, agent: str | None = None) -> int:
        """A conversation of `who`, answered and closed by now."""
        msg = email(self.account, rid, self.clock.now, who=who, subject=f"About {rid}")
        conversation = self.store.ingest([msg])[0].conversation_id
        if agent:
            self.store.assign(conversation, "Lead", agent)
        self.store.close_conversation(conversation, "Sam", survey=False)
        return conversation

    def survey_mail(self, conversation: int) -> str:
        row = self.store.conn.execute(
            "SELECT m.text FROM messages m JOIN surveys s ON s.message_id = m.id"
            " WHERE s.conversation_id = ?",
            (conversation,),
        ).fetchone()
        return str(row[0])

    def click(self, conversation: int, who: IdentityRef, rating: int, comment: str) -> None:
        """The customer clicks the link for `rating` (its subject taken from the mail)."""
        links = re.findall(r"subject=(\S+)", self.survey_mail(conversation))
        subject = next(unquote(s) for s in links if unquote(s).startswith(f"Rating {rating} "))
        rid = f"<ans-{conversation}-{rating}@x>"
        msg = email(self.account, rid, self.clock.now, who=who, subject=subject, text=comment)
        self.store.ingest_mail([msg])


@pytest.fixture
def desk(db_path: Path) -> Desk:
    clock = FakeClock()
    store = Store(db_path, clock=clock, policy=POLICY)
    account = store.ensure_account("mail", "imap")
    tiers = {"standard": TierSurvey("How did we do?")}
    return Desk(store, clock, account, SurveyPolicy(tiers, {account: "help@ours.test"}))


def _row(store: Store, conversation: int) -> tuple[str, str | None, str]:
    row = store.conn.execute(
        "SELECT status, assignee, subject FROM conversations WHERE id = ?", (conversation,)
    ).fetchone()
    return str(row[0]), row[1], str(row[2])


def test_a_key_account_is_asked_once_per_interval_with_eleven_links(desk: Desk) -> None:
    desk.resolved(BOSS, "<b1@x>", agent="kim@example.com")
    desk.resolved(ALICE, "<a1@x>")
    [asked] = desk.ask()
    assert _row(desk.store, asked) == ("closed", "kim@example.com", "A quick question")
    text = desk.survey_mail(asked)
    assert text.startswith("Hi Big,\n\nWould you recommend us?\n")
    subjects = [unquote(s) for s in re.findall(r"subject=(\S+)", text)]
    assert [s.split()[1] for s in subjects] == [str(n) for n in range(11)]  # 0 to 10
    [outgoing] = desk.store.due_outbox(desk.account)
    assert outgoing.conversation_id == asked
    assert desk.ask() == []  # a second pass asks no one
    desk.clock.advance(89 * DAY)
    desk.resolved(BOSS, "<b2@x>")  # keeps in touch; still not due
    assert desk.ask() == []
    desk.clock.advance(2 * DAY)
    assert len(desk.ask()) == 1  # 91 days on: asked again


def test_no_one_is_asked_while_a_conversation_is_open_tagged_or_in_cooldown(
    desk: Desk,
) -> None:
    # Boss has an open conversation; Erin is tagged no-survey; a third key account got a CSAT
    # survey 10 days ago (cooldown 14 days).
    desk.store.ingest([email(desk.account, "<b1@x>", desk.clock.now, who=BOSS)])
    tagged = desk.resolved(ERIN, "<e1@x>")
    desk.store.tag([tagged], "Sam", "no-survey")
    carl = customer("carl@big.com", "Carl")
    desk.store.use_surveys(
        SurveyPolicy({"advanced": TierSurvey("How did we do?")}, desk.surveys.addresses)
    )
    carl_first = desk.store.ingest([email(desk.account, "<c1@x>", desk.clock.now, who=carl)])
    desk.store.close_conversation(carl_first[0].conversation_id, "Sam")  # a CSAT survey
    desk.clock.advance(10 * DAY)
    assert desk.ask() == []
    desk.clock.advance(5 * DAY)
    [carl_asked] = desk.ask()
    assert desk.survey_mail(carl_asked).count("mailto:") == 11


def test_a_detractor_reopens_in_their_agents_queue_a_promoter_is_recorded(
    desk: Desk,
) -> None:
    desk.resolved(BOSS, "<b1@x>", agent="kim@example.com")
    desk.resolved(ERIN, "<e1@x>")
    boss_nps, erin_nps = desk.ask()
    desk.clock.advance(3600)
    desk.click(erin_nps, ERIN, 10, "Love it")
    desk.click(boss_nps, BOSS, 0, "Invoices are a mess")

    assert _row(desk.store, erin_nps)[0] == "closed"
    status, assignee, _ = _row(desk.store, boss_nps)
    assert (status, assignee) == ("open", "kim@example.com")
    waiting = [row.id for row in desk.store.page(needs_reply())]
    assert waiting == [boss_nps]
    note = desk.store.conn.execute(
        "SELECT text FROM messages WHERE conversation_id = ? AND direction = 'note'",
        (boss_nps,),
    ).fetchone()[0]
    assert "NPS answer 0/10, a detractor" in note and "Invoices are a mess" in note
    conversations = desk.store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
    assert conversations == 4  # the answers filed nothing of their own


def test_an_answer_off_the_scale_is_ignored(desk: Desk) -> None:
    desk.resolved(BOSS, "<b1@x>")
    [asked] = desk.ask()
    token = re.search(r"fd-([A-Za-z0-9_-]+)", unquote(desk.survey_mail(asked)))
    assert token is not None
    subject = f"Rating 11 [fd-{token.group(1)}]"
    desk.store.ingest_mail(
        [email(desk.account, "<x@x>", desk.clock.now, who=BOSS, subject=subject)]
    )
    reason = desk.store.conn.execute(
        "SELECT json_extract(detail, '$.reason') FROM events WHERE kind = 'survey_answer_ignored'"
    ).fetchone()[0]
    assert reason == "no rating from 0 to 10"


def test_nps_in_the_report(desk: Desk) -> None:
    people = [customer(f"p{n}@big.com", f"P{n}") for n in range(5)]
    for n, who in enumerate(people):
        desk.resolved(who, f"<p{n}@x>")
    asked = desk.ask()
    desk.clock.advance(3600)
    for conversation, who, rating in zip(asked, people, [10, 9, 7, 3, 6], strict=False):
        desk.click(conversation, who, rating, "")
    # 5 answers: promoters 10, 9; passive 7; detractors 3, 6 -> (2 - 2) / 5 = 0
    now = desk.clock.now
    total = metrics.report(desk.store.conn, Period(now - DAY, now), "tier", POLICY, now).total
    assert (total.nps_answers, total.nps_promoters, total.nps_detractors) == (5, 2, 2)
    assert total.nps == 0.0
    desk.click(asked[4], people[4], 10, "")  # a second answer: ignored, the 6 stands
    again = metrics.report(desk.store.conn, Period(now - DAY, now), "all", POLICY, now).total
    assert again.nps == 0.0
