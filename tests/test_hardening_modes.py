"""Files holding customer data are private whatever the umask (issue 20, item 1).

Real processes under umask 022 (the common default, which makes new files 0644): the store,
its WAL and SHM, the log file and the folders created for them must come out 0600/0700. An
existing store others can read is reported once, with the chmod to run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

FRONTDESK = [sys.executable, "-m", "console"]

# Opens a store and writes through it while a second connection keeps the WAL and SHM alive,
# then prints the mode of every file and folder it made, octal, one per line.
_WRITER = """
import os, sqlite3, sys
from pathlib import Path
from storage.store import Store
db = Path(sys.argv[1])
store = Store(db)
store.ensure_account("mail", "imap")
keep = sqlite3.connect(db)
keep.execute("SELECT count(*) FROM accounts").fetchone()
for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.parent, db.parent.parent):
    print(p.name, oct(os.stat(p).st_mode & 0o777))
"""


def _modes(output: str) -> dict[str, str]:
    return dict(line.split() for line in output.splitlines())


def test_store_wal_shm_and_folders_are_private_under_umask_022(tmp_path: Path) -> None:
    db = tmp_path / "data" / "frontdesk" / "store.db"
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        umask=0o022,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _modes(done.stdout) == {
        "store.db": "0o600",
        "store.db-wal": "0o600",
        "store.db-shm": "0o600",
        "frontdesk": "0o700",
        "data": "0o700",
    }


def test_log_file_and_its_folders_are_private_under_umask_022(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "s" / "store.db"}"\n', encoding="utf-8")
    done = subprocess.run(
        [*FRONTDESK, "stats", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        umask=0o022,
        env={**os.environ, "XDG_STATE_HOME": str(state)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    log = state / "frontdesk" / "frontdesk.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "s" / "store.db").stat().st_mode) == 0o600


def test_an_existing_readable_store_is_warned_about_with_the_chmod(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{db}"\n', encoding="utf-8")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    run = [*FRONTDESK, "stats", "--config", str(config)]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert first.returncode == 0 and "readable by other users" not in first.stderr
    db.chmod(0o644)
    done = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "readable by other users" in line]
    assert len(warnings) == 1, done.stderr
    assert f"chmod go-rwx {db}" in warnings[0] and "644" in warnings[0]
    db.chmod(0o600)
    quiet = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert "readable by other users" not in quiet.stderr
