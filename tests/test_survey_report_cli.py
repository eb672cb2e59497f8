"""`frontdesk report` shows customer satisfaction (issue 21): CSAT, CES and answered surveys per
tier and agent, in CSV, JSON and the table, from ratings recorded as customers' answer mails."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from console.config import load_config
from storage.store import Store
from storage.surveys import SurveyPolicy, TierSurvey
from tests.conftest import FakeClock
from tests.factories import customer, email
from tests.test_cli import run

HOUR = 3600.0
DAY = 24 * HOUR
CONFIG = """
[tiers.standard]
default = true

[tiers.advanced]

[[tier_rules]]
domain = "big.com"
tier = "advanced"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Three surveyed closes in the last days (real time: the CLI reports up to now)."""
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{tmp_path / "store.db"}"\n{CONFIG}', encoding="utf-8")
    base = time.time() - 3 * DAY
    clock = FakeClock(base)
    store = Store(tmp_path / "store.db", clock=clock, policy=load_config(path).policy())
    mail = store.ensure_account("mail", "imap")
    tiers = {"standard": TierSurvey("How did we do?"), "advanced": TierSurvey("Easy?", "ces")}
    store.use_surveys(SurveyPolicy(tiers, {mail: "help@ours.test"}))
    answers = {"alice@example.com": 5, "dave@example.com": 3, "boss@big.com": 6}
    for n, (address, rating) in enumerate(answers.items()):
        who = customer(address, address.split("@")[0].title())
        clock.now = base + n * HOUR
        conversation = store.ingest([email(mail, f"<q{n}@x>", clock.now, who=who)])[0]
        store.close_conversation(conversation.conversation_id, "Sam")
        token = store.conn.execute(
            "SELECT token FROM surveys WHERE conversation_id = ?", (conversation.conversation_id,)
        ).fetchone()[0]
        clock.now += 10 * 60
        subject = f"Rating {rating} [fd-{token}]"
        store.ingest_mail([email(mail, f"<a{n}@x>", clock.now, who=who, subject=subject)])
        if address.startswith("alice"):
            store.assign(conversation.conversation_id, "Lead", "kim@example.com")
    store.close()
    return path


def test_csv_by_tier(config: Path) -> None:
    done = run("report", "--config", str(config), "--by", "tier", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = {row["slice"]: row for row in csv.DictReader(io.StringIO(done.stdout))}
    wanted = ("surveys_sent", "surveys_answered", "survey_response_rate", "csat", "ces_average")
    assert {key: tuple(row[w] for w in wanted) for key, row in rows.items()} == {
        "all": ("3", "3", "1.0", "0.5", "6.0"),  # CSAT: Alice 5 of Alice 5, Dave 3
        "advanced": ("1", "1", "1.0", "", "6.0"),  # the boss's CES 6
        "standard": ("2", "2", "1.0", "0.5", ""),
    }


def test_json_by_agent_and_the_table(config: Path) -> None:
    done = run("report", "--config", str(config), "--by", "agent", "--format", "json")
    assert done.returncode == 0, done.stderr
    slices = {s["slice"]: (s["csat_answers"], s["csat"]) for s in json.loads(done.stdout)["slices"]}
    assert slices == {"(unassigned)": (1, 0.0), "kim@example.com": (1, 1.0)}
    table = run("report", "--config", str(config), "--by", "tier")
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if "CSAT" in line)
    assert header.split()[-4:] == ["CSAT", "CES", "NPS", "Answered"]
    standard = next(line for line in table.stdout.splitlines() if line.split()[:1] == ["standard"])
    assert standard.split()[-4:] == ["50%", "—", "—", "2/2"]
