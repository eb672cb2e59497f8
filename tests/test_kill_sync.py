"""`frontdesk sync --once` SIGKILLed at random points, then run to the end: nothing lost,
nothing stored twice, threads intact, checkpoint at the last UID.

The kill is SIGKILL to the process group (the parse workers too), as an OOM kill or a power cut
would leave things: no `finally`, no rollback but SQLite's own.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.store import Store
from tests.imap_helpers import PASSWORD_ENV, SUPPORT, mail
from tests.servers.dovecot import DovecotServer
from tests.slack.fixtures import BOT_TOKEN
from tests.slack.server import LocalSlack

THREADS, PER_THREAD = 500, 3  # 1,500 messages (15 batches of 100): a root and two replies each
# Each run is killed after a random delay up to a full run's time (start-up, login, fetch,
# store), or just after it stored a batch of its own if that comes first: a resumed run has
# less to do, and timing alone would let most of them finish (~20 ms for 100 messages).
KILLS = 9
RUN_TIMEOUT = 60.0


def _thread_mail(thread: int, n: int) -> bytes:
    root = f"<t{thread}-0@customer.example>"
    msgid = f"<t{thread}-{n}@customer.example>"
    previous = f"<t{thread}-{n - 1}@customer.example>"
    return mail(
        msgid,
        subject=("Re: " if n else "") + f"Order {thread}",
        body=f"Message {n} about order {thread}.\n",
        in_reply_to=previous if n else None,
        references=" ".join(dict.fromkeys([root, previous])) if n else None,
    ).as_bytes()


def _imap_config(tmp_path: Path, dovecot: DovecotServer, db: Path) -> Path:
    config = tmp_path / f"{db.stem}.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nusername = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = 9\nfrom_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    return config


def _spawn(config: Path) -> subprocess.Popen[bytes]:
    # Its own session: the kill reaches the forkserver and parse workers it starts, too.
    return subprocess.Popen(
        [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill_at(process: subprocess.Popen[bytes], db: Path, delay: float) -> bool:
    """SIGKILL the run's group after `delay` s or once it stored a batch, whichever is
    first; True if it was still running then."""
    before, deadline = _stored(db), time.monotonic() + delay
    reader = sqlite3.connect(db)  # one connection, polled: batches land milliseconds apart
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if _count(reader) > before:
                break
            time.sleep(0.001)
    finally:
        reader.close()
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=RUN_TIMEOUT)
    return True


def _measured_run(config: Path, db: Path) -> tuple[float, float]:
    """Run to the end; return when the first batch was stored and when the run ended."""
    started, first = time.monotonic(), None
    process = _spawn(config)
    deadline = started + RUN_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        if first is None and _stored(db):
            first = time.monotonic() - started
        time.sleep(0.005)
    _, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, err.decode()
    full = time.monotonic() - started
    return (first or full), full


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def _stored(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return _count(conn)
    finally:
        conn.close()


def _count(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    except sqlite3.OperationalError:  # killed before the schema was created
        return 0


def test_sigkill_at_any_point_then_a_full_run_loses_and_doubles_nothing(
    dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    uids = dovecot.append_many(
        "INBOX", [_thread_mail(t, n) for n in range(PER_THREAD) for t in range(THREADS)]
    )
    for name in ("warm-up", "measure"):  # Dovecot builds its caches on the first FETCH
        measure = tmp_path / f"{name}.db"
        first, full = _measured_run(_imap_config(tmp_path, dovecot, measure), measure)
    db = tmp_path / "store.db"
    config = _imap_config(tmp_path, dovecot, db)
    rng = random.Random(8)
    progress, hits = [], 0
    for delay in sorted(rng.uniform(0.05, full) for _ in range(KILLS)):
        hits += _kill_at(_spawn(config), db, delay)
        assert _integrity(db) == "ok"
        progress.append(_stored(db))
    print(f"first batch {first:.2f} s, full run {full:.2f} s; stored after each kill: {progress}")
    assert hits >= KILLS - 1  # the kills landed on running syncs
    assert len({n for n in progress if 0 < n < len(uids)}) >= 2  # some between batches

    _measured_run(config, db)

    _assert_complete(db, len(uids), max(uids))


def _assert_complete(db: Path, total: int, last_uid: int) -> None:
    store = Store(db)
    try:
        conn = store.conn
        ids = [r[0] for r in conn.execute("SELECT remote_id FROM messages")]
        assert len(ids) == len(set(ids)) == total
        per_conversation = conn.execute(
            "SELECT count(*) FROM messages GROUP BY conversation_id"
        ).fetchall()
        assert [r[0] for r in per_conversation] == [PER_THREAD] * THREADS
        # No conversation mixes two orders: each holds exactly one thread.
        mixed = conn.execute(
            "SELECT conversation_id FROM messages GROUP BY conversation_id"
            " HAVING count(DISTINCT substr(remote_id, 1, instr(remote_id, '-'))) > 1"
        ).fetchall()
        assert mixed == []
        account = store.ensure_account("mail", "imap")
        checkpoint = store.checkpoint(account, "folder:INBOX")
        assert checkpoint is not None and checkpoint["last_uid"] == last_uid
    finally:
        store.close()


# ---- Slack --------------------------------------------------------------------------------

# Two history pages of 200: `sync` runs with Slack's real pacing (no config knob lifts it),
# and a few calls per method go as a burst; more pages would add ~1.2 s each.
SLACK_TOPS, SLACK_THREADS, SLACK_REPLIES = 400, 2, 3
SLACK_ENV = "FD_TEST_KILL_SLACK"


def _slack_config(tmp_path: Path, slack: LocalSlack, db: Path) -> Path:
    config = tmp_path / f"{db.stem}.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "team-slack"\nkind = "slack"\n'
        f'bot_token_env = "{SLACK_ENV}"\napi_url = "{slack.api_url}"\n'
        "group_window_minutes = 0\n",
        encoding="utf-8",
    )
    return config


async def _aspawn(config: Path) -> asyncio.subprocess.Process:
    # Not subprocess.run: the local Slack lives on this event loop and must keep answering.
    return await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )


async def _akill_after_a_page(process: asyncio.subprocess.Process, db: Path) -> int | None:
    """SIGKILL the run's group as soon as it stored a page of its own (a chosen point, not a
    measured delay: the kill lands between two pages however slow the machine). Returns the
    count stored then, or None if the run ended first (nothing was left to store)."""
    before, deadline = _stored(db), time.monotonic() + RUN_TIMEOUT
    reader = sqlite3.connect(db)
    try:
        while process.returncode is None and _count(reader) <= before:
            assert time.monotonic() < deadline, "the run stored nothing within the timeout"
            await asyncio.sleep(0.001)  # a poll interval; the condition is the count
    finally:
        reader.close()
    if process.returncode is not None:
        return None
    os.killpg(process.pid, signal.SIGKILL)
    await asyncio.wait_for(process.wait(), RUN_TIMEOUT)
    return _stored(db)


async def _afull_run(config: Path) -> float:
    started = time.monotonic()
    process = await _aspawn(config)
    _, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode == 0, err.decode()
    return time.monotonic() - started


async def test_sigkill_during_a_slack_backfill_then_a_full_run_loses_nothing(
    local_slack: LocalSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SLACK_ENV, BOT_TOKEN)
    channel = local_slack.add_channel("support")
    users = [local_slack.add_user(name) for name in ("alice", "bob")]
    tops = local_slack.bulk_history(
        channel,
        SLACK_TOPS,
        threads_every=SLACK_TOPS // SLACK_THREADS,
        replies=SLACK_REPLIES,
        users=users,
    )
    db = tmp_path / "store.db"
    config = _slack_config(tmp_path, local_slack, db)
    total = SLACK_TOPS + SLACK_THREADS * SLACK_REPLIES
    # Run 1 is killed during start-up, before it stored anything; runs 2 and 3 each just after
    # they stored their first page (pages are Slack-paced, ~1 s apart, so never both at once).
    early = await _aspawn(config)
    os.killpg(early.pid, signal.SIGKILL)
    await asyncio.wait_for(early.wait(), RUN_TIMEOUT)
    progress: list[int | None] = [_stored(db)]
    for _ in range(2):
        progress.append(await _akill_after_a_page(await _aspawn(config), db))
        assert _integrity(db) == "ok"
    print(f"slack: stored after each kill: {progress}")
    assert progress[0] == 0
    first, second = progress[1], progress[2]
    assert first is not None and second is not None  # both kills landed on running syncs
    assert 0 < first < second < total  # each between two pages, each resumed where it was

    await _afull_run(config)

    store = Store(db)
    try:
        ids = [r[0] for r in store.conn.execute("SELECT remote_id FROM messages")]
        assert len(ids) == len(set(ids)) == total
        sizes = sorted(
            r[0]
            for r in store.conn.execute("SELECT count(*) FROM messages GROUP BY conversation_id")
        )
        threads = [1 + SLACK_REPLIES] * SLACK_THREADS
        assert sizes == [1] * (SLACK_TOPS - SLACK_THREADS) + threads
        account = store.ensure_account("team-slack", "slack")
        assert store.checkpoint(account, f"channel:{channel}") == {"oldest": tops[-1]}
    finally:
        store.close()
