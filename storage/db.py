"""Opening the SQLite store: pragmas, numbered migrations, transactions.

Customer data stays private on a shared host: a new store, its WAL/SHM and the folders created
for it are 0600/0700 whatever the umask (`private_files`), and an existing store readable by
others is reported once per process (`loose_modes`) with the chmod to run.

A damaged file is caught before the next write: `require_intact` (PRAGMA quick_check, run by
`frontdesk sync` on open) and any write SQLite finds corrupt raise `StoreDamaged`, one sentence
saying what to do. A store the process may not write (read-only file system or folder) opens
read-only, so reads still work; its first write raises `StoreError` saying it is read-only.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


class StoreError(Exception):
    """The store cannot be opened or written; the message says why in plain words."""


class StoreDamaged(StoreError):
    """The file fails SQLite's integrity check: no write may go to it."""


# What a read of a damaged (or foreign) file raises past the store's face: callers catch
# this name, not the driver's.
ReadError = sqlite3.DatabaseError


DAMAGED = (
    "the store {path} is damaged ({problem}); nothing more will be written to it:"
    " restore it from a backup, or save what can still be read with `frontdesk export`"
    " (`frontdesk doctor` shows the details)"
)
_CORRUPT, _NOTADB, _READONLY, _CANTOPEN = 11, 26, 8, 14


def migrations() -> list[tuple[int, str]]:
    """Every numbered migration shipped in storage/schema, in order."""
    found = []
    for entry in resources.files("storage.schema").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_warned_modes: set[Path] = set()


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path`, migrated to the latest schema."""
    path = Path(path)
    if not readonly:
        make_private_dir(path.parent)
    warn_loose_modes(path)
    try:
        try:
            return _open(path, "ro" if readonly else "rwc", migrated=not readonly)
        except sqlite3.OperationalError as exc:
            if _code(exc) not in (_READONLY, _CANTOPEN) or not path.is_file():
                raise
            return _open_read_only(path, current=not readonly)
    except sqlite3.DatabaseError as exc:
        if _code(exc) in (_CORRUPT, _NOTADB):
            raise StoreDamaged(DAMAGED.format(path=path, problem=exc)) from exc
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc


@contextmanager
def peek(path: Path) -> Iterator[sqlite3.Connection]:
    """An existing store file read as it is: no migration, no pragma, nothing created (for a
    quick look such as `frontdesk config check`). Any SQLite error, opening or reading
    inside the block, is raised as a `StoreError`."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            yield conn
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the store at {path}: {exc}") from exc


def _open(path: Path, mode: str, *, migrated: bool, immutable: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode={mode}" + ("&immutable=1" if immutable else "")
    with private_files():
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            _configure(conn)
            if migrated:
                migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def _open_read_only(path: Path, *, current: bool) -> sqlite3.Connection:
    """The store where this process may not write (read-only file system, folder or file):
    readable, every write refused. Without a writable folder SQLite cannot make the WAL index,
    and reads the file as immutable (nobody can be writing it either). `current`: the caller
    expects the latest schema (it was asking for a writable store)."""
    try:
        conn = _open(path, "ro", migrated=False)
    except sqlite3.OperationalError:
        conn = _open(path, "ro", migrated=False, immutable=True)
    if current and schema_version(conn) < migrations()[-1][0]:
        conn.close()
        raise StoreError(
            f"the store {path} is read-only and needs a schema upgrade: make it writable once"
        )
    return conn


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def integrity_problems(
    conn: sqlite3.Connection, limit: int = 5, budget: float | None = None
) -> list[str]:
    """What `PRAGMA quick_check` finds wrong (at most `limit` lines); [] for a sound file.

    With a `budget` (seconds), a check still running then is abandoned: [] means nothing was
    found in the part it read (a huge store opens in bounded time)."""
    deadline = None if budget is None else time.monotonic() + budget
    if deadline is not None:
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        rows = conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()
    except sqlite3.OperationalError as exc:
        if deadline is not None and "interrupted" in str(exc):
            return []
        return [str(exc)]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.set_progress_handler(None, 0)
    found = [" ".join(str(row[0]).replace("*** in database main ***", "").split()) for row in rows]
    return [] if found == ["ok"] else found


def require_intact(conn: sqlite3.Connection, budget: float | None = None) -> None:
    """Raise `StoreDamaged` if the file fails the quick check: before any write of a sync."""
    problems = integrity_problems(conn, limit=1, budget=budget)
    if problems:
        raise StoreDamaged(DAMAGED.format(path=_file_of(conn), problem=problems[0]))


def make_private_dir(folder: Path) -> None:
    """Create `folder` (and missing parents) 0700; an existing folder is left as it is."""
    try:
        with private_files():
            folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    except OSError as exc:
        raise StoreError(f"cannot create the folder {folder}: {exc}") from exc


_UMASK_LOCK = threading.RLock()


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders created inside are 0600/0700 whatever the umask. SQLite creates the
    WAL and SHM with the main file's mode, and later opens reuse it: the mode set at creation
    holds. The umask is process-wide: a lock keeps two threads from restoring each other's
    value (another thread creating a file meanwhile only gets a stricter mode)."""
    with _UMASK_LOCK:
        old = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(old)


def loose_modes(path: Path) -> list[tuple[Path, int]]:
    """The store and its WAL/SHM when others (group or world) may read or write them."""
    found = []
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append((candidate, mode))
    return found


def warn_loose_modes(path: Path) -> None:
    """Warn once per process, on stderr, that an existing store is readable by others."""
    if path in _warned_modes:
        return
    loose = loose_modes(path)
    if not loose:
        return
    _warned_modes.add(path)
    names = " ".join(str(p) for p, _ in loose)
    sys.stderr.write(
        f"frontdesk: warning: the store {path} is readable by other users"
        f" ({', '.join(f'{p.name} {m:o}' for p, m in loose)}): run  chmod go-rwx {names}\n"
    )


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # WAL lets several consoles read while `frontdesk sync` writes; NORMAL is durable in WAL
    # mode except for the last transactions on power loss, never corrupting.
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
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
    except sqlite3.DatabaseError as exc:
        problem = write_problem(conn, exc)
        if problem is None:
            raise
        if _code(exc) in (_CORRUPT, _NOTADB):
            raise StoreDamaged(problem) from exc
        raise StoreError(problem) from exc


def scalar(conn: sqlite3.Connection, sql: str, params: Sequence[object] = ()) -> int:
    """The one integer a query returns (a count, an id)."""
    return int(conn.execute(sql, params).fetchone()[0])


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
    _CORRUPT: DAMAGED.replace("{problem}", "database disk image is malformed"),
    _NOTADB: DAMAGED.replace("{problem}", "not an SQLite database"),
}


def write_problem(conn: sqlite3.Connection, exc: sqlite3.Error) -> str | None:
    """A plain sentence for an error the user must fix outside Frontdesk, else None."""
    template = _WRITE_PROBLEMS.get(_code(exc))
    if template is None:
        return None
    return template.format(path=_file_of(conn), busy=BUSY_TIMEOUT_MS // 1000)


def _file_of(conn: sqlite3.Connection) -> str:
    try:
        return str(conn.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:
        return "file"
