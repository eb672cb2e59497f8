"""Long syncs show their progress on a terminal, and stay silent in cron and CI.

The display is driven with a hand-set clock (texts and figures worked out by hand below),
then `frontdesk sync --once` runs for real against Dovecot with stderr on a pseudo-terminal,
and once more with stderr on a pipe.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors import progress as progress_module
from connectors.progress import (
    SILENT,
    TerminalProgress,
    for_terminal,
    format_duration,
    reporting,
    track,
)
from storage.aio import AsyncStore
from storage.store import Store
from storage.sync_status import describe
from tests.imap_helpers import (
    PASSWORD_ENV,
    account_settings,
    astore_fixture,  # noqa: F401
    imap_password_fixture,  # noqa: F401
    mail,
    sync,
)
from tests.servers.dovecot import DovecotServer

ERASE = "\x1b[K"
E = re.escape(ERASE)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def display(width: int = 80) -> tuple[TerminalProgress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return TerminalProgress(out, clock=clock, width=lambda: width), out, clock


def test_one_line_rewritten_in_place_with_rate_and_time_left() -> None:
    progress, out, clock = display()
    folder = progress.folder("work", "INBOX", 250)
    assert out.getvalue() == f"\rwork: INBOX 0/250 messages{ERASE}"
    clock.now += 2.0
    folder.update(100)  # 100 in 2 s: 50 msg/s; 150 left at 50/s: 3 s
    assert out.getvalue().endswith(f"\rwork: INBOX 100/250 messages, 50 msg/s, 3.0 s left{ERASE}")
    before = out.getvalue()
    clock.now += 0.05
    folder.update(200)  # 50 ms after the last redraw: not drawn (at most 10 a second)
    assert out.getvalue() == before
    clock.now += 2.95
    folder.update(250)  # the last batch is always drawn: 250 in 5 s
    folder.finish()
    assert out.getvalue()[len(before) :] == (
        f"\rwork: INBOX 250/250 messages, 50 msg/s{ERASE}"
        f"\rwork: INBOX 250 messages in 5.0 s (50 msg/s){ERASE}\n"
    )


def test_short_fetches_show_nothing() -> None:
    progress, out, _ = display()
    for total in (1, 100):  # the one message IDLE announced; a single batch
        folder = progress.folder("work", "INBOX", total)
        folder.update(total)
        folder.finish()
    assert out.getvalue() == ""
    progress.folder("work", "INBOX", 101)
    assert out.getvalue() == f"\rwork: INBOX 0/101 messages{ERASE}"


def test_a_failed_pass_says_where_it_stopped() -> None:
    progress, out, clock = display()
    folder = progress.folder("work", "Archive", 1200)
    clock.now += 12.4
    folder.update(300)  # 300 in 12.4 s: 24.19 msg/s; 900 left: 37.2 s, shown rounded up
    assert out.getvalue().endswith(
        f"\rwork: Archive 300/1,200 messages, 24 msg/s, 38 s left{ERASE}"
    )
    folder.finish()
    assert out.getvalue().endswith(
        f"\rwork: Archive stopped at 300/1,200 messages after 13 s{ERASE}\n"
    )


def test_folders_synced_at_once_share_the_line() -> None:
    progress, out, clock = display()
    mail_folder = progress.folder("mail", "INBOX", 200)
    chat = progress.folder("chat", "Sent", 300)
    assert out.getvalue().endswith(
        f"\rmail: INBOX 0/200 messages | chat: Sent 0/300 messages{ERASE}"
    )
    clock.now += 4.0
    mail_folder.update(200)
    mail_folder.finish()  # its summary stays; the other folder is drawn again below it
    assert out.getvalue().endswith(
        f"\rmail: INBOX 200 messages in 4.0 s (50 msg/s){ERASE}\n\rchat: Sent 0/300 messages{ERASE}"
    )
    chat.finish()
    assert out.getvalue().endswith(f"\rchat: Sent stopped at 0/300 messages after 4.0 s{ERASE}\n")


def test_the_line_never_wraps_and_names_are_cleaned() -> None:
    progress, out, _ = display(width=24)
    progress.folder("work", "受信箱\x1b]0;owned\x07 INBOX", 500)
    # 23 cells: "work: " (6) + three wide characters (6) + " INBOX 0/50" (11).
    assert out.getvalue() == f"\rwork: 受信箱 INBOX 0/50{ERASE}"


def test_durations_read_naturally() -> None:
    assert format_duration(0.44) == "0.4 s"
    assert format_duration(42.1) == "43 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3725) == "1 h 03 min"  # 62 min 5 s, rounded up to the minute


def test_a_terminal_that_goes_away_ends_the_display_not_the_sync() -> None:
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    progress = TerminalProgress(Gone(), width=lambda: 80)
    folder = progress.folder("work", "INBOX", 500)
    folder.update(500)
    folder.finish()  # nothing raised


def test_only_a_real_terminal_gets_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    assert for_terminal(io.StringIO()) is None
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as tty:
            monkeypatch.setenv("TERM", "xterm")
            assert isinstance(for_terminal(tty), TerminalProgress)
            monkeypatch.setenv("TERM", "dumb")  # cannot erase a line
            assert for_terminal(tty) is None
    finally:
        os.close(follower)
        os.close(leader)


def test_nothing_is_reported_without_a_sink() -> None:
    assert track("work", "INBOX", 10_000) is SILENT
    progress, out, _ = display()
    with reporting(progress):
        track("work", "INBOX", 10_000)
    assert track("work", "INBOX", 10_000) is SILENT
    assert out.getvalue() == f"\rwork: INBOX 0/10,000 messages{ERASE}"


# ------------------------------------------------------------------ frontdesk sync, for real

MESSAGES = 230  # three batches of up to 100
COLUMNS = 120


def mailbox(dovecot: DovecotServer, tmp_path: Path) -> tuple[Path, Path]:
    """INBOX with MESSAGES customer mails; a config for the account; the store's path."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    dovecot.append_many(
        "INBOX",
        [
            mail(
                f"<q{n}@customer.example>",
                subject=f"Question {n}",
                date=start + timedelta(minutes=n),
            ).as_bytes()
            for n in range(MESSAGES)
        ],
    )
    db = tmp_path / "store.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "support-mail"\nkind = "imap"\n'
        f'imap_host = "127.0.0.1"\nimap_port = {dovecot.port}\nimap_security = "none"\n'
        f'username = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        'smtp_host = "127.0.0.1"\nsmtp_port = 9\nsmtp_security = "none"\n'
        f'from_address = "Support Team <{dovecot.user}>"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config, db


