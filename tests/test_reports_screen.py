"""The reports screen on the demo inbox: `R`, slices, periods, and the same numbers as SQL."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Sparkline, Static

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.conversation import ConversationScreen
from console.screens.queue import QueueScreen
from console.screens.reports import CARDS, ReportsScreen
from storage.metrics import Period
from storage.models import IdentityRef
from storage.policy import SimplePolicy
from storage.sla import BusinessHours, parse_days
from storage.store import Store
from tests.factories import email
from tests.test_metrics import NOW as WEEK_END
from tests.test_metrics import Inbox, inbox  # noqa: F401
from tests.waits import until_async

NOW = 1_800_000_000.0
DAY = 86400.0
# The demo's targets, plus what issue #7 adds: office hours for standard, a resolution target
# and a check-in every 3 days for key accounts (the demo inbox spans only a few busy weeks).
POLICY = replace(
    DEMO_POLICY,
    resolution={"standard": 5 * DAY},
    hours={"standard": BusinessHours(parse_days(["mon", "tue", "wed", "thu", "fri"]), 540, 1020)},
    checkin_every={"advanced": 3 * DAY},
)


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=POLICY, clock=lambda: NOW)
    build_demo(store, NOW)
    return store


def make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=AGENT.address, agent_name="Sam Rivera", clock=lambda: NOW)


async def settle(pilot: Pilot[None]) -> None:
    """Let the report worker finish so the screen shows its numbers."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_reports(pilot: Pilot[None]) -> ReportsScreen:
    await settle(pilot)
    await pilot.press("R")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReportsScreen) and screen.data is not None
    return screen


def text_of(screen: ReportsScreen, selector: str) -> str:
    """What a Static shows, as plain text (tables included)."""
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(
        screen.query_one(selector, Static).content
    )
    return out.getvalue()


def at_risk_rows(screen: ReportsScreen) -> list[str]:
    """The at-risk table's rows as shown: cells joined by " | "."""
    table = screen.query_one("#at-risk-table", DataTable)
    return [
        " | ".join(str(cell) for cell in table.get_row_at(index))
        for index in range(table.row_count)
    ]


def test_reports_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        await open_reports(pilot)
        await pilot.press("t")
        await settle(pilot)

    assert snap_compare(make_app(demo_store), terminal_size=(160, 50), run_before=run_before)


def cards(screen: ReportsScreen) -> dict[str, list[str]]:
    """Each headline card's lines (title, value, note), as shown."""
    return {name: text_of(screen, f"#card-{name}").strip().splitlines() for name in CARDS}


async def test_headline_cards_show_the_hand_computed_week(inbox: Inbox) -> None:  # noqa: F811
    """The six-conversation inbox of test_metrics, whose week was computed by hand there:
    5 new; first responses C 30m, A 2h, E 2h45m, B 3h (median 2h, p90 3h); next B 1h, A 10h;
    resolutions C 30m, A 16h, B 1d 1h; FCR C only, of A, B, C; breaches B first, A next,
    D first; D waiting now."""
    app = FrontdeskApp(inbox.store, me=AGENT.address, agent_name="Sam", clock=lambda: WEEK_END)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        assert screen.data is not None
        assert screen.data.report.period == Period(WEEK_END - 7 * DAY, WEEK_END)
        assert cards(screen) == {
            "new": ["New conversations", "5"],
            "first": ["First response", "2h 00m", "p90 3h 00m"],
            "next": ["Next response", "1h 00m", "p90 10h 00m"],
            "resolution": ["Resolution", "16h 00m", "p90 1d 1h"],
            "fcr": ["First-contact res.", "33%", "1 of 3"],
            "breaches": ["SLA breaches", "3"],
            "backlog": ["Waiting now", "1"],
            "csat": ["CSAT", "—"],  # no survey in this inbox
            "ces": ["Effort (CES)", "—"],
            "nps": ["NPS", "—"],
        }
        volume = screen.query_one("#volume-chart", Sparkline).data
        # per local (UTC) day from Fri 15 Jan 08:00 to Fri 22 Jan 08:00: A and B on the 15th,
        # C on the 17th, D on the 18th, E on the 19th
        assert volume == [2, 0, 1, 1, 1, 0, 0, 0]


