"""CSAT, CES and survey response rates in the report metrics, on a hand-computed week; the
survey mails themselves never count as agent replies (response times, FCR)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import metrics
from storage.metrics import Distribution, Period
from storage.models import IdentityRef
from storage.policy import SimplePolicy
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email

MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR
T0 = 1_800_000_000.0  # Friday 15 January 2027, 08:00 UTC
NOW = T0 + 7 * DAY
WEEK = Period(T0, NOW)
POLICY = SimplePolicy(by_domain={"big.com": "advanced"})
SURVEYS = {"standard": TierSurvey("How did we do?"), "advanced": TierSurvey("Easy?", "ces")}


@dataclass
class Week:
    store: Store
    clock: FakeClock
    account: int
    ids: dict[str, int]


def _ask(week: Week, name: str, at: float, who: IdentityRef) -> None:
    week.clock.now = at
    msg = email(week.account, f"<{name}@x>", at, who=who, subject=f"Question {name}")
    week.ids[name] = week.store.ingest([msg])[0].conversation_id


def _reply_and_close(week: Week, name: str, at: float) -> None:
    week.clock.now = at
    week.store.queue_reply(week.ids[name], "Sam", "Done", remote_id=f"<r-{name}@x>", close=True)


def _answer(week: Week, name: str, who: IdentityRef, rating: int, at: float) -> None:
    """The customer clicks the link for `rating`: a mail with the tokenised subject."""
    token = week.store.conn.execute(
        "SELECT token FROM surveys WHERE conversation_id = ?", (week.ids[name],)
    ).fetchone()[0]
    week.clock.now = at
    subject = f"Rating {rating} [fd-{token}]"
    week.store.ingest_mail([email(week.account, f"<ans-{name}@x>", at, who=who, subject=subject)])


ALICE = customer("alice@example.com", "Alice")
DAVE = customer("dave@example.com", "Dave")
FRED = customer("fred@example.com", "Fred")
GINA = customer("gina@example.com", "Gina")
BOSS = customer("boss@big.com", "Big Boss")
ERIN = customer("erin@big.com", "Erin")


@pytest.fixture
def week(db_path: Path) -> Week:
    """Six surveyed closes; the comments give what each contributes to the week."""
    clock = FakeClock(T0)
    store = Store(db_path, clock=clock, policy=POLICY)
    w = Week(store, clock, store.ensure_account("mail", "imap"), {})
    store.use_surveys(SurveyPolicy(SURVEYS, {w.account: "help@ours.test"}))
    # G (standard): surveyed and answered 5 before the week: counts nowhere.
    _ask(w, "G", T0 - 3 * DAY, GINA)
    _reply_and_close(w, "G", T0 - 3 * DAY + HOUR)
    _answer(w, "G", GINA, 5, T0 - 2 * DAY)
    # A (standard, Kim's): reply and close after 1h (FCR); CSAT 5.
    _ask(w, "A", T0, ALICE)
    _reply_and_close(w, "A", T0 + HOUR)
    _answer(w, "A", ALICE, 5, T0 + 2 * HOUR)
    # D (standard): closed without a reply (no response time, not in FCR); CSAT 3 (not 4-5).
    _ask(w, "D", T0 + DAY, DAVE)
    clock.now = T0 + DAY + 2 * HOUR
    store.close_conversation(w.ids["D"], "Sam")
    _answer(w, "D", DAVE, 3, T0 + 2 * DAY)
    # F (standard): reply and close after 3h; the survey is never answered.
    _ask(w, "F", T0 + 2 * DAY, FRED)
    _reply_and_close(w, "F", T0 + 2 * DAY + 3 * HOUR)
    # B (advanced, Kim's): reply and close after 30m; CES 6 (answered after the week).
    _ask(w, "B", T0 + 3 * DAY, BOSS)
    _reply_and_close(w, "B", T0 + 3 * DAY + 30 * MINUTE)
    _answer(w, "B", BOSS, 6, NOW + DAY)
    # E (advanced): reply and close after 2h; CES 3.
    _ask(w, "E", T0 + 4 * DAY, ERIN)
    _reply_and_close(w, "E", T0 + 4 * DAY + 2 * HOUR)
    _answer(w, "E", ERIN, 3, T0 + 5 * DAY)
    store.assign(w.ids["A"], "Lead", "kim@example.com")
    store.assign(w.ids["B"], "Lead", "kim@example.com")
    clock.now = NOW + 2 * DAY
    return w


def _survey_numbers(row: metrics.SliceMetrics) -> tuple[int, ...]:
    return (
        row.surveys_sent,
        row.surveys_answered,
        row.csat_answers,
        row.csat_satisfied,
        row.ces_answers,
        row.ces_total,
    )


def test_week_totals(week: Week) -> None:
    total = metrics.report(week.store.conn, WEEK, "all", POLICY, NOW + 2 * DAY).total
    # sent A D F B E; answered A D B E; CSAT A 5, D 3; CES B 6, E 3
    assert _survey_numbers(total) == (5, 4, 2, 1, 2, 9)
    assert total.response_rate == pytest.approx(0.8)
    assert total.csat == pytest.approx(0.5)
    assert total.ces_average == pytest.approx(4.5)


def test_survey_mails_are_no_agent_replies(week: Week) -> None:
    total = metrics.report(week.store.conn, WEEK, "all", POLICY, NOW + 2 * DAY).total
    # first responses B 30m, A 1h, E 2h, F 3h (D's close had no reply); nearest rank 2nd, 4th
    assert total.first_response == Distribution(4, HOUR, 3 * HOUR)
    assert (total.fcr_resolved, total.fcr_total) == (4, 4)  # A F B E: one reply each


def test_by_tier_and_agent(week: Week) -> None:
    conn = week.store.conn

    def by(dimension: metrics.Dimension) -> dict[str, tuple[int, ...]]:
        report = metrics.report(conn, WEEK, dimension, POLICY, NOW + 2 * DAY)
        return {s.key: _survey_numbers(s) for s in report.slices}

    assert by("tier") == {"advanced": (2, 2, 0, 0, 2, 9), "standard": (3, 2, 2, 1, 0, 0)}
    assert by("agent") == {
        "(unassigned)": (3, 2, 1, 0, 1, 3),  # D (CSAT 3), F (none), E (CES 3)
        "kim@example.com": (2, 2, 1, 1, 1, 6),  # A (CSAT 5), B (CES 6)
    }
    advanced = metrics.report(conn, WEEK, "tier", POLICY, NOW + 2 * DAY).slices[0]
    assert (advanced.csat, advanced.ces_average) == (None, 4.5)


def test_a_period_counts_the_surveys_sent_in_it(week: Week) -> None:
    before = Period(T0 - 7 * DAY, T0 - 1)
    total = metrics.report(week.store.conn, before, "all", POLICY, NOW + 2 * DAY).total
    assert _survey_numbers(total) == (1, 1, 1, 1, 0, 0)  # G
    assert total.csat == 1.0


async def test_the_reports_screen_shows_csat_and_ces(week: Week) -> None:
    from console.app import FrontdeskApp
    from tests.test_reports_screen import cards, open_reports, text_of

    week.clock.now = NOW
    app = FrontdeskApp(week.store, me="sam@x", agent_name="Sam", clock=lambda: NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        shown = cards(screen)
        assert shown["csat"] == ["CSAT", "50%", "1 of 2"]  # A 5, D 3
        assert shown["ces"] == ["Effort (CES)", "4.5", "2 answers"]  # B 6, E 3
        assert shown["nps"] == ["NPS", "—"]
        await pilot.press("t")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        rows = {
            line.split()[0]: line.split()[-4:]
            for line in text_of(screen, "#slices").splitlines()
            if line.strip()
        }
        assert rows["advanced"] == ["—", "4.5", "—", "2/2"]  # CSAT, CES, NPS, answered
        assert rows["standard"] == ["50%", "—", "—", "2/3"]
