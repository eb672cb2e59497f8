"""Worker processes die with the process that started them, however it ends.

`die_with(owner_pid)` is a process-pool initializer. A SIGKILLed `frontdesk sync` runs no
`finally` and cannot shut its pool down: without this its parse workers lived on (PPID 1)
forever. Two mechanisms, either one enough:

- Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the kernel kills the worker when its parent
  (the forkserver, which itself exits when the sync's end of its pipe closes) dies;
- everywhere: a daemon thread that checks every WATCH_EVERY seconds that the owner is alive
  (not gone, not a zombie) and ends the worker with `os._exit` when it is not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from pathlib import Path

PR_SET_PDEATHSIG = 1
WATCH_EVERY = 0.25


def die_with(owner_pid: int) -> None:
    """Pool initializer: end this process when `owner_pid` ends."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        _kill_me_with_my_parent()
        if os.getppid() != parent:  # the parent died before the prctl took effect
            os._exit(1)
    watch = threading.Thread(target=_watch, args=(owner_pid,), name="lifeline", daemon=True)
    watch.start()


def _kill_me_with_my_parent() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return  # the watch thread still covers us


def _watch(owner_pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(WATCH_EVERY):
        if not alive(owner_pid):
            os._exit(1)


def alive(pid: int) -> bool:
    """True while `pid` runs: a zombie (dead, not yet reaped) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, not ours to signal
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): kill(0) is all we know
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