async def test_slice_keys_switch_and_toggle(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert screen.by == "tier"
        assert {"advanced", "standard", "basic"} <= set(text_of(screen, "#slices").split())
        await pilot.press("g")
        await settle(pilot)
        assert screen.by == "tag" and "billing" in text_of(screen, "#slices")
        await pilot.press("g")
        await settle(pilot)
        assert screen.data is not None and screen.by == screen.data.report.by == "all"


async def test_period_keys_cycle_and_shift_but_never_into_the_future(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert "last 30 days" in text_of(screen, "#reports-title")
        await pilot.press("left")
        await settle(pilot)
        assert screen.data is not None
        assert screen.data.report.period == Period(NOW - 60 * DAY, NOW - 30 * DAY)
        await pilot.press("right", "right")
        await settle(pilot)
        assert screen.data.report.period == Period(NOW - 30 * DAY, NOW)


async def test_at_risk_and_check_ins_are_listed(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        assert screen.data is not None
        risky, due = screen.data.at_risk, screen.data.checkins_due
        assert risky and due
        assert f"Breaching or due within 4h: {len(risky)}" in text_of(screen, "#at-risk")
        assert [row.split(" | ")[0] for row in at_risk_rows(screen)] == [
            str(r.conversation_id) for r in risky
        ]
        assert risky[0].contact in at_risk_rows(screen)[0]
        assert due[0].name in text_of(screen, "#checkins")


async def test_escape_goes_back_and_the_palette_offers_reports(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_reports(pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"reports")
        await until_async(
            lambda: any(
                "Reports (R)" in str(o.prompt) for o in app.screen.query_one(OptionList).options
            ),
            "Reports (R) offered by the palette",
        )


async def test_customer_text_is_shown_literally(db_path: Path) -> None:
    policy = SimplePolicy(first_response={"standard": 3600.0})
    store = Store(db_path, policy=policy, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    nasty = IdentityRef("email", "x@evil.test", "[b]Eve[/b]\x1b[31m")
    store.ingest([email(account, "<1@x>", NOW - 60, who=nasty, subject="[red]x[/] \x1b]0;t\x07")])
    app = make_app(store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        shown = "\n".join(at_risk_rows(screen))
        assert "[b]Eve[/b]" in shown and "[red]x[/]" in shown
        assert "\x1b" not in shown and "\x07" not in shown


async def test_enter_on_an_at_risk_row_opens_it_and_escape_comes_back(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        assert screen.data is not None and len(screen.data.at_risk) >= 2
        screen.query_one("#at-risk-table", DataTable).focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        opened = app.screen
        assert isinstance(opened, ConversationScreen)
        assert opened.conversation_id == screen.data.at_risk[1].conversation_id
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_more_at_risk_rows_than_fit_scroll(db_path: Path) -> None:
    """Thirty conversations past due: every one is a row, the last reachable with the keys."""
    policy = SimplePolicy(first_response={"standard": 3600.0})
    store = Store(db_path, policy=policy, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    for n in range(30):
        who = IdentityRef("email", f"c{n}@x.test", f"Customer {n}")
        store.ingest([email(account, f"<{n}@x>", NOW - 7200 - n, who=who, subject=f"S{n}")])
    app = make_app(store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        table = screen.query_one("#at-risk-table", DataTable)
        assert table.row_count == 30
        table.focus()
        await pilot.press("pagedown", "pagedown", "pagedown", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConversationScreen)
        assert app.screen.conversation_id == screen.data.at_risk[-1].conversation_id  # type: ignore[union-attr]


async def test_charts_name_their_first_and_last_day(demo_store: Store) -> None:
    """The week ending NOW (2027-01-15 08:00, tests run in UTC) runs Fri 8 Jan to Fri 15 Jan."""
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        starts = [str(s.content) for s in screen.query(".axis-start").results(Static)]
        ends = [str(s.content) for s in screen.query(".axis-end").results(Static)]
        assert starts == ["└ Fri 8 Jan"] * 2 and ends == ["Fri 15 Jan ┘"] * 2
