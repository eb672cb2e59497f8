"""Support metrics for reports, derived in SQL from messages and events (never counters).

Definitions (durations are wall-clock seconds; SLA due times count each tier's business hours):

- A *wait* is a customer turn: it starts with the conversation's first message when a customer
  sent it (kind `first`), or with the first customer message after an agent reply (`next`).
  It is answered by the first agent reply after it; it ends then, or at a close if earlier.
- first / next response time: answer minus start, for the waits that started in the period.
- resolution time: first customer message to the final close (one no reopen followed), for
  conversations whose final close is in the period.
- first-contact resolution (FCR): of the conversations first closed in the period after at
  least one agent reply, the share closed after exactly one reply and not reopened within
  `fcr_days` of that close.
- SLA breach: a wait that started in the period and ended (or, still running, is now) after its
  due time; or a resolution in the period after its due time. Due times skip closed hours and
  snoozed time; a resolution's also skips the time spent waiting on the customer.
- volume: conversations whose first message is in the period, customer messages in it.
- backlog: conversations open with a customer waiting now — a snapshot, whatever the period.
- satisfaction (storage/surveys.py): of the surveys sent in the period, how many were
  answered (by now: the response rate is answered / sent); CSAT is the share of CSAT answers
  rating 4 or 5 (of 5); CES is the mean of CES answers (1-7, higher is easier); NPS (-100 to
  100) is the percentage of promoters (9-10) minus that of detractors (0-6) among NPS answers.
  The survey mails themselves are no agent reply: they count in no response time, wait or FCR.

Slices are attributes of the conversation: tier, channel, agent (the assignee) and tag (one
slice per tag: a conversation with two tags counts in both; `(untagged)` for none).
Percentiles are nearest-rank: the median of 4 values is the 2nd.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator

from storage.metric_types import (
    DIMENSIONS,
    AtRisk,
    Breach,
    DayRow,
    Dimension,
    Distribution,
    Period,
    Report,
    SliceMetrics,
)
from storage.policy import SlaKind, SlaPolicy

# The result types live in storage/metric_types.py; callers keep naming them from here.
__all__ = [
    "DIMENSIONS",
    "AtRisk",
    "Breach",
    "DayRow",
    "Dimension",
    "Distribution",
    "Period",
    "Report",
    "SliceMetrics",
]

ALL: Dimension = "all"
DAY = 86400.0
_SEP = "\x1f"

_SLICE_SQL: dict[Dimension, tuple[str, str]] = {
    "all": ("'all'", ""),
    "tier": ("c.tier", ""),
    "channel": ("c.channel", ""),
    "agent": ("coalesce(c.assignee, '(unassigned)')", ""),
    "tag": (
        "coalesce(t.name, '(untagged)')",
        "LEFT JOIN conversation_tags ct ON ct.conversation_id = c.id"
        " LEFT JOIN tags t ON t.id = ct.tag_id",
    ),
}


# -- the shared CTEs ---------------------------------------------------------------------------

_CTES = """
WITH scope(id) AS (
    -- conversations the period can concern: active since its start, or closed during it
    SELECT id FROM conversations
     WHERE status IN ('open', 'pending', 'snoozed', 'closed') AND last_message_at >= :start
    UNION
    SELECT conversation_id FROM events WHERE kind = 'closed' AND at >= :start AND at <= :end
),
sliced AS (
    SELECT c.id AS conversation_id, c.tier, {slice} AS slice
      FROM conversations c {join} WHERE c.id IN (SELECT id FROM scope)
),
turns AS (
    SELECT m.conversation_id, m.id, m.direction, m.sent_at,
           lag(m.direction) OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.id)
               AS prev
      FROM messages m JOIN scope s ON s.id = m.conversation_id
     WHERE m.direction IN ('in', 'out') AND m.thread_reason IS NOT 'survey'
),
asks AS (
    SELECT t.conversation_id, t.id AS message_id, t.sent_at AS started_at,
           iif(t.prev IS NULL, 'first', 'next') AS kind,
           (SELECT min(o.sent_at) FROM messages o
             WHERE o.conversation_id = t.conversation_id AND o.direction = 'out'
               AND o.thread_reason IS NOT 'survey' AND o.sent_at >= t.sent_at) AS answered_at,
           (SELECT min(e.at) FROM events e
             WHERE e.conversation_id = t.conversation_id AND e.kind = 'closed'
               AND e.at >= t.sent_at) AS closed_at
      FROM turns t
     WHERE t.direction = 'in' AND (t.prev IS NULL OR t.prev = 'out')
),
waits AS (
    SELECT a.*,
           nullif(min(coalesce(a.answered_at, 9e99), coalesce(a.closed_at, 9e99)), 9e99)
               AS ended_at,
           lead(a.started_at) OVER (PARTITION BY a.conversation_id ORDER BY a.started_at)
               AS next_started_at
      FROM asks a
),
snoozes AS (
    -- a snooze lasts until the next status change or agent reply (or now, if neither yet)
    SELECT e.conversation_id, e.at AS lo,
           min(coalesce((SELECT min(x.at) FROM events x
                          WHERE x.conversation_id = e.conversation_id AND x.id > e.id
                            AND x.kind IN ('woken', 'reopened', 'closed', 'replied', 'snoozed')),
                        :now),
               coalesce((SELECT min(o.sent_at) FROM messages o
                          WHERE o.conversation_id = e.conversation_id AND o.direction = 'out'
                            AND o.thread_reason IS NOT 'survey' AND o.sent_at > e.at), :now))
               AS hi
      FROM events e JOIN scope s ON s.id = e.conversation_id
     WHERE e.kind = 'snoozed'
),
due_waits AS (
    SELECT w.*, fd_due(sl.tier, w.kind, w.started_at,
                       (SELECT json_group_array(json_array(z.lo, z.hi)) FROM snoozes z
                         WHERE z.conversation_id = w.conversation_id AND z.hi > w.started_at))
                   AS due_at
      FROM waits w JOIN (SELECT DISTINCT conversation_id, tier FROM sliced) sl
           ON sl.conversation_id = w.conversation_id
     WHERE w.started_at >= :start AND w.started_at <= :end
),
finals AS (
    -- SQLite takes the bare column `kind` from the row holding max(at): the latest of the two
    SELECT e.conversation_id, e.kind, max(e.at) AS closed_at
      FROM events e JOIN scope s ON s.id = e.conversation_id
     WHERE e.kind IN ('closed', 'reopened')
     GROUP BY e.conversation_id
),
resolved AS (
    SELECT f.conversation_id, f.closed_at, min(w.started_at) AS opened_at
      FROM finals f JOIN waits w ON w.conversation_id = f.conversation_id
     WHERE f.kind = 'closed' AND f.closed_at >= :start AND f.closed_at <= :end
     GROUP BY f.conversation_id
),
due_resolved AS (
    SELECT r.*, fd_due(c.tier, 'resolution', r.opened_at, (
               SELECT json_group_array(json_array(p.lo, p.hi)) FROM (
                   SELECT z.lo, z.hi FROM snoozes z WHERE z.conversation_id = r.conversation_id
                   UNION ALL  -- waiting on the customer: from an answer to their next turn
                   SELECT w.answered_at, coalesce(w.next_started_at, :now) FROM waits w
                    WHERE w.conversation_id = r.conversation_id AND w.answered_at IS NOT NULL
               ) p)) AS due_at
      FROM resolved r JOIN conversations c ON c.id = r.conversation_id
),
first_closes AS (
    SELECT e.conversation_id, min(e.at) AS closed_at
      FROM events e JOIN scope s ON s.id = e.conversation_id
     WHERE e.kind = 'closed'
     GROUP BY e.conversation_id
    HAVING min(e.at) >= :start AND min(e.at) <= :end
),
fcr AS (
    SELECT f.conversation_id,
           (SELECT count(*) FROM messages o
             WHERE o.conversation_id = f.conversation_id AND o.direction = 'out'
               AND o.thread_reason IS NOT 'survey' AND o.sent_at <= f.closed_at) AS replies,
           EXISTS (SELECT 1 FROM events r
                    WHERE r.conversation_id = f.conversation_id AND r.kind = 'reopened'
                      AND r.at > f.closed_at AND r.at <= f.closed_at + :fcr_window) AS reopened
      FROM first_closes f
),
starts AS (
    SELECT m.conversation_id, min(m.sent_at) AS at
      FROM messages m JOIN scope s ON s.id = m.conversation_id
     WHERE m.direction IN ('in', 'out') AND m.thread_reason IS NOT 'survey'
     GROUP BY m.conversation_id
)
"""

# Nearest-rank percentiles of `samples(grp, value)`, per group.
_PERCENTILES = """,
ranked AS (
    SELECT grp, value, row_number() OVER (PARTITION BY grp ORDER BY value) AS rn,
           count(*) OVER (PARTITION BY grp) AS n
      FROM samples
)
SELECT grp, max(n), min(value) FILTER (WHERE rn * 100 >= n * 50),
       min(value) FILTER (WHERE rn * 100 >= n * 90)
  FROM ranked GROUP BY grp
