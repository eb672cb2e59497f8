"""A separate writer process for tests/test_faults.py: `python -m tests.writer_proc DB NAME S
AT` opens the store at time AT (epoch: every writer at once, on a file not created yet), then
ingests, tags and closes conversations through it for S seconds and prints how many it did.
Any error (e.g. "database is locked") ends it with a traceback and exit 1."""

from __future__ import annotations

import sys
import time

from storage.store import Store
from tests.factories import customer, email


def write_for(store: Store, name: str, seconds: float) -> int:
    account = store.ensure_account(f"writer-{name}", "imap")
    who = customer(f"{name}@example.com", name)
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = email(account, f"<{name}-{done}@example.com>", time.time(), who=who)
        conversation = store.ingest([message])[0].conversation_id
        store.tag([conversation], name, f"w-{name}")
        store.close_conversation(conversation, name)
        done += 1
    return done


def main() -> None:
    path, name, seconds, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    time.sleep(max(0.0, float(start_at) - time.time()))
    store = Store(path)
    try:
        print(write_for(store, name, seconds))
    finally:
        store.close()


if __name__ == "__main__":
    main()
