"""Everything a report shows, gathered in one read: the metrics of a period (storage/metrics.py),
its daily series, breaches, what is at risk now and the check-ins due soon."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage import checkins, metrics
from storage.checkins import CheckinDue
from storage.metric_types import AtRisk, Breach, DayRow, Dimension, Period, Report
from storage.policy import SlaPolicy

CHECKIN_HORIZON = 7 * 86400.0  # list check-ins due within a week, not only those due now
AT_RISK_HORIZON = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class ReportData:
    now: float
    report: Report
    daily: list[DayRow]  # by channel
    trend: list[DayRow]  # all channels together
    breaches: list[Breach]
    at_risk: list[AtRisk]
    checkins_due: list[CheckinDue]


def gather(
    conn: sqlite3.Connection, period: Period, by: Dimension, policy: SlaPolicy, now: float
) -> ReportData:
    return ReportData(
        now=now,
        report=metrics.report(conn, period, by, policy, now),
        daily=metrics.daily(conn, period, "channel", policy, now),
        trend=metrics.daily(conn, period, "all", policy, now),
        breaches=metrics.breaches(conn, period, policy, now),
        at_risk=metrics.at_risk(conn, now, AT_RISK_HORIZON),
        checkins_due=checkins.upcoming(conn, policy.checkin_every, now + CHECKIN_HORIZON),
    )