"""

_RESPONSE_SAMPLES = """,
samples AS (
    SELECT sl.slice AS grp, w.answered_at - w.started_at AS value
      FROM due_waits w JOIN sliced sl ON sl.conversation_id = w.conversation_id
     WHERE w.kind = :kind AND w.answered_at IS NOT NULL
)"""

_RESOLUTION_SAMPLES = """,
samples AS (
    SELECT sl.slice AS grp, r.closed_at - r.opened_at AS value
      FROM resolved r JOIN sliced sl ON sl.conversation_id = r.conversation_id
)"""

# (SliceMetrics field, samples CTE, extra parameters)
_DURATIONS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("first_response", _RESPONSE_SAMPLES, {"kind": "first"}),
    ("next_response", _RESPONSE_SAMPLES, {"kind": "next"}),
    ("resolution", _RESOLUTION_SAMPLES, {}),
)

_COUNTS = {
    "conversations": """
SELECT sl.slice, count(*) FROM starts st JOIN sliced sl ON sl.conversation_id = st.conversation_id
 WHERE st.at >= :start AND st.at <= :end GROUP BY sl.slice""",
    "messages_in": """
SELECT sl.slice, count(*) FROM messages m JOIN sliced sl ON sl.conversation_id = m.conversation_id
 WHERE m.direction = 'in' AND m.sent_at >= :start AND m.sent_at <= :end GROUP BY sl.slice""",
    "fcr_total": """
