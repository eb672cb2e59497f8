"""`frontdesk report` as a real process: CSV and JSON for tools; errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from console.config import load_config
from console.report import parse_since, parse_until, period
from storage.models import IdentityRef
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.test_cli import run

HOUR = 3600.0
DAY = 24 * HOUR
TIERS = """
[tiers.standard]
default = true
first_response = "4h"

[tiers.advanced]
first_response = "1h"
checkin_every = "30d"

[[tier_rules]]
domain = "big.com"
tier = "advanced"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Three conversations of the last few days (real time: the CLI reports up to now)."""
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "store.db"}"\n{TIERS}', encoding="utf-8")
    base = time.time() - 3 * DAY
    clock = FakeClock(base)
    store = Store(tmp_path / "store.db", clock=clock, policy=load_config(path).policy())
    mail = store.ensure_account("mail", "imap")
    slack = store.ensure_account("slack", "slack")
    # A (standard): answered and closed after 2h: first response 2h, FCR, resolution 2h.
    a = store.ingest([email(mail, "<a@x>", base)])[0].conversation_id
    clock.now = base + 2 * HOUR
    store.queue_reply(a, "Sam", "Done", remote_id="<ra@x>", close=True)
    # B (advanced): answered after 3h against a 1h target: a breach.
    boss = customer("boss@big.com", "Big Boss")
    b = store.ingest([email(mail, "<b@x>", base + HOUR, who=boss)])[0].conversation_id
    clock.now = base + 4 * HOUR
    store.queue_reply(b, "Sam", "Sorry", remote_id="<rb@x>")
    # C (standard, Slack): still unanswered a day later: a running breach, the backlog.
    carol = IdentityRef("slack", "U1", "Carol")
    store.ingest([email(slack, "1.0", base + DAY, who=carol, channel="slack")])
    # A key account quiet for 40 days (their last question answered then): due a check-in.
    quiet = customer("ceo@big.com", "Quiet Key Account")
    q = store.ingest([email(mail, "<q@x>", base - 40 * DAY, who=quiet, subject="Old")])[0]
    clock.now = base - 40 * DAY + HOUR
    store.queue_reply(q.conversation_id, "Sam", "Done", remote_id="<rq@x>", close=True)
    store.close()
    return path


def rows_of(text: str) -> dict[str, dict[str, str]]:
    return {row["slice"]: row for row in csv.DictReader(io.StringIO(text))}


def test_csv_by_tier(config: Path) -> None:
    done = run("report", "--config", str(config), "--by", "tier", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = rows_of(done.stdout)
    assert list(rows) == ["all", "advanced", "standard"]
    numbers = {
        key: (
            row["conversations"],
            float(row["first_response_median_s"]),
            row["fcr_rate"],
            row["sla_breaches"],
            row["backlog"],
        )
        for key, row in rows.items()
    }
    assert numbers == {
        "all": ("3", 2 * HOUR, "1.0", "2", "1"),
        "advanced": ("1", 3 * HOUR, "", "1", "0"),
        "standard": ("2", 2 * HOUR, "1.0", "1", "1"),
    }
    assert rows["all"]["next_response_median_s"] == ""  # no next responses: an empty cell


def test_json_by_channel_traces_breaches_and_lists_check_ins(config: Path) -> None:
    done = run("report", "--config", str(config), "--by", "channel", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["by"] == "channel"
    assert report["total"]["conversations"] == 3
    slices = {s["slice"]: s["conversations"] for s in report["slices"]}
    assert slices == {"email": 2, "slack": 1}
    breaches = [
        (b["kind"], b["tier"], b["contact"], b["ended"] is None) for b in report["breaches"]
    ]
    assert breaches == [
        ("first", "advanced", "Big Boss", False),
        ("first", "standard", "Carol", True),
    ]
    assert all(isinstance(b["conversation"], int) and b["message"] for b in report["breaches"])
    assert sum(d["conversations"] for d in report["daily"]) == 3
    assert {d["channel"] for d in report["daily"]} == {"email", "slack"}
    assert [c["name"] for c in report["checkins_due"]] == ["Quiet Key Account"]
    assert [r["contact"] for r in report["at_risk"]] == ["Carol"]
    datetime.fromisoformat(report["period"]["start"])  # ISO 8601, with the offset


def test_table_for_people(config: Path) -> None:
    done = run("report", "--config", str(config), "--by", "tier")
    assert done.returncode == 0, done.stderr
    assert "Frontdesk report" in done.stdout and "advanced" in done.stdout
    assert "SLA breaches in the period: 2" in done.stdout
    assert "Quiet Key Account" in done.stdout


def test_a_short_period_sees_nothing_and_bad_dates_exit_2(config: Path) -> None:
    done = run("report", "--config", str(config), "--since", "1h", "--format", "csv")
    assert rows_of(done.stdout)["all"]["conversations"] == "0"
    bad = run("report", "--config", str(config), "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr
    inverted = run(
        "report", "--config", str(config), "--since", "2026-02-01", "--until", "2026-01-01"
    )
    assert inverted.returncode == 2 and "empty" in inverted.stderr


def test_since_and_until_read_durations_dates_and_instants() -> None:
    now = datetime(2026, 6, 10, 15, 30).timestamp()
    assert parse_until(None, now) == now
    end_of_day = parse_until("2026-06-07", now)
    assert datetime.fromtimestamp(end_of_day).strftime("%Y-%m-%d %H:%M:%S") == "2026-06-07 23:59:59"
    assert parse_until("2026-06-07T12:00", now) == datetime(2026, 6, 7, 12).timestamp()
    assert parse_since("7d", now) == now - 7 * DAY
    assert parse_since("2026-06-01", now) == datetime(2026, 6, 1).timestamp()
    assert period("2026-06-01", "2026-06-07", now).end == end_of_day
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("soon", now)
    with pytest.raises(ValueError, match="not a date"):
        parse_until("tomorrow", now)
