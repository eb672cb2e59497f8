"""A damaged store is caught before the next write; a read-only one still reads (issue 20, 3).

Real files: a store filled through the product, then bytes of one of its b-tree pages
overwritten on disk (a bad sector, a copy cut short). `frontdesk sync` must refuse it with one
line saying what to do and leave the file exactly as it was; `frontdesk doctor` must say
"damaged" with exit 3; the console must print one line, not a traceback. A store on a
read-only mount must still answer `stats`, and `sync` must say it is read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.store import Store
from tests.factories import email
from tests.servers.fixtures import in_ci

FRONTDESK = [sys.executable, "-m", "console"]
PAGE = 4096  # SQLite's default page size, which the store keeps


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run(
        [*FRONTDESK, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _filled_store(tmp_path: Path, messages: int = 400) -> tuple[Path, Path]:
    db = tmp_path / "store.db"
    store = Store(db)
    account = store.ensure_account("mail", "imap")
    store.ingest(
        [email(account, f"<m{i}@x>", float(i), text="word " * 60) for i in range(messages)]
    )
    store.close()  # the last connection checkpoints the WAL into the file and removes it
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")
    return db, config


def _damage(db: Path) -> None:
    """Overwrite a page in the middle of the file (not the header page) with garbage."""
    pages = db.stat().st_size // PAGE
    assert pages > 10, pages
    with db.open("r+b") as file:
        file.seek((pages // 2) * PAGE)
        file.write(bytes(range(256)) * (PAGE // 256))


def _digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_sync_refuses_a_damaged_store_and_writes_nothing(tmp_path: Path) -> None:
    db, config = _filled_store(tmp_path)
    _damage(db)
    before = _digest(db)
    done = _run("sync", "--once", "--config", str(config), tmp_path=tmp_path)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert "is damaged" in line and "restore it from a backup" in line
    assert "frontdesk export" in line
    assert _digest(db) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_the_console_says_one_line_on_a_damaged_store(tmp_path: Path) -> None:
    db, config = _filled_store(tmp_path)
    _damage(db)
    done = _run("--config", str(config), tmp_path=tmp_path)
    assert done.returncode == 1
    assert "is damaged" in _one_line(done.stderr)


def test_doctor_says_damaged_with_exit_3(tmp_path: Path) -> None:
    db, config = _filled_store(tmp_path)
    _damage(db)
    before = _digest(db)
    done = _run("doctor", "--config", str(config), tmp_path=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "verdict: damaged" in done.stdout and "frontdesk export" in done.stdout
    assert "Traceback" not in done.stderr
    assert _digest(db) == before


def test_doctor_on_a_sound_store(tmp_path: Path) -> None:
    db, config = _filled_store(tmp_path, messages=5)
    done = _run("doctor", "--config", str(config), tmp_path=tmp_path)
    assert done.returncode == 1, done.stdout  # sound, but no sync has ever run on it
    assert "integrity: quick_check ok" in done.stdout
    assert "no heartbeat" in done.stdout and "verdict: needs attention" in done.stdout
    from storage.sync_status import Heartbeat

    with Heartbeat(db):  # a sync running: now every check passes
        healthy = _run("doctor", "--config", str(config), tmp_path=tmp_path)
    assert healthy.returncode == 0, healthy.stdout
    assert healthy.stdout.splitlines()[-1] == "verdict: healthy"
    db.chmod(0o644)
    loose = _run("doctor", "--config", str(config), tmp_path=tmp_path)
    assert loose.returncode == 1 and f"chmod go-rwx {db}" in loose.stdout


def test_doctor_names_stuck_outbox_items(tmp_path: Path) -> None:
    db, config = _filled_store(tmp_path, messages=1)
    store = Store(db, clock=lambda: time.time() - 3600)  # queued an hour ago
    conversation = store.conn.execute("SELECT id FROM conversations").fetchone()[0]
    store.queue_reply(conversation, "Sam", "On it", remote_id="<r@x>")
    store.close()
    done = _run("doctor", "--config", str(config), tmp_path=tmp_path)
    assert "outbox: 1 replies not delivered" in done.stdout, done.stdout


# ---- read-only ------------------------------------------------------------------------------

_BIND_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def _read_only(folder: Path, argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `argv` seeing `folder` (the store's) read-only: a read-only bind mount in a private
    mount namespace as root (even root cannot write), a 0555 folder and 0444 file otherwise."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    run = {"capture_output": True, "text": True, "timeout": 60, "check": False, "env": env}
    if os.geteuid() != 0:
        files = list(folder.iterdir())
        for path in files:
            path.chmod(0o444)
        folder.chmod(0o555)
        try:
            return subprocess.run(argv, **run)  # type: ignore[call-overload, no-any-return]
        finally:
            folder.chmod(0o700)
            for path in files:
                path.chmod(0o600)
    unshare = shutil.which("unshare")
    if unshare is None:
        reason = "root without unshare(1): cannot make the store read-only"
        if in_ci():  # in CI a test that cannot run is a failure, never a skip
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    prefix = [unshare, "-m", "sh", "-c", _BIND_RO, "sh", str(folder)]
    return subprocess.run([*prefix, *argv], **run)  # type: ignore[call-overload, no-any-return]


def test_a_store_on_a_read_only_mount_still_reads(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "store.db"
    store = Store(db)
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", 1.0), email(account, "<b@x>", 2.0, subject="Other")])
    store.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")
    stats = _read_only(folder, [*FRONTDESK, "stats", "--config", str(config)], tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines()[0] == "2 conversations, 2 messages"
    sync = _read_only(folder, [*FRONTDESK, "sync", "--once", "--config", str(config)], tmp_path)
    assert sync.returncode == 1
    assert "is read-only" in _one_line(sync.stderr)
    doctor = _read_only(folder, [*FRONTDESK, "doctor", "--config", str(config)], tmp_path)
    assert "integrity: quick_check ok" in doctor.stdout, doctor.stdout + doctor.stderr


# The real console, headless, on the store seen read-only: its view counts read on a thread of
# their own, and opening a conversation marks it read (a write, refused). It must keep running.
_CONSOLE_OPENS = """
import sys
from console.app import FrontdeskApp
from storage.store import Store

async def open_first(pilot):
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    pilot.app.exit(return_code=5)  # only reached if the write did not end the app

app = FrontdeskApp(Store(sys.argv[1]), me="sam@example.com")
app.run(headless=True, auto_pilot=open_first)
sys.exit(app.return_code or 0)
"""


def test_the_console_runs_on_a_read_only_store(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "store.db"
    store = Store(db)
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", 1.0)])
    store.close()
    done = _read_only(folder, [sys.executable, "-c", _CONSOLE_OPENS, str(db)], tmp_path)
    assert done.returncode == 5, done.stdout + done.stderr  # ran to the pilot's exit
    assert "Traceback" not in done.stderr + done.stdout
    # What the console logged (no log file set up here: stderr) is the refused write, named.
    logged = done.stderr.strip().splitlines()
    assert logged and all("is read-only" in line for line in logged), done.stderr
