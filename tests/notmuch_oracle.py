"""Threads as notmuch sees them, and conversations as our store forms them, for one set of mail
files: the oracle of tests/test_threading_vs_notmuch.py and bench/threading_vs_notmuch.py.

notmuch runs on a throw-away maildir with its own NOTMUCH_CONFIG (the user's database is never
touched). Threads are compared as sets of Message-IDs: notmuch keeps one message per id.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from connectors.email.mapping import Fetched, MapContext, to_inbound
from storage.store import Store

Partition = set[frozenset[str]]
SUPPORT = "help@frontdesk.test"
WINDOW = 30 * 86_400.0


def notmuch_threads(files: Sequence[Path]) -> Partition:
    """notmuch's threads of `files`, as sets of Message-IDs in angle brackets."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        maildir = root / "mail"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        for n, path in enumerate(files):
            shutil.copyfile(path, maildir / "cur" / f"{n}.eml:2,")
        config = root / "notmuch-config"
        config.write_text(
            f"[database]\npath={maildir}\n[user]\nname=Test\nprimary_email=t@example.invalid\n"
            "[new]\ntags=\n[maildir]\nsynchronize_flags=false\n"
        )
        env = {**os.environ, "NOTMUCH_CONFIG": str(config)}
        subprocess.run(["notmuch", "new", "--quiet"], env=env, check=True, capture_output=True)
        shown = subprocess.run(
            ["notmuch", "show", "--format=json", "--body=false", "--entire-thread=true", "*"],
            env=env,
            check=True,
            capture_output=True,
        ).stdout
    return {frozenset(_ids(thread)) for thread in json.loads(shown)}


def _ids(node: object) -> Iterator[str]:
    """Message ids anywhere in notmuch's nested [message, [replies]] JSON."""
    if isinstance(node, dict) and "id" in node:
        yield f"<{node['id']}>"
    elif isinstance(node, list):
        for item in node:
            yield from _ids(item)


def our_conversations(files: Sequence[Path], db: Path, seed: int | None = None) -> Partition:
    """Our conversations of `files` delivered (in a shuffled order for a seed) into a new
    store at `db`, one batch per 25 messages, as Message-ID sets."""
    mails = [path.read_bytes() for path in files]
    if seed is not None:
        random.Random(seed).shuffle(mails)
    store = Store(db)
    try:
        account = store.ensure_account("corpus", "imap")
        ctx = MapContext(account, SUPPORT, WINDOW, "INBOX", 1)
        items = [to_inbound(Fetched(n + 1, None, data), ctx) for n, data in enumerate(mails)]
        for start in range(0, len(items), 25):
            store.ingest(items[start : start + 25])
        rows = store.conn.execute("SELECT conversation_id, thread_ref FROM messages").fetchall()
    finally:
        store.close()
    groups: dict[int, set[str]] = {}
    for conversation, ref in rows:
        groups.setdefault(conversation, set()).add(ref)
    return {frozenset(g) for g in groups.values()}


def wrong_merges(ours: Partition, theirs: Partition) -> list[frozenset[str]]:
    """Our conversations holding messages of more than one notmuch thread."""
    owner = {mid: thread for thread in theirs for mid in thread}
    return [group for group in ours if len({owner.get(mid) for mid in group}) > 1]


def splits(ours: Partition, theirs: Partition) -> list[frozenset[str]]:
    """notmuch threads that we spread over more than one conversation."""
    owner = {mid: group for group in ours for mid in group}
    return [thread for thread in theirs if len({owner.get(mid) for mid in thread}) > 1]