SELECT sl.slice, count(*) FROM fcr f JOIN sliced sl ON sl.conversation_id = f.conversation_id
 WHERE f.replies >= 1 GROUP BY sl.slice""",
    "fcr_resolved": """
SELECT sl.slice, count(*) FROM fcr f JOIN sliced sl ON sl.conversation_id = f.conversation_id
 WHERE f.replies = 1 AND NOT f.reopened GROUP BY sl.slice""",
    "breaches": """
SELECT slice, count(*) FROM (
    SELECT sl.slice FROM due_waits w JOIN sliced sl ON sl.conversation_id = w.conversation_id
     WHERE w.due_at IS NOT NULL AND coalesce(w.ended_at, :now) > w.due_at
    UNION ALL
    SELECT sl.slice FROM due_resolved r JOIN sliced sl ON sl.conversation_id = r.conversation_id
     WHERE r.due_at IS NOT NULL AND r.closed_at > r.due_at
) GROUP BY slice""",
}

# The survey columns of one slice, in SliceMetrics' order: surveys sent in the period.
_SURVEY_FIELDS = (
    "surveys_sent",
    "surveys_answered",
    "csat_answers",
    "csat_satisfied",
    "ces_answers",
    "ces_total",
    "nps_answers",
    "nps_promoters",
    "nps_detractors",
)
_SURVEYS = """
SELECT {slice}, count(*), count(s.rating),
       count(s.rating) FILTER (WHERE s.kind = 'csat'),
       count(*) FILTER (WHERE s.kind = 'csat' AND s.rating >= 4),
       count(s.rating) FILTER (WHERE s.kind = 'ces'),
       coalesce(sum(s.rating) FILTER (WHERE s.kind = 'ces'), 0),
       count(s.rating) FILTER (WHERE s.kind = 'nps'),
       count(*) FILTER (WHERE s.kind = 'nps' AND s.rating >= 9),
       count(*) FILTER (WHERE s.kind = 'nps' AND s.rating <= 6)
  FROM surveys s JOIN conversations c ON c.id = s.conversation_id {join}
 WHERE s.sent_at >= :start AND s.sent_at <= :end GROUP BY 1
"""

_BACKLOG = """
SELECT {slice}, count(*) FROM conversations c {join}
 WHERE c.status = 'open' AND c.waiting_since IS NOT NULL GROUP BY 1
