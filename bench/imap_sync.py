"""Initial IMAP sync: `frontdesk sync --once` against `mbsync` on the same local Dovecot.

Starts a Dovecot (tests/servers/dovecot.py), appends N realistic messages to INBOX (the
generator of bench/mime_parse.py: plain, HTML, multipart/alternative, attachments, quoted
threads, six charsets), then times, in alternation:

- `python -m console sync --once` into a fresh store: fetch + parse + store + FTS index;
- `mbsync` (Debian package isync) copying the same INBOX into a fresh Maildir, plain IMAP on
  loopback (`SSLType None`, `AuthMechs LOGIN`), as the reference.

Both are timed from process start to exit. Prints JSON with the medians:

    {"messages": N, "frontdesk_s": a, "mbsync_s": b, "ratio": a / b, ...}

Budget (DESIGN.md §7): ratio <= 0.5. Run: `.venv/bin/python bench/imap_sync.py [--messages N]
[--runs R]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.mime_parse import make_message  # noqa: E402
from tests.servers.dovecot import DovecotServer  # noqa: E402

PASSWORD_ENV = "FRONTDESK_BENCH_IMAP_PASSWORD"


def frontdesk_config(server: DovecotServer, workdir: Path) -> Path:
    path = workdir / "frontdesk.toml"
    path.write_text(
        f"""
[storage]
path = "{workdir / "frontdesk.db"}"

[[accounts]]
name = "bench-mail"
kind = "imap"
imap_host = "{server.host}"
imap_port = {server.port}
imap_security = "none"
username = "{server.user}"
password_env = "{PASSWORD_ENV}"
folders = ["INBOX"]
smtp_host = "127.0.0.1"
smtp_port = 9
smtp_security = "none"
from_address = "Support <help@example.com>"
""",
        encoding="utf-8",
    )
    return path


def mbsync_config(server: DovecotServer, workdir: Path) -> Path:
    maildir = workdir / "maildir"
    maildir.mkdir()  # mbsync creates the folders, not the store's root
    path = workdir / "mbsyncrc"
    path.write_text(
        f"""
IMAPAccount fixture
Host {server.host}
Port {server.port}
User {server.user}
Pass {server.password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account fixture

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel inbox
Far :remote:INBOX
Near :local:INBOX
Create Near
Sync Pull
SyncState *
""",
        encoding="utf-8",
    )
    return path


def run_frontdesk(server: DovecotServer, workdir: Path) -> float:
    config = frontdesk_config(server, workdir)
    env = {**os.environ, PASSWORD_ENV: server.password}
    command = [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)]
    seconds = timed(command, env)
    stats = subprocess.run(
        [sys.executable, "-m", "console", "stats", "--json", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    stored = json.loads(stats.stdout)["messages"]
    return seconds if stored else float("nan")


def run_mbsync(server: DovecotServer, workdir: Path) -> float:
    config = mbsync_config(server, workdir)
    return timed(["mbsync", "-q", "-c", str(config), "inbox"], dict(os.environ))


CPU: dict[str, list[float]] = {}  # CPU seconds per run: the client's process tree, Dovecot's


def timed(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds; also records the CPU the command (and its children) and Dovecot used:
    on a small shared machine the CPU is what explains the wall time."""
    cpu_before, server_before = _children_cpu(), _dovecot_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    # The parse workers are not counted: they are children of multiprocessing's forkserver,
    # which is reaped by init, not by us (they add ~1 s of CPU per 3,000 messages).
    name = "frontdesk" if command[0] == sys.executable else command[0]
    key = "frontdesk_main_process_cpu_s" if name == "frontdesk" else f"{name}_cpu_s"
    CPU.setdefault(key, []).append(_children_cpu() - cpu_before)
    CPU.setdefault(f"dovecot_cpu_s_during_{name}", []).append(_dovecot_cpu() - server_before)
    return seconds


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SERVER: list[DovecotServer] = []


def _dovecot_cpu() -> float:
    """The master's own CPU plus that of its reaped children (the imap processes)."""
    pid = SERVER[0].pid if SERVER else None
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def fresh(run: object, server: DovecotServer) -> float:
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-imap-bench-"))
    try:
        return run(server, workdir)  # type: ignore[operator,no-any-return]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("mbsync") is None:
        raise SystemExit("mbsync is not installed: apt-get install -y isync")
    rng = random.Random(1234)
    raws = [make_message(rng, i) for i in range(args.messages)]
    ours: list[float] = []
    theirs: list[float] = []
    with DovecotServer() as server:
        SERVER.append(server)
        server.append_many("INBOX", raws)
        # Untimed warm-up: the first client to read the mailbox makes Dovecot build its index
        # cache (sizes, dates); whoever came first would pay for the other.
        fresh(run_mbsync, server)
        CPU.clear()
        for _ in range(args.runs):
            ours.append(fresh(run_frontdesk, server))
            theirs.append(fresh(run_mbsync, server))
    frontdesk_s, mbsync_s = statistics.median(ours), statistics.median(theirs)
    result = {
        "messages": args.messages,
        "frontdesk_s": round(frontdesk_s, 2),
        "mbsync_s": round(mbsync_s, 2),
        "ratio": round(frontdesk_s / mbsync_s, 3),
        "budget_ratio": 0.5,
        "frontdesk_msg_per_s": round(args.messages / frontdesk_s),
        "mbsync_msg_per_s": round(args.messages / mbsync_s),
        "frontdesk_runs_s": [round(s, 2) for s in ours],
        "mbsync_runs_s": [round(s, 2) for s in theirs],
        "mean_message_bytes": round(sum(map(len, raws)) / len(raws)),
        **{key: round(statistics.median(values), 2) for key, values in CPU.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
