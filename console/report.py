"""What `frontdesk report` and the reports screen show: gathered once, rendered three ways.

Every number comes from storage.metrics (SQL over messages and events); this module only picks
the period, collects the pieces and formats them: a table for people, CSV and JSON for tools.
Durations are seconds in CSV and JSON, and short labels ("3h 05m") in the table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta

from rich.console import Console
from rich.table import Table
from rich.text import Text

from console.durations import parse_duration
from console.render import safe_line
from console.timefmt import short_duration
from storage import metrics
from storage.checkins import CheckinDue
from storage.metrics import AtRisk, Breach, DayRow, Dimension, Period, Report, SliceMetrics
from storage.reporting import ReportData

FORMATS = ("table", "csv", "json")


def dimension(name: str | None) -> Dimension:
    """`--by` to a metrics dimension; none given: the totals alone."""
    for known in metrics.DIMENSIONS:
        if known == (name or "all"):
            return known
    raise ValueError(f"cannot slice by {name!r}: use one of {', '.join(metrics.DIMENSIONS)}")


# -- the period ---------------------------------------------------------------------------------


def _local_midnight(day: date) -> float:
    return datetime.combine(day, datetime.min.time()).timestamp()


def parse_until(text: str | None, now: float) -> float:
    """None: now. A date: the end of that local day (inclusive). A date-time: that instant."""
    if text is None:
        return now
    try:
        if len(text.strip()) == 10:
            next_day = date.fromisoformat(text.strip()) + timedelta(days=1)
            return _local_midnight(next_day) - 0.001
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date: write e.g. 2026-06-30") from exc


def parse_since(text: str, until: float) -> float:
    """A duration back from `until` ("7d", "24h") or a date (its local midnight)."""
    try:
        return until - parse_duration(text)
    except ValueError:
        pass
    try:
        return _local_midnight(date.fromisoformat(text.strip()))
    except ValueError as exc:
        raise ValueError(f'{text!r} is neither a duration ("7d") nor a date (2026-06-01)') from exc


def period(since: str, until: str | None, now: float) -> Period:
    end = parse_until(until, now)
    start = parse_since(since, end)
    if start >= end:
        raise ValueError("the period is empty: --since must come before --until")
    return Period(start, end)


# -- flat rows (CSV and JSON) ------------------------------------------------------------------

COLUMNS = (
    "slice",
    "conversations",
    "messages_in",
    "first_response_count",
    "first_response_median_s",
    "first_response_p90_s",
    "next_response_count",
    "next_response_median_s",
    "next_response_p90_s",
    "resolution_count",
    "resolution_median_s",
    "resolution_p90_s",
    "fcr_resolved",
    "fcr_total",
    "fcr_rate",
    "sla_breaches",
    "backlog",
    "surveys_sent",
    "surveys_answered",
    "survey_response_rate",
    "csat_answers",
    "csat_satisfied",
    "csat",
    "ces_answers",
    "ces_average",
    "nps_answers",
    "nps_promoters",
    "nps_detractors",
    "nps",
)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def flat(row: SliceMetrics) -> dict[str, object]:
    values: dict[str, object] = {
        "slice": row.key,
        "conversations": row.conversations,
        "messages_in": row.messages_in,
    }
    for name in ("first_response", "next_response", "resolution"):
        dist = getattr(row, name)
        values[f"{name}_count"] = dist.count
        values[f"{name}_median_s"] = _seconds(dist.median)
        values[f"{name}_p90_s"] = _seconds(dist.p90)
    rate = row.fcr_rate
    values |= {
        "fcr_resolved": row.fcr_resolved,
        "fcr_total": row.fcr_total,
        "fcr_rate": None if rate is None else round(rate, 4),
        "sla_breaches": row.breaches,
        "backlog": row.backlog,
    }
    return values | _satisfaction(row)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _satisfaction(row: SliceMetrics) -> dict[str, object]:
    """Surveys sent in the period; CSAT the share of 4-5 answers, CES their mean (1-7), NPS
    promoters minus detractors in percent (-100 to 100)."""
    return {
        "surveys_sent": row.surveys_sent,
        "surveys_answered": row.surveys_answered,
        "survey_response_rate": _ratio(row.response_rate),
        "csat_answers": row.csat_answers,
        "csat_satisfied": row.csat_satisfied,
        "csat": _ratio(row.csat),
        "ces_answers": row.ces_answers,
        "ces_average": None if row.ces_average is None else round(row.ces_average, 2),
        "nps_answers": row.nps_answers,
        "nps_promoters": row.nps_promoters,
        "nps_detractors": row.nps_detractors,
        "nps": None if row.nps is None else round(row.nps, 1),
    }


def to_csv(data: ReportData) -> str:
    """One row per slice, the total (`all`) first; empty cells where there is no value."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in metrics.iter_slices(data.report):
        writer.writerow(flat(row))
    return out.getvalue()


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat()


