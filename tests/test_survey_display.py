"""The customer's rating where agents look (issue 21): the context panel of the conversation and
the CLI's records (`show`/`list`/`export --json`); the comment is the customer's text, shown
literally (no markup, no control sequences)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.app import App, ComposeResult
from textual.widgets import Static

from console.widgets.context_panel import ContextPanel
from storage import records
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email

ALICE = customer("alice@example.com", "Alice")
HOSTILE = "Brilliant [bold red]x[/] \x1b[31mred\x1b[0m [@click=app.quit]q[/]"


def _rated(db_path: Path) -> tuple[Store, int]:
    clock = FakeClock()
    store = Store(db_path, clock=clock)
    account = store.ensure_account("mail", "imap")
    tiers = {"standard": TierSurvey("How did we do?")}
    store.use_surveys(SurveyPolicy(tiers, {account: "help@ours.test"}))
    conversation = store.ingest([email(account, "<q@x>", clock.now, who=ALICE)])[0]
    store.close_conversation(conversation.conversation_id, "Sam")
    token = store.conn.execute("SELECT token FROM surveys").fetchone()[0]
    clock.advance(3600)
    subject = f"Rating 5 [fd-{token}]"
    store.ingest_mail(
        [email(account, "<a@x>", clock.now, who=ALICE, subject=subject, text=HOSTILE)]
    )
    return store, conversation.conversation_id


class _PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ContextPanel()


async def test_the_context_panel_shows_the_rating_and_the_comment_literally(
    db_path: Path,
) -> None:
    store, conversation = _rated(db_path)
    app = _PanelApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(ContextPanel).show(store.detail(conversation), store.clock())
        await pilot.pause()
        out = io.StringIO()
        summary = app.query_one("#context-summary", Static)
        Console(file=out, width=200, color_system=None).print(summary.content)
        shown = out.getvalue()
    assert "Rated: 5/5 satisfaction" in shown
    assert "“Brilliant [bold red]x[/] red [@click=app.quit]q[/]”" in shown
    assert "\x1b" not in shown and app.return_code is None


def test_records_carry_the_latest_rating(db_path: Path) -> None:
    store, conversation = _rated(db_path)
    [record] = records.records(store.conn, [conversation], messages=False)
    assert record["rating"] == {
        "kind": "csat",
        "rating": 5,
        "of": 5,
        "comment": "Brilliant [bold red]x[/] red [@click=app.quit]q[/]",
        "answered_at": records.iso(store.clock()),
    }
    other = store.ingest([email(1, "<o@x>", store.clock(), who=customer("bo@x.com", "Bo"))])[0]
    [unrated] = records.records(store.conn, [other.conversation_id], messages=False)
    assert unrated["rating"] is None
