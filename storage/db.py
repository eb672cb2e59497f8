"""Opening the SQLite store: pragmas, numbered migrations, transactions."""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


class StoreError(Exception):
    """The store cannot be opened or written; the message says why in plain words."""


def migrations() -> list[tuple[int, str]]:
    """Every numbered migration shipped in storage/schema, in order."""
    found = []
    for entry in resources.files("storage.schema").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path`, migrated to the latest schema."""
    path = Path(path)
    if not readonly:
        _ensure_parent(path)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        _configure(conn)
        if not readonly:
            migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    return conn


def _ensure_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for the store {path}: {exc}") from exc


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # WAL lets several consoles read while `frontdesk sync` writes; NORMAL is durable in WAL
    # mode except for the last transactions on power loss, never corrupting.
    _switch_to_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Switching a new file to WAL needs an exclusive lock, and SQLite answers BUSY at once,
    without the busy timeout, when two processes holding shared locks both want it (a
    deadlock otherwise): retry for up to the busy timeout. Once in WAL this is a no-op."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != 5 or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))  # apart, or they collide again


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations newer than the store's `user_version`; return the new version."""
    pending = [m for m in migrations() if m[0] > schema_version(conn)]
    if not pending:
        return schema_version(conn)  # the common case: no write lock taken
    with transaction(conn):
        # Re-read under the write lock: processes opening a new store together (sync and a
        # console) must not both apply a migration ("table accounts already exists").
        current = schema_version(conn)
        for number, script in pending:
            if number <= current:
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            current = number
    return current


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration, one by one (executescript would commit our transaction
    first). complete_statement knows trigger bodies, string literals and comments."""
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            yield script[start : end + 1]
            start = end + 1
    if script[start:].strip():
        yield script[start:]  # a trailing comment, or an unfinished statement SQLite rejects


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction; IMMEDIATE takes the write lock up front so it cannot deadlock.

    A write the file system refuses (disk full, read-only file, I/O error, locked for longer
    than the busy timeout) is rolled back and raised as a `StoreError` that says so."""
    if conn.in_transaction:  # nested use joins the outer transaction
        yield conn
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
    except sqlite3.OperationalError as exc:
        problem = write_problem(conn, exc)
        if problem is None:
            raise
        raise StoreError(problem) from exc


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
    if conn.in_transaction:
        conn.execute("ROLLBACK")


# SQLite result codes (primary, low byte) whose cause is outside the program.
_WRITE_PROBLEMS = {
    5: "the store {path} stayed locked by another process for over {busy} s; try again",
    8: "the store {path} is read-only: check the file's and its folder's permissions",
    10: "the store {path} could not be written (I/O error): check the disk",
    13: "the disk is full: the store {path} cannot grow; free some space and try again",
}


def write_problem(conn: sqlite3.Connection, exc: sqlite3.Error) -> str | None:
    """A plain sentence for an error the user must fix outside Frontdesk, else None."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    template = _WRITE_PROBLEMS.get(code)
    if template is None:
        return None
    return template.format(path=_file_of(conn), busy=BUSY_TIMEOUT_MS // 1000)


def _file_of(conn: sqlite3.Connection) -> str:
    try:
        return str(conn.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:
        return "file"
