"""Storage under faults: several writer processes on one file, a full disk, a read-only
file or folder. Each must end in a plain sentence (`StoreError`) and an intact store."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.db import StoreError
from storage.store import Store
from tests.factories import email
from tests.servers.fixtures import in_ci
from tests.writer_proc import write_for

WRITERS = 3
WRITE_SECONDS = 3.0
START_DELAY = 1.5  # enough for the writers' interpreters to start on a busy 2-core machine


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# ---- several writers ------------------------------------------------------------------------


def test_several_writer_processes_and_this_one_never_see_a_locked_database(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.db"  # not created yet: all open it at once, racing to migrate
    names = [f"p{n}" for n in range(WRITERS)]
    start_at = time.time() + START_DELAY
    argv = [sys.executable, "-m", "tests.writer_proc", str(db)]
    procs = [
        subprocess.Popen(
            [*argv, name, str(WRITE_SECONDS), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    time.sleep(max(0.0, start_at - time.time()))
    store = Store(db)
    try:
        done = {"main": write_for(store, "main", WRITE_SECONDS)}
        for name, proc in zip(names, procs, strict=True):
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            done[name] = int(out)
        for name, count in done.items():
            assert count > 10, done  # each one got real turns at the write lock
            _assert_written(store, name, count)
    finally:
        store.close()
    assert _integrity(db) == "ok"


def _assert_written(store: Store, name: str, count: int) -> None:
    account = store.ensure_account(f"writer-{name}", "imap")
    rows = store.conn.execute(
        "SELECT count(*), sum(c.status = 'closed') FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE m.account_id = ?",
        (account,),
    ).fetchone()
    tagged = store.conn.execute(
        "SELECT count(*) FROM conversation_tags ct JOIN tags t ON t.id = ct.tag_id"
        " WHERE t.name = ?",
        (f"w-{name}",),
    ).fetchone()[0]
    assert (rows[0], rows[1], tagged) == (count, count, count)


# ---- disk full ------------------------------------------------------------------------------


def test_a_full_disk_is_a_plain_error_and_the_store_stays_intact(db_path: Path) -> None:
    store = Store(db_path)
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<before@x>", 1.0)])
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    # The connection may not grow the file any more: the next big write is SQLITE_FULL,
    # exactly as when the disk fills up.
    store.conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    big = [email(account, f"<big-{n}@x>", 2.0, text="x" * 4000) for n in range(50)]
    with pytest.raises(StoreError, match="disk is full") as caught:
        store.ingest(big)
    assert "Traceback" not in str(caught.value)
    store.close()

    assert _integrity(db_path) == "ok"
    after = Store(db_path)  # nothing half-written: the failed batch left no trace
    try:
        ids = [r[0] for r in after.conn.execute("SELECT remote_id FROM messages")]
        assert ids == ["<before@x>"]
        after.ingest([email(account, "<after@x>", 3.0)])  # and it takes writes again
    finally:
        after.close()


# ---- read-only ------------------------------------------------------------------------------


_BIND_RO = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
_WRITE_ONCE = """
import sys
from storage.db import StoreError
from storage.store import Store
store = Store(sys.argv[1])  # opening still works (a console can show the queue)
try:
    store.ensure_account("mail", "imap")
except StoreError as error:
    print(error)
    sys.exit(3)
finally:
    store.close()
"""


def _run_read_only(path: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` in a child that sees `path` read-only, without chattr.

    As root (CI), the child gets a private mount namespace (`unshare -m`) where the file is a
    read-only bind mount: even root's writes fail with EROFS. Otherwise a plain mode 0444 does.
    """
    run = {"capture_output": True, "text": True, "timeout": 60, "check": False}
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            return subprocess.run(argv, **run)  # type: ignore[call-overload, no-any-return]
        finally:
            path.chmod(0o644)
    unshare = shutil.which("unshare")
    if unshare is None:
        reason = "root without unshare(1): cannot make the store read-only"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    prefix = [unshare, "-m", "sh", "-c", _BIND_RO, "sh", str(path)]
    return subprocess.run([*prefix, *argv], **run)  # type: ignore[call-overload, no-any-return]


def test_a_read_only_store_file_is_a_plain_error_on_write(db_path: Path) -> None:
    Store(db_path).close()
    done = _run_read_only(db_path, [sys.executable, "-c", _WRITE_ONCE, str(db_path)])
    assert done.returncode == 3, done.stderr  # the first write raised StoreError, nothing else
    assert "is read-only" in done.stdout
    assert "Traceback" not in done.stderr
    assert _integrity(db_path) == "ok"


def test_the_cli_says_why_it_cannot_write_and_exits_non_zero(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    Store(db).close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "team-slack"\nkind = "slack"\n'
        'bot_token_env = "FD_NOT_SET"\napi_url = "http://127.0.0.1:9/api/"\n',
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)]
    done = _run_read_only(db, argv)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "is read-only" in done.stderr
    assert _integrity(db) == "ok"