@pytest.mark.usefixtures("imap_password")
async def test_the_consoles_account_status_shows_the_same_figures(
    dovecot: DovecotServer,
    tmp_path: Path,
    store: Store,
    astore: AsyncStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox(dovecot, tmp_path)
    monkeypatch.setattr(progress_module, "STATUS_INTERVAL", 0.0)  # every batch, not 1 a second
    settings = account_settings(dovecot)
    account_id = store.ensure_account(settings.name, "imap")
    store.set_sync_status(account_id, "syncing", "live")  # as the live runner leaves it
    seen: list[str] = []

    async def on_batch(folder: str, last_uid: int) -> None:
        # Called as each batch is stored, before the figures move on to include it.
        [status] = await astore.call(Store.sync_statuses)
        seen.append(describe(status, status.updated_at))

    await sync(settings, astore, on_batch=on_batch)
    assert [re.sub(r", [\d,.]+ msg/s, (\d+ min )?[\d.]+ s left", "", line) for line in seen] == [
        f"support-mail: syncing (INBOX 0/{MESSAGES} messages)",
        f"support-mail: syncing (INBOX 100/{MESSAGES} messages)",
        f"support-mail: syncing (INBOX 200/{MESSAGES} messages)",
    ]
    assert re.fullmatch(
        rf"support-mail: syncing \(INBOX 100/{MESSAGES} messages, "
        r"[\d,.]+ msg/s, (\d+ min )?[\d.]+ s left\)",
        seen[1],
    )
    [status] = store.sync_statuses()
    assert (status.state, status.detail) == ("syncing", "live")  # put back once done


def sync_env(dovecot: DovecotServer) -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: dovecot.password, "TERM": "xterm"}


def stored_messages(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


def run_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal COLUMNS wide: (exit code, stdout, stderr)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=follower, env=env)
        os.close(follower)
        follower = -1
        shown = read_until_closed(leader, proc, deadline=time.monotonic() + 60)
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        return proc.wait(timeout=10), stdout, shown
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)


def read_until_closed(leader: int, proc: subprocess.Popen[bytes], deadline: float) -> str:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            proc.wait()
            raise AssertionError("frontdesk sync did not finish within 60 s")
        ready, _, _ = select.select([leader], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(leader, 65_536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_sync_on_a_terminal_shows_each_folders_progress(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    config, db = mailbox(dovecot, tmp_path)
    argv = [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)]
    code, stdout, shown = run_on_a_terminal(argv, sync_env(dovecot))
    assert (code, stdout) == (0, ""), shown
    assert stored_messages(db) == MESSAGES
    # The terminal turns "\n" into "\r\n" (onlcr).
    draws = shown.replace("\r\n", "\n").split("\r")
    assert draws[0] == ""
    assert draws[1] == f"support-mail: INBOX 0/{MESSAGES} messages{ERASE}"
    assert re.fullmatch(
        rf"support-mail: INBOX {MESSAGES}/{MESSAGES} messages, [\d,.]+ msg/s{E}", draws[-2]
    ), draws
    assert re.fullmatch(
        rf"support-mail: INBOX {MESSAGES} messages in [\d.]+ s \([\d,.]+ msg/s\){E}\n",
        draws[-1],
    ), draws
    # Every draw between is the same folder further on, short of the terminal's width.
    for draw in draws[2:-2]:
        assert re.fullmatch(
            rf"support-mail: INBOX (100|200)/{MESSAGES} messages, [\d,.]+ msg/s, "
            rf"(?:\d+ min )?[\d.]+ s left{E}",
            draw,
        ), draws
    assert max(len(d) for d in draws) < COLUMNS + len(ERASE)


def test_sync_in_cron_or_ci_is_silent(dovecot: DovecotServer, tmp_path: Path) -> None:
    config, db = mailbox(dovecot, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=sync_env(dovecot),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert stored_messages(db) == MESSAGES