"""


# -- running the queries -----------------------------------------------------------------------


def _params(period: Period, now: float, fcr_days: float) -> dict[str, object]:
    return {"start": period.start, "end": period.end, "now": now, "fcr_window": fcr_days * DAY}


def _due_function(policy: SlaPolicy) -> Callable[[str, SlaKind, float, str | None], float | None]:
    def due(tier: str, kind: SlaKind, since: float, pauses: str | None) -> float | None:
        intervals = [(float(lo), float(hi)) for lo, hi in json.loads(pauses or "[]")]
        return policy.sla_due(tier, kind, since, intervals)

    return due


def _prepare(conn: sqlite3.Connection, policy: SlaPolicy, by: Dimension) -> str:
    """Register the due-time function on `conn`; the CTEs for slicing `by`."""
    conn.create_function("fd_due", 4, _due_function(policy), deterministic=True)
    expr, join = _SLICE_SQL[by]
    return _CTES.format(slice=expr, join=join)


def _pairs(conn: sqlite3.Connection, sql: str, params: dict[str, object]) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in conn.execute(sql, params)}


def _distributions(
    conn: sqlite3.Connection, sql: str, params: dict[str, object]
) -> dict[str, Distribution]:
    return {
        str(grp): Distribution(int(n), median, p90)
        for grp, n, median, p90 in conn.execute(sql, params)
    }


def slices(
    conn: sqlite3.Connection,
    period: Period,
    by: Dimension,
    policy: SlaPolicy,
    now: float,
    *,
    fcr_days: float = 7,
) -> list[SliceMetrics]:
    """Every metric per slice of `by`, ordered by slice name."""
    ctes = _prepare(conn, policy, by)
    params = _params(period, now, fcr_days)
    # dict() copies: a dict[str, int] is not a dict[str, object] to the type checker
    columns: dict[str, dict[str, object]] = {
        name: dict(_pairs(conn, ctes + sql, params)) for name, sql in _COUNTS.items()
    }
    for name, sql, extra in _DURATIONS:
        found = _distributions(conn, ctes + sql + _PERCENTILES, params | extra)
        columns[name] = dict(found)
    expr, join = _SLICE_SQL[by]
    columns["backlog"] = dict(_pairs(conn, _BACKLOG.format(slice=expr, join=join), {}))
    columns |= _survey_columns(conn, _SURVEYS.format(slice=expr, join=join), params)
    keys = sorted({key for values in columns.values() for key in values})
    return [_slice(key, columns) for key in keys]


def _survey_columns(
    conn: sqlite3.Connection, sql: str, params: dict[str, object]
) -> dict[str, dict[str, object]]:
    columns: dict[str, dict[str, object]] = {name: {} for name in _SURVEY_FIELDS}
    for key, *values in conn.execute(sql, params):
        for name, value in zip(_SURVEY_FIELDS, values, strict=True):
            columns[name][str(key)] = int(value)
    return columns


def _slice(key: str, columns: dict[str, dict[str, object]]) -> SliceMetrics:
    values = {name: found[key] for name, found in columns.items() if key in found}
    return SliceMetrics(key, **values)  # type: ignore[arg-type]


def report(
    conn: sqlite3.Connection,
    period: Period,
    by: Dimension,
    policy: SlaPolicy,
    now: float,
    *,
    fcr_days: float = 7,
) -> Report:
    """The totals and the slices of `by` for the period."""
    totals = slices(conn, period, ALL, policy, now, fcr_days=fcr_days)
    total = totals[0] if totals else SliceMetrics(ALL)
    parts = totals if by == ALL else slices(conn, period, by, policy, now, fcr_days=fcr_days)
    return Report(period, by, total, parts)


# -- series and lists --------------------------------------------------------------------------

_DAILY_COUNTS = {
    "conversations": """
SELECT date(st.at, 'unixepoch', 'localtime') || char(31) || sl.slice, count(*)
  FROM starts st JOIN sliced sl ON sl.conversation_id = st.conversation_id
 WHERE st.at >= :start AND st.at <= :end GROUP BY 1""",
    "messages_in": """
SELECT date(m.sent_at, 'unixepoch', 'localtime') || char(31) || sl.slice, count(*)
  FROM messages m JOIN sliced sl ON sl.conversation_id = m.conversation_id
 WHERE m.direction = 'in' AND m.sent_at >= :start AND m.sent_at <= :end GROUP BY 1""",
}

_DAILY_RESPONSE = (
    """,
