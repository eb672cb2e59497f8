"""`R`: how fast each tier was answered, what breaches or will breach, who is due a check-in,
and how satisfied customers said they were (CSAT, CES, NPS).

The numbers come from storage.metrics through console.report (the same as `frontdesk report`),
computed on a worker thread over its own read-only connection: a report over a busy period
reads thousands of messages and must never hold up the key handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static
from textual.worker import Worker

from console import report as reporting
from console.guard import worker_failed
from console.messages import StoreChanged
from console.render import safe_line
from storage import metrics
from storage.metrics import Dimension, Period
from storage.policy import SimplePolicy, SlaPolicy
from storage.reporting import ReportData
from storage.store import Store

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Span:
    label: str
    seconds: float


SPANS = (
    Span("24 hours", DAY),
    Span("7 days", 7 * DAY),
    Span("30 days", 30 * DAY),
    Span("90 days", 90 * DAY),
)
CARDS = ("new", "first", "next", "resolution", "fcr", "breaches", "backlog", "csat", "ces", "nps")


def _slice_binding(key: str, dimension: str) -> Binding:
    return Binding(
        key,
        f"slice('{dimension}')",
        f"By {dimension}",
        id=f"reports.by_{dimension}",
        tooltip=f"Slice the numbers by {dimension} (again: totals only)",
    )


class ReportsScreen(Screen[None]):
    DEFAULT_CSS = """
    ReportsScreen #reports-title { height: 1; background: $panel; color: $text; padding: 0 1; }
    ReportsScreen #headline { height: 4; margin: 1 0 0 0; }
    ReportsScreen .card {
        width: 1fr; height: 4; padding: 0 1; margin: 0 1 0 0; border-left: tall $accent;
    }
    ReportsScreen #charts { height: 5; margin: 1 0 0 0; }
    ReportsScreen .chart { width: 1fr; padding: 0 1; }
    ReportsScreen .chart Sparkline { height: 3; }
    ReportsScreen .section { margin: 1 1 0 1; height: auto; }
    ReportsScreen .axis { height: 1; color: $text-muted; }
    ReportsScreen .axis .axis-end { width: 1fr; text-align: right; }
    ReportsScreen .axis .axis-start { width: auto; }
    ReportsScreen #lists { height: auto; }
    ReportsScreen #at-risk-box { width: 4fr; height: auto; margin: 1 1 0 1; }
    ReportsScreen #at-risk-table { height: auto; max-height: 14; }
    ReportsScreen #checkins { width: 3fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="reports.back", tooltip="Back to the queue"),
        Binding(
            "p",
            "next_span",
            "Period",
            id="reports.period",
            tooltip="Cycle the period: 24 hours, 7 days, 30 days, 90 days",
        ),
        Binding(
            "left,h",
            "shift(1)",
            "Earlier",
            id="reports.earlier",
            tooltip="The period before this one",
        ),
        Binding(
            "right,l",
            "shift(-1)",
            "Later",
            id="reports.later",
            tooltip="The period after this one (up to now)",
        ),
        _slice_binding("t", "tier"),
        _slice_binding("c", "channel"),
        _slice_binding("a", "agent"),
        _slice_binding("g", "tag"),
    ]

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        policy = store.policy
        self.policy: SlaPolicy = policy if isinstance(policy, SlaPolicy) else SimplePolicy()
        self.span = SPANS[1]
        self.periods_back = 0  # 0: the period ending now; 1: the one before ...
        self.by: Dimension = "all"
        self.data: ReportData | None = None

    def compose(self) -> ComposeResult:
        yield Static("Reports", id="reports-title")
        with VerticalScroll():
            with Horizontal(id="headline"):
                for name in CARDS:
                    yield Static(classes="card", id=f"card-{name}")
            with Horizontal(id="charts"):
                for chart in ("volume", "response"):
                    with Vertical(classes="chart"):
                        yield Static(id=f"{chart}-label")
                        yield Sparkline([], id=f"{chart}-chart")
                        with Horizontal(classes="axis"):
                            yield Static(classes="axis-start")
                            yield Static(classes="axis-end")
            yield Static(id="slices", classes="section")
            with Horizontal(id="lists"):
                with Vertical(id="at-risk-box"):
                    yield Static(id="at-risk")
                    yield DataTable(id="at-risk-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="checkins", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#at-risk-table", DataTable)
        table.add_columns(*AT_RISK_COLUMNS)
        self.refresh_data()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter on a breaching or at-risk row opens that conversation (escape comes back)."""
        if event.row_key.value is not None:
            self.app.open_conversation(int(event.row_key.value))  # type: ignore[attr-defined]

    # the period and the slice ---------------------------------------------------------------

    def period(self, now: float) -> Period:
        end = now - self.periods_back * self.span.seconds
        return Period(end - self.span.seconds, end)

    def action_next_span(self) -> None:
        self.span = SPANS[(SPANS.index(self.span) + 1) % len(SPANS)]
        self.periods_back = 0
        self.refresh_data()

    def action_shift(self, back: int) -> None:
        self.periods_back = max(0, self.periods_back + back)
        self.refresh_data()

    def action_slice(self, dimension: str) -> None:
        chosen = reporting.dimension(dimension)
        self.by = "all" if chosen == self.by else chosen
        self.refresh_data()

    def action_back(self) -> None:
        self.dismiss()

    # loading --------------------------------------------------------------------------------

    def on_store_changed(self, _: StoreChanged) -> None:
        self.refresh_data()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_failed(self, event)

    def refresh_data(self) -> None:
        """Recompute (on a worker); the app calls this too when the store changes."""
        self.load(self.clock())

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def load(self, now: float) -> None:
        with self.store.reader() as reader:  # its own connection; read-only stores too
            data = reader.report(self.period(now), self.by, self.policy, now)
        self.app.call_from_thread(self.show, data)

    # showing --------------------------------------------------------------------------------

    def show(self, data: ReportData) -> None:
        self.data = data
        self._title(data)
        self._cards(data.report.total)
        self._charts(data)
        self.query_one("#slices", Static).update(reporting.slices_table(data.report))
        self._lists(data)

    def _title(self, data: ReportData) -> None:
        when = "" if self.periods_back == 0 else f", {self.periods_back} back"
        text = f"Reports · last {self.span.label}{when} · {reporting.title(data)}"
        self.query_one("#reports-title", Static).update(Text(text, style="bold"))

    def _cards(self, total: metrics.SliceMetrics) -> None:
        for name, title, value, note in card_texts(total):
            card = Text(f"{title}\n", style="dim")
            card.append(value, style="bold")
            if note:
                card.append(f"\n{note}", style="dim")
            self.query_one(f"#card-{name}", Static).update(card)

    def _charts(self, data: ReportData) -> None:
        period = data.report.period
        volume = metrics.series(data.trend, period, lambda r: r.conversations)
        response = metrics.series(data.trend, period, lambda r: r.first_response_median)
        self.query_one("#volume-chart", Sparkline).data = volume
        self.query_one("#response-chart", Sparkline).data = response
        peak = reporting.duration_label(max(response)) if any(response) else "—"
        self.query_one("#volume-label", Static).update(
            Text(f"New conversations per day (peak {max(volume, default=0):.0f})", style="dim")
        )
        self.query_one("#response-label", Static).update(
            Text(f"First response, median per day (peak {peak})", style="dim")
        )
        first, last = axis_days(period)
        for start in self.query(".axis-start").results(Static):
            start.update(f"└ {first}")
        for end in self.query(".axis-end").results(Static):
            end.update(f"{last} ┘")

    def _lists(self, data: ReportData) -> None:
        risky = Text(f"Breaching or due within 4h: {len(data.at_risk)}", style="bold")
        if data.at_risk:
            risky.append("  (enter opens one)", style="dim")
        self.query_one("#at-risk", Static).update(risky)
        self._at_risk_rows(data)
        due = Text(f"Check-ins due within 7 days: {len(data.checkins_due)}\n", style="bold")
        if not self.policy.checkin_every:
            due.append("No tier has checkin_every set.", style="dim")
        self.query_one("#checkins", Static).update(
            _with_table(due, reporting.checkins_table(data.checkins_due, data.now, limit=12))
        )

    def _at_risk_rows(self, data: ReportData) -> None:
        """Every breaching or at-risk conversation, scrollable; the cursor row kept."""
        table = self.query_one("#at-risk-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for risk in data.at_risk:
            table.add_row(*at_risk_cells(risk, data.now), key=str(risk.conversation_id))
        table.display = bool(data.at_risk)
        if data.at_risk:
            table.move_cursor(row=min(keep, len(data.at_risk) - 1))


AT_RISK_COLUMNS = ("#", "Tier", "Due", "Customer", "Subject", "Assignee")
SUBJECT_WIDTH = 30


def at_risk_cells(risk: metrics.AtRisk, now: float) -> list[Text]:
    """One row of the at-risk table, every cell plain text (customer text is never markup)."""
    style = "bold red" if risk.due_at < now else "yellow"
    return [
        Text(str(risk.conversation_id)),
        Text(risk.tier),
        Text(reporting.due_in_label(risk.due_at, now), style=style),
        safe_line(risk.contact),
        safe_line(_cut(risk.subject, SUBJECT_WIDTH)),
        safe_line((risk.assignee or "—").split("@")[0]),  # "kim": the table fits 80 columns
    ]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def axis_days(period: Period) -> tuple[str, str]:
    """The first and last day under a chart (a bar a local day), as "Mon 30 Nov"."""
    days = period.days()
    return _day_label(days[0]), _day_label(days[-1])


def _day_label(day: str) -> str:
    when = date.fromisoformat(day)
    return f"{when:%a} {when.day} {when:%b}"


def card_texts(total: metrics.SliceMetrics) -> list[tuple[str, str, str, str]]:
    """(card id, title, value, note) for the headline."""
    label = reporting.duration_label
    first, following, resolution = total.first_response, total.next_response, total.resolution
    return [
        ("new", "New conversations", str(total.conversations), ""),
        ("first", "First response", label(first.median), f"p90 {label(first.p90)}"),
        ("next", "Next response", label(following.median), f"p90 {label(following.p90)}"),
        ("resolution", "Resolution", label(resolution.median), f"p90 {label(resolution.p90)}"),
        (
            "fcr",
            "First-contact res.",
            reporting.rate_label(total.fcr_rate),
            f"{total.fcr_resolved} of {total.fcr_total}",
        ),
        ("breaches", "SLA breaches", str(total.breaches), ""),
        ("backlog", "Waiting now", str(total.backlog), ""),
        *satisfaction_cards(total),
    ]


def satisfaction_cards(total: metrics.SliceMetrics) -> list[tuple[str, str, str, str]]:
    """CSAT (share of 4-5 answers), CES (mean, 1-7) and NPS (-100 to 100) of the surveys sent
    in the period."""
    csat_note = f"{total.csat_satisfied} of {total.csat_answers}" if total.csat_answers else ""
    ces_note = f"{total.ces_answers} answers" if total.ces_answers else ""
    nps_note = f"{total.nps_answers} answers" if total.nps_answers else ""
    return [
        ("csat", "CSAT", reporting.rate_label(total.csat), csat_note),
        ("ces", "Effort (CES)", reporting.ces_label(total.ces_average), ces_note),
        ("nps", "NPS", reporting.nps_label(total.nps), nps_note),
    ]


def _with_table(heading: Text, table: Table) -> Group:
    """A heading above a table, as one renderable for a Static."""
    return Group(heading, table)