def to_json(data: ReportData) -> str:
    report = data.report
    document = {
        "period": {"start": _iso(report.period.start), "end": _iso(report.period.end)},
        "by": report.by,
        "total": flat(report.total),
        "slices": [flat(row) for row in report.slices] if report.by != "all" else [],
        "daily": [_day(row) for row in data.daily],
        "breaches": [_breach(b) for b in data.breaches],
        "at_risk": [_at_risk(r) for r in data.at_risk],
        "checkins_due": [_checkin(c) for c in data.checkins_due],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _day(row: DayRow) -> dict[str, object]:
    return {
        "day": row.day,
        "channel": row.key,
        "conversations": row.conversations,
        "messages_in": row.messages_in,
        "first_response_median_s": _seconds(row.first_response_median),
    }


def _breach(b: Breach) -> dict[str, object]:
    return {
        "conversation": b.conversation_id,
        "kind": b.kind,
        "tier": b.tier,
        "channel": b.channel,
        "contact": b.contact,
        "subject": b.subject,
        "message": b.message_id,
        "started": _iso(b.started_at),
        "due": _iso(b.due_at),
        "ended": _iso(b.ended_at),
    }


def _at_risk(r: AtRisk) -> dict[str, object]:
    return {
        "conversation": r.conversation_id,
        "tier": r.tier,
        "channel": r.channel,
        "contact": r.contact,
        "subject": r.subject,
        "assignee": r.assignee,
        "due": _iso(r.due_at),
    }


def _checkin(c: CheckinDue) -> dict[str, object]:
    return {
        "contact": c.contact_id,
        "name": c.name,
        "tier": c.tier,
        "last_contact": _iso(c.last_contact_at),
        "due": _iso(c.due_at),
        "agent": c.agent,
        "open_checkin": c.open_checkin,
    }


# -- the table (for people) ---------------------------------------------------------------------


def duration_label(seconds: float | None) -> str:
    return "—" if seconds is None else short_duration(seconds)


def rate_label(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def when_label(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%a %d %b %H:%M")


def due_in_label(due_at: float, now: float) -> str:
    left = due_at - now
    return f"over {short_duration(-left)}" if left < 0 else f"in {short_duration(left)}"


def slices_table(report: Report) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for title in ("", "New", "Msgs in", "1st resp", "p90", "Next resp", "p90"):
        table.add_column(title, justify="left" if not title else "right")
    for title in (
        "Resolution",
        "p90",
        "FCR",
        "Breaches",
        "Backlog",
        "CSAT",
        "CES",
        "NPS",
        "Answered",
    ):
        table.add_column(title, justify="right")
    for row in metrics.iter_slices(report):
        table.add_row(safe_line(row.key, "bold" if row is report.total else ""), *cells(row))
    return table


def cells(row: SliceMetrics) -> list[str]:
    return [
        str(row.conversations),
        str(row.messages_in),
        duration_label(row.first_response.median),
        duration_label(row.first_response.p90),
        duration_label(row.next_response.median),
        duration_label(row.next_response.p90),
        duration_label(row.resolution.median),
        duration_label(row.resolution.p90),
        rate_label(row.fcr_rate),
        str(row.breaches),
        str(row.backlog),
        rate_label(row.csat),
        ces_label(row.ces_average),
        nps_label(row.nps),
        answered_label(row),
    ]


def ces_label(average: float | None) -> str:
    return "—" if average is None else f"{average:.1f}"


def nps_label(nps: float | None) -> str:
    return "—" if nps is None else f"{nps:+.0f}"


def answered_label(row: SliceMetrics) -> str:
    """Survey answers of surveys sent: "4/5"; "—" when none was sent."""
    return f"{row.surveys_answered}/{row.surveys_sent}" if row.surveys_sent else "—"


def breaches_table(found: list[Breach], now: float, limit: int = 20) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for title in ("#", "Tier", "Target", "Due", "Late by", "Customer", "Subject"):
        table.add_column(title, no_wrap=title != "Subject")
    for b in found[:limit]:
        late = (b.ended_at if b.ended_at is not None else now) - b.due_at
        running = "" if b.ended_at is not None else " (still waiting)"
        table.add_row(
            str(b.conversation_id),
            b.tier,
            b.kind,
            when_label(b.due_at),
            short_duration(late) + running,
            safe_line(b.contact),
            safe_line(b.subject),
        )
    return table


def at_risk_table(found: list[AtRisk], now: float, limit: int = 20) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for title in ("#", "Tier", "Due", "Customer", "Subject", "Assignee"):
        table.add_column(title, no_wrap=title != "Subject")
    for r in found[:limit]:
        due = due_in_label(r.due_at, now)
        style = "bold red" if r.due_at < now else "yellow"
        table.add_row(
            str(r.conversation_id),
            r.tier,
            Text(due, style=style),
            safe_line(r.contact),
            safe_line(r.subject),
            safe_line(r.assignee or "—"),
        )
    return table


def checkins_table(found: list[CheckinDue], now: float, limit: int = 20) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    for title in ("Customer", "Last contact", "Check-in", "Agent"):
        table.add_column(title, no_wrap=True)
    for c in found[:limit]:
        state = f"open #{c.open_checkin}" if c.open_checkin else due_in_label(c.due_at, now)
        table.add_row(
            safe_line(c.name),
            datetime.fromtimestamp(c.last_contact_at).strftime("%d %b"),
            state,
            safe_line(c.agent or "—"),
        )
    return table


def title(data: ReportData) -> str:
    report = data.report
    span = f"{when_label(report.period.start)} → {when_label(report.period.end)}"
    return f"{span} · by {report.by}" if report.by != "all" else span


def _section(console: Console, heading: str, count: int, table: Callable[[], Table]) -> None:
    console.print()
    console.print(Text(heading, style="bold"))
    if count:
        console.print(table())


def to_table(data: ReportData, width: int = 140) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False)
    console.print(Text(f"Frontdesk report · {title(data)}", style="bold"))
    console.print(slices_table(data.report))
    found = len(data.breaches), len(data.at_risk), len(data.checkins_due)
    _section(
        console,
        f"SLA breaches in the period: {found[0]}",
        found[0],
        lambda: breaches_table(data.breaches, data.now),
    )
    _section(
        console,
        f"Breaching or due within 4h now: {found[1]}",
        found[1],
        lambda: at_risk_table(data.at_risk, data.now),
    )
    _section(
        console,
        f"Check-ins due within 7 days: {found[2]}",
        found[2],
        lambda: checkins_table(data.checkins_due, data.now),
    )
    return out.getvalue()


def render(data: ReportData, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(data)
    if fmt == "json":
        return to_json(data)
    return to_table(data)
