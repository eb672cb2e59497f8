"""What the support metrics are (storage/metrics.py computes them): periods, distributions,
per-slice figures, breaches, conversations at risk and daily rows. Plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from storage.policy import SlaKind

Dimension = Literal["all", "tier", "channel", "agent", "tag"]
DIMENSIONS: tuple[Dimension, ...] = ("all", "tier", "channel", "agent", "tag")


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end] in epoch seconds: a rolling period ending now includes what happened now."""

    start: float
    end: float

    def days(self) -> list[str]:
        """Every local date the period touches, as YYYY-MM-DD (for zero-filled series)."""
        first = datetime.fromtimestamp(self.start).date()
        last = datetime.fromtimestamp(max(self.start, self.end)).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True, slots=True)
class SliceMetrics:
    key: str
    conversations: int = 0
    messages_in: int = 0
    first_response: Distribution = field(default_factory=Distribution)
    next_response: Distribution = field(default_factory=Distribution)
    resolution: Distribution = field(default_factory=Distribution)
    fcr_resolved: int = 0
    fcr_total: int = 0
    breaches: int = 0
    backlog: int = 0
    surveys_sent: int = 0
    surveys_answered: int = 0
    csat_answers: int = 0
    csat_satisfied: int = 0  # CSAT answers of 4 or 5
    ces_answers: int = 0
    ces_total: int = 0  # the sum of the CES ratings
    nps_answers: int = 0
    nps_promoters: int = 0  # 9-10
    nps_detractors: int = 0  # 0-6

    @property
    def fcr_rate(self) -> float | None:
        return self.fcr_resolved / self.fcr_total if self.fcr_total else None

    @property
    def response_rate(self) -> float | None:
        return self.surveys_answered / self.surveys_sent if self.surveys_sent else None

    @property
    def csat(self) -> float | None:
        return self.csat_satisfied / self.csat_answers if self.csat_answers else None

    @property
    def ces_average(self) -> float | None:
        return self.ces_total / self.ces_answers if self.ces_answers else None

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return 100 * (self.nps_promoters - self.nps_detractors) / self.nps_answers


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    by: Dimension
    total: SliceMetrics
    slices: list[SliceMetrics]


@dataclass(frozen=True, slots=True)
class Breach:
    """One missed target, with what it is traced to: the message that started the wait."""

    conversation_id: int
    kind: SlaKind
    tier: str
    channel: str
    contact: str
    subject: str
    message_id: int | None  # the customer message that started the wait (None: resolution)
    started_at: float
    due_at: float
    ended_at: float | None  # None: still running


@dataclass(frozen=True, slots=True)
class AtRisk:
    """An open conversation past its SLA due time or close to it (live, as the queue shows)."""

    conversation_id: int
    tier: str
    channel: str
    contact: str
    subject: str
    assignee: str | None
    due_at: float


@dataclass(frozen=True, slots=True)
class DayRow:
    day: str  # local date, YYYY-MM-DD
    key: str
    conversations: int = 0
    messages_in: int = 0
    first_response_median: float | None = None
