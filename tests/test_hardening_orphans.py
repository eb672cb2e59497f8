"""Nothing `frontdesk sync` starts outlives it (issue 20, item 4).

A real `frontdesk sync --once` on a Dovecot mailbox big enough to use the parse pool is
SIGKILLed (only its own pid: no `finally`, no chance to shut the pool down) while its parse
workers run. Every process of its session (the forkserver, the workers, multiprocessing's
resource tracker) must be gone within 2 s. Zombies waiting for a reaper are dead: they are
not counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.imap_helpers import PASSWORD_ENV, SUPPORT, mail
from tests.servers.dovecot import DovecotServer
from tests.waits import until

MESSAGES = 3000  # well over the parse pool's threshold (200), several seconds of parsing


def _session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone while we looked
        # pid (comm) state ppid pgrp session ...: comm may hold spaces, split after its ")"
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def _config(tmp_path: Path, dovecot: DovecotServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\n'
        f'imap_security = "none"\nusername = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "127.0.0.1"\nsmtp_port = 9\nfrom_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    return config


def test_parse_workers_die_with_a_killed_sync(tmp_path: Path, dovecot: DovecotServer) -> None:
    dovecot.append_many(
        "INBOX",
        [
            mail(f"<m{i}@customer.example>", body=f"Order {i}\n" * 50).as_bytes()
            for i in range(MESSAGES)
        ],
    )
    sync = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "sync",
            "--once",
            "--config",
            str(_config(tmp_path, dovecot)),
        ],
        env={**os.environ, PASSWORD_ENV: dovecot.password, "XDG_STATE_HOME": str(tmp_path / "s")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its session id is its pid: what it starts is found by that
    )
    try:
        # The sync, the forkserver and at least one parse worker: parsing is under way.
        until(lambda: len(_session_processes(sync.pid)) >= 3, "the parse pool to start", 60)
        assert sync.poll() is None, "the sync finished before it could be killed"
        os.kill(sync.pid, signal.SIGKILL)
        sync.wait(timeout=10)
        until(lambda: _session_processes(sync.pid) == [], "every process of the sync to die", 2.0)
    finally:
        for pid in _session_processes(sync.pid):  # never leave them behind for other tests
            os.kill(pid, signal.SIGKILL)
