"""Environment faults at the edges: one line and an exit code, never a traceback or a hang
(issue 20, item 5). And a dead sync is shown as dead, not as "syncing" forever.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console import logs
from console.cli import main
from storage.store import Store
from storage.sync_status import STALE_AFTER, Heartbeat, describe
from tests.imap_helpers import PASSWORD_ENV, SUPPORT
from tests.servers.dovecot import DovecotServer
from tests.test_config import EXAMPLE
from tests.waits import until

FRONTDESK = [sys.executable, "-m", "console"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRONTDESK, *args],
        capture_output=True,
        text=True,
        timeout=30,  # a hang fails the test instead of holding the suite
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """In-process runs of the CLI point the root logger at their files: put it back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _store_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    agent = '[agent]\nname = "Sam"\nemail = "sam@desk.test"\n'  # check-config requires one
    config.write_text(f'[storage]\npath = "{tmp_path / "store.db"}"\n{agent}', encoding="utf-8")
    return config


# ---- log folder ----------------------------------------------------------------------------


def test_an_unwritable_log_folder_warns_and_commands_still_work(tmp_path: Path) -> None:
    config = _store_config(tmp_path)
    for command in (["check-config"], ["stats"]):
        done = _run(*command, "--config", str(config), env={"XDG_STATE_HOME": "/proc/x"})
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "warning: cannot write the log file /proc/x/frontdesk/frontdesk.log" in done.stderr
        assert "logging to stderr" in done.stderr
    assert "0 conversations, 0 messages" in done.stdout


def test_with_no_log_file_the_log_goes_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/proc/x")
    assert logs.setup("info") is None
    logging.getLogger("frontdesk.test").warning("the server went away")
    assert "WARNING frontdesk.test: the server went away" in capsys.readouterr().err


# ---- the config file -----------------------------------------------------------------------


def _refused(path: Path) -> str:
    done = _run("check-config", "--config", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_fifo_as_the_config_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    assert "not a regular file (a named pipe)" in _refused(fifo)


def test_dev_zero_as_the_config_is_refused() -> None:
    assert "not a regular file (a device)" in _refused(Path("/dev/zero"))


def test_a_config_over_1_mb_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "config.toml"
    big.write_text("# padding\n" * 110_000, encoding="utf-8")  # 1,100,000 bytes of comments
    assert "over the 1 MB" in _refused(big)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[agent]\nname = 'Sam'\n\nx = " + "[" * 5000 + "]" * 5000 + "\n", 4),
        ("a = 1\nb = 2\nc = " + "{k = " * 5000 + "1" + "}" * 5000 + "\n", 3),
    ],
    ids=["array", "inline-table"],
)
def test_deep_nesting_is_exit_2_with_the_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["check-config", "--config", str(path)],
        env={"XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"config.toml:{line}: arrays or inline tables nested" in result.output


def _nested(depth: int) -> bytes:
    return ("a = " + "[" * depth + "]" * depth).encode()


_CONFIGISH = st.text(alphabet="[]{}=,.\"'\\#\n abc1-_:", max_size=400).map(str.encode)
_MUTATED = st.tuples(st.integers(0, 3000), st.binary(min_size=1, max_size=40)).map(
    lambda cut: EXAMPLE.read_bytes()[: cut[0]] + cut[1] + EXAMPLE.read_bytes()[cut[0] :]
)
ANY_CONFIG = st.one_of(
    st.binary(max_size=2000), _CONFIGISH, _MUTATED, st.integers(1, 4000).map(_nested)
)


@settings(
    max_examples=150,
    deadline=5000,  # a hang fails the example (pytest-timeout bounds the whole test)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=ANY_CONFIG)
def test_any_bytes_as_a_config_give_exit_0_or_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    result = CliRunner().invoke(
        main,
        ["check-config", "--config", str(path)],
        env={"XDG_STATE_HOME": str(tmp_path / "state"), "FRONTDESK_CONFIG": str(path)},
    )
    assert result.exit_code in (0, 2), (content, result.output, result.exc_info)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output


# ---- a dead sync ---------------------------------------------------------------------------


def test_a_running_heartbeat_keeps_beating(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    Store(db).close()
    reader = sqlite3.connect(db)
    try:
        with Heartbeat(db, every=0.02):
            first = reader.execute("SELECT beat_at FROM sync_heartbeat").fetchone()[0]
            until(
                lambda: reader.execute("SELECT beat_at FROM sync_heartbeat").fetchone()[0] > first,
                "a second beat",
            )
    finally:
        reader.close()


def _imap_config(tmp_path: Path, dovecot: DovecotServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nusername = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = 9\nfrom_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    return config


def _status_line(db: Path, now: float) -> str:
    store = Store(db)
    try:
        return " · ".join(describe(s, now) for s in store.sync_statuses())
    finally:
        store.close()


def _hhmm(at: float) -> str:
    return time.strftime("%H:%M", time.localtime(at))


def test_a_killed_sync_is_shown_as_not_running_since(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    config, db = _imap_config(tmp_path, dovecot), tmp_path / "store.db"
    sync = subprocess.Popen(
        [*FRONTDESK, "sync", "--config", str(config)],  # live: it would run until stopped
        env={**os.environ, PASSWORD_ENV: dovecot.password, "XDG_STATE_HOME": str(tmp_path / "s")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        until(lambda: "mail: syncing" in _status_line(db, time.time()), "the sync to run", 30)
    finally:
        os.killpg(sync.pid, signal.SIGKILL)
        sync.wait(timeout=10)
    reader = sqlite3.connect(db)
    beat = reader.execute("SELECT beat_at FROM sync_heartbeat").fetchone()[0]
    reader.close()
    # Just after the kill nobody can tell it from a quiet sync; after STALE_AFTER, everyone.
    assert _status_line(db, beat + 1).startswith("mail: syncing")
    assert _status_line(db, beat + STALE_AFTER + 1) == f"mail: sync not running since {_hhmm(beat)}"


def test_a_sync_that_ended_is_shown_as_not_running_at_once(
    tmp_path: Path, dovecot: DovecotServer
) -> None:
    config, db = _imap_config(tmp_path, dovecot), tmp_path / "store.db"
    env = {PASSWORD_ENV: dovecot.password, "XDG_STATE_HOME": str(tmp_path / "s")}
    done = _run("sync", "--once", "--config", str(config), env=env)
    assert done.returncode == 0, done.stderr
    reader = sqlite3.connect(db)
    stopped = reader.execute("SELECT stopped_at FROM sync_heartbeat").fetchone()[0]
    reader.close()
    assert _status_line(db, stopped + 1) == f"mail: sync not running since {_hhmm(stopped)}"
