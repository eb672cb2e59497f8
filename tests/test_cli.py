"""The `frontdesk` command contract, run as a real process where exit codes matter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from storage.store import Store
from tests.factories import email
from tests.test_config import EXAMPLE, IMAP

FRONTDESK = [sys.executable, "-m", "console"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRONTDESK, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def config_with_store(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    db = tmp_path / "store.db"
    agent = '[agent]\nname = "Sam"\nemail = "sam@desk.test"\n'  # check-config requires one
    path.write_text(f'[storage]\npath = "{db}"\n{agent}{extra}', encoding="utf-8")
    return path


def test_check_config_passes_on_the_example() -> None:
    done = run("check-config", "--config", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_check_config_fails_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(IMAP + 'password = "hunter2"\n', encoding="utf-8")
    done = run("check-config", "--config", str(bad))
    assert done.returncode == 2
    assert "bad.toml" in done.stderr and "password_cmd" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


def test_check_config_reads_secrets_with_the_flag(tmp_path: Path) -> None:
    path = config_with_store(tmp_path, IMAP + 'password_env = "FD_TEST_UNSET_VAR"\n')
    assert run("check-config", "--config", str(path)).returncode == 0
    done = run("check-config", "--config", str(path), "--secrets")
    assert done.returncode == 2
    assert "FD_TEST_UNSET_VAR is not set" in done.stderr


def test_config_comes_from_the_environment(tmp_path: Path) -> None:
    path = config_with_store(tmp_path)
    done = run("check-config", env={"FRONTDESK_CONFIG": str(path)})
    assert done.returncode == 0 and str(path) in done.stdout


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    done = run("stats", "--json", "--config", str(tmp_path / "nope.toml"))
    assert done.returncode == 2 and "config.example.toml" in done.stderr


def test_stats_json_counts_per_account(tmp_path: Path) -> None:
    path = config_with_store(tmp_path)
    store = Store(tmp_path / "store.db")
    account = store.ensure_account("support-mail", "imap")
    store.ingest(
        [email(account, "<1@x>", 1e9), email(account, "<2@x>", 1e9 + 1, parents=("<1@x>",))]
    )
    store.close()
    done = run("stats", "--json", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "conversations": 1,
        "messages": 2,
        "accounts": [{"name": "support-mail", "kind": "imap", "conversations": 1, "messages": 2}],
    }


def test_sync_once_never_pretends(tmp_path: Path) -> None:
    text = (
        '[[accounts]]\nname = "team-slack"\nkind = "slack"\nbot_token_env = "T"\n'
        'api_url = "http://127.0.0.1:9/api/"\n'
    )
    path = config_with_store(tmp_path, text)
    done = run("sync", "--once", "--config", str(path))
    assert done.returncode != 0
    assert "team-slack:" in done.stderr


def test_sync_once_with_no_accounts_wakes_snoozes_and_exits_0(tmp_path: Path) -> None:
    path = config_with_store(tmp_path)
    store = Store(tmp_path / "store.db", clock=lambda: 1e9)
    account = store.ensure_account("support-mail", "imap")
    cid = store.ingest([email(account, "<1@x>", 1e9 - 10)])[0].conversation_id
    store.snooze(cid, "Sam", 1e9 + 1)
    store.close()
    done = run("sync", "--once", "--config", str(path))
    assert done.returncode == 0, done.stderr
    store = Store(tmp_path / "store.db")
    assert store.detail(cid).conversation.status == "open"
    store.close()
