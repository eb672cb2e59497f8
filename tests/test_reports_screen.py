"""The reports screen on the demo inbox: `R`, slices, periods, and the same numbers as SQL."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import OptionList, Sparkline, Static

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_POLICY, build_demo
from console.screens.queue import QueueScreen
from console.screens.reports import ReportsScreen
from storage import metrics
from storage.metrics import Period
from storage.models import IdentityRef
from storage.policy import SimplePolicy
from storage.sla import BusinessHours, parse_days
from storage.store import Store
from tests.factories import email

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


def test_reports_screen_snapshot(demo_store: Store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot: Pilot[None]) -> None:
        await open_reports(pilot)
        await pilot.press("t")
        await settle(pilot)

    assert snap_compare(make_app(demo_store), terminal_size=(160, 50), run_before=run_before)


async def test_headline_numbers_are_the_sql_metrics(demo_store: Store) -> None:
    app = make_app(demo_store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        week = Period(NOW - 7 * DAY, NOW)
        expected = metrics.report(demo_store.conn, week, "all", POLICY, NOW).total
        assert screen.data is not None and screen.data.report.total == expected
        assert str(expected.conversations) in text_of(screen, "#card-new")
        assert str(expected.breaches) in text_of(screen, "#card-breaches")
        volume = screen.query_one("#volume-chart", Sparkline).data
        assert volume is not None and sum(volume) == expected.conversations
        assert len(volume) == 8  # the local days the 7-day period touches


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
        assert risky[0].contact in text_of(screen, "#at-risk")
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
        await pilot.pause(0.5)
        options = app.screen.query_one(OptionList).options
        assert any("Reports (R)" in str(o.prompt) for o in options)


async def test_customer_text_is_shown_literally(db_path: Path) -> None:
    policy = SimplePolicy(first_response={"standard": 3600.0})
    store = Store(db_path, policy=policy, clock=lambda: NOW)
    account = store.ensure_account("mail", "imap")
    nasty = IdentityRef("email", "x@evil.test", "[b]Eve[/b]\x1b[31m")
    store.ingest([email(account, "<1@x>", NOW - 60, who=nasty, subject="[red]x[/] \x1b]0;t\x07")])
    app = make_app(store)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_reports(pilot)
        shown = text_of(screen, "#at-risk")
        assert "[b]Eve[/b]" in shown and "[red]x[/]" in shown
        assert "\x1b" not in shown and "\x07" not in shown