samples AS (
    SELECT date(w.started_at, 'unixepoch', 'localtime') || char(31) || sl.slice AS grp,
           w.answered_at - w.started_at AS value
      FROM due_waits w JOIN sliced sl ON sl.conversation_id = w.conversation_id
     WHERE w.kind = 'first' AND w.answered_at IS NOT NULL
)"""
    + _PERCENTILES
)


def daily(
    conn: sqlite3.Connection, period: Period, by: Dimension, policy: SlaPolicy, now: float
) -> list[DayRow]:
    """Volume and median first response per local day and slice (days with data only)."""
    ctes = _prepare(conn, policy, by)
    params = _params(period, now, 0)
    columns: dict[str, dict[str, object]] = {
        name: dict(_pairs(conn, ctes + sql, params)) for name, sql in _DAILY_COUNTS.items()
    }
    medians = _distributions(conn, ctes + _DAILY_RESPONSE, params)
    columns["first_response_median"] = {k: d.median for k, d in medians.items()}
    keys = sorted({key for values in columns.values() for key in values})
    return [_day(key, columns) for key in keys]


def _day(key: str, columns: dict[str, dict[str, object]]) -> DayRow:
    day, slice_key = key.split(_SEP, 1)
    values = {name: found[key] for name, found in columns.items() if key in found}
    return DayRow(day, slice_key, **values)  # type: ignore[arg-type]


def series(
    rows: list[DayRow], period: Period, value: Callable[[DayRow], float | None]
) -> list[float]:
    """One number per day of the period (all slices summed; 0 for a day without data)."""
    by_day: dict[str, float] = {}
    for row in rows:
        by_day[row.day] = by_day.get(row.day, 0.0) + (value(row) or 0.0)
    return [by_day.get(day, 0.0) for day in period.days()]


_BREACHES = """,
missed AS (
    SELECT w.conversation_id, w.kind, w.message_id, w.started_at, w.due_at, w.ended_at
      FROM due_waits w WHERE w.due_at IS NOT NULL AND coalesce(w.ended_at, :now) > w.due_at
    UNION ALL
    SELECT r.conversation_id, 'resolution', NULL, r.opened_at, r.due_at, r.closed_at
      FROM due_resolved r WHERE r.due_at IS NOT NULL AND r.closed_at > r.due_at
)
SELECT m.conversation_id, m.kind, c.tier, c.channel, coalesce(p.name, ''), c.subject,
       m.message_id, m.started_at, m.due_at, m.ended_at
  FROM missed m JOIN conversations c ON c.id = m.conversation_id
  LEFT JOIN contacts p ON p.id = c.contact_id
 ORDER BY m.due_at, m.conversation_id
"""


def breaches(
    conn: sqlite3.Connection, period: Period, policy: SlaPolicy, now: float
) -> list[Breach]:
    """Every SLA target missed by a wait (or resolution) of the period, earliest due first."""
    sql = _prepare(conn, policy, ALL) + _BREACHES
    return [Breach(*row) for row in conn.execute(sql, _params(period, now, 0))]


_AT_RISK = """
SELECT c.id, c.tier, c.channel, coalesce(p.name, ''), c.subject, c.assignee, c.sla_due_at
  FROM conversations c LEFT JOIN contacts p ON p.id = c.contact_id
 WHERE c.status = 'open' AND c.queue_key < :until
   AND c.sla_due_at IS NOT NULL AND c.sla_due_at < :until
 ORDER BY c.sla_due_at, c.id LIMIT :limit
"""


def at_risk(
    conn: sqlite3.Connection, now: float, horizon: float = 4 * 3600, limit: int = 100
) -> list[AtRisk]:
    """Open conversations past their SLA due time or due within `horizon`, most urgent first.

    The due times are the live ones the queue shows. `queue_key` equals `sla_due_at` for every
    conversation with one (woken ones sort lower still), so the index on it bounds the scan.
    """
    params = {"until": now + horizon, "limit": limit}
    return [AtRisk(*row) for row in conn.execute(_AT_RISK, params)]


def iter_slices(report: Report) -> Iterator[SliceMetrics]:
    """The total first, then the slices (once: `all` is its own only slice)."""
    yield report.total
    if report.by != ALL:
        yield from report.slices
