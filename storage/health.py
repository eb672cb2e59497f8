"""A store file examined read-only for `frontdesk doctor`, without a Store: nothing is
written, migrated or created. Every read may raise `storage.db.ReadError` on a damaged page
the integrity check did not reach."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from storage import db
from storage.sync_status import last_heartbeat


class Checkup:
    """Open with `Checkup(path)` (raises `StoreError` when the file cannot be opened)."""

    def __init__(self, path: Path) -> None:
        self._conn = db.connect(path, readonly=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Checkup:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def integrity_problems(self) -> list[str]:
        """What `PRAGMA quick_check` finds wrong; [] for a sound file."""
        return db.integrity_problems(self._conn)

    def journal_mode(self) -> str:
        return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    def schema_version(self) -> int:
        return db.schema_version(self._conn)

    def stuck_outbox(self, due_before: float) -> tuple[int, float | None]:
        """(how many, the oldest due time) of the replies left `sending`, or queued or failed
        and due before `due_before`."""
        row = self._conn.execute(
            "SELECT count(*), min(next_attempt_at) FROM outbox"
            " WHERE status = 'sending' OR (status IN ('queued', 'failed') AND next_attempt_at < ?)",
            (due_before,),
        ).fetchone()
        return int(row[0]), row[1]

    def last_heartbeat(self) -> tuple[float, float | None] | None:
        """(last beat, clean stop or None) of the sync process; None if none ever beat."""
        return last_heartbeat(self._conn)
