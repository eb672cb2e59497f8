"""`frontdesk doctor`: is the store sound, private and being kept up to date?

Read-only: it never writes to the store (nor creates one). Each check gives one line, marked
`ok`, `warn` or `FAIL`, then a verdict:

- exit 0 "healthy": every check passed;
- exit 1 "needs attention": the store is sound but something wants a hand (file modes, outbox
  items stuck, sync not running, schema older than this version);
- exit 3 "damaged": the file fails SQLite's integrity check or cannot be read at all; the
  line says what to do (restore from a backup, `frontdesk export` what can be read).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storage import db
from storage.health import Checkup
from storage.sync_status import STALE_AFTER

Level = Literal["ok", "warn", "FAIL"]
EXIT_HEALTHY, EXIT_ATTENTION, EXIT_DAMAGED = 0, 1, 3
STUCK_AFTER = 15 * 60.0  # an outbox item overdue this long is stuck, not just queued


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str


def _damaged(path: Path, problem: object) -> str:
    return db.DAMAGED.format(path=path, problem=problem).replace(
        " (`frontdesk doctor` shows the details)", ""
    )


def diagnose(path: Path, now: float | None = None) -> list[Finding]:
    """Every check on the store at `path`, in the order they are shown."""
    now = time.time() if now is None else now
    if not path.is_file():
        return [Finding("FAIL", f"no store at {path}: `frontdesk sync` creates it")]
    findings = [_modes(path)]
    try:
        checkup = Checkup(path)
    except db.StoreError as exc:
        text = str(exc).replace(" (`frontdesk doctor` shows the details)", "")
        return [*findings, Finding("FAIL", text)]
    try:
        problems = checkup.integrity_problems()
        if problems:
            damaged = _damaged(path, "; ".join(problems))
            return [*findings, Finding("FAIL", f"integrity: {damaged}")]
        findings.append(Finding("ok", "integrity: quick_check ok"))
        findings += [_wal(checkup, path), _schema(checkup)]
        findings += _outbox(checkup, now) + _sync(checkup, now)
    except db.ReadError as exc:  # a page the quick check did not reach
        findings.append(Finding("FAIL", _damaged(path, exc)))
    finally:
        checkup.close()
    return findings


def verdict(findings: list[Finding]) -> tuple[int, str]:
    """The exit code and the last line."""
    if any(f.level == "FAIL" for f in findings):
        return EXIT_DAMAGED, "verdict: damaged (see the FAIL line for what to do)"
    if any(f.level == "warn" for f in findings):
        return EXIT_ATTENTION, "verdict: needs attention (see the warn lines)"
    return EXIT_HEALTHY, "verdict: healthy"


def _modes(path: Path) -> Finding:
    loose = db.loose_modes(path)
    if not loose:
        return Finding("ok", "file modes: private (0600)")
    names = " ".join(str(p) for p, _ in loose)
    shown = ", ".join(f"{p.name} {mode:o}" for p, mode in loose)
    return Finding("warn", f"file modes: readable by other users ({shown}): chmod go-rwx {names}")


def _wal(checkup: Checkup, path: Path) -> Finding:
    mode = checkup.journal_mode()
    wal = Path(f"{path}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    if mode != "wal":
        return Finding("warn", f"journal: {mode}, not wal: the next `frontdesk sync` switches it")
    return Finding("ok", f"journal: wal ({size // 1024} KiB not yet checkpointed)")


def _schema(checkup: Checkup) -> Finding:
    have, latest = checkup.schema_version(), db.migrations()[-1][0]
    if have == latest:
        return Finding("ok", f"schema: version {have} (current)")
    if have < latest:
        return Finding("warn", f"schema: version {have}, {latest} is current: run `frontdesk sync`")
    return Finding("warn", f"schema: version {have} is newer than this frontdesk ({latest})")


def _outbox(checkup: Checkup, now: float) -> list[Finding]:
    stuck = checkup.stuck_outbox(now - STUCK_AFTER)
    if not stuck[0]:
        return [Finding("ok", "outbox: nothing stuck")]
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(stuck[1]))
    return [
        Finding(
            "warn",
            f"outbox: {stuck[0]} replies not delivered (oldest due {since}):"
            " is `frontdesk sync` running? its log says why they fail",
        )
    ]


def _sync(checkup: Checkup, now: float) -> list[Finding]:
    heartbeat = checkup.last_heartbeat()
    if heartbeat is None:
        return [Finding("warn", "sync: no heartbeat: `frontdesk sync` has not run on this store")]
    beat_at, stopped_at = heartbeat
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stopped_at or beat_at))
    if stopped_at is not None:
        return [Finding("warn", f"sync: not running since {when} (it stopped)")]
    if now - beat_at > STALE_AFTER:
        return [Finding("warn", f"sync: not running since {when} (killed or crashed)")]
    return [Finding("ok", f"sync: running (last heartbeat {when})")]
