"""Peak memory of `frontdesk export` on a 100k-conversation store: it must not grow with the store.

    .venv/bin/python bench/export_rss.py [--db /tmp/frontdesk-bench-100k.db] [--conversations N]

The store comes from bench/gen_store.py (generated once, then reused). The real binary runs as a
child process, its JSON Lines read from a pipe as they come (counted, every 1,000th parsed), and
its peak resident memory sampled (VmHWM in /proc) every 10,000 lines: a flat series is constant
memory. The final figure is the child's own VmHWM read as it exits (an atexit hook around
`console.cli:main`, the `frontdesk` entry point). Not ru_maxrss from wait4: Linux carries the
parent's high-water mark across fork and exec into it, so it would report this script's memory
(the store generator's, when it just ran) rather than the export's. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/console.py would shadow the `console` package: take this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = Path("/tmp/frontdesk-bench-100k.db")
SAMPLE_EVERY = 10_000
# `frontdesk` (console.cli:main), reporting its own peak RSS on stderr as it exits.
FRONTDESK_WITH_HWM = """
import atexit, sys
def report():
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    sys.stderr.write(f"VmHWM-kB {status}\\n")
atexit.register(report)
sys.argv = ["frontdesk", *sys.argv[1:]]
from console.cli import main
main()
"""


def _load_gen_store() -> Any:
    spec = importlib.util.spec_from_file_location("gen_store", ROOT / "bench" / "gen_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def baseline_mb(config: Path) -> float:
    """The same binary's peak for a command that reads nothing: `list --limit 0`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", FRONTDESK_WITH_HWM, "list", "--limit", "0", "--config"]
    done = subprocess.run([*argv, str(config)], capture_output=True, text=True, env=env)
    return round(int(done.stderr.split("VmHWM-kB ")[1].split()[0]) / 1024, 1)


def measure(config: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", FRONTDESK_WITH_HWM, "export", "--config", str(config)]
    started = time.monotonic()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert child.stdout is not None and child.stderr is not None
    lines = size = messages = 0
    samples: dict[int, float] = {}
    for line in child.stdout:
        lines += 1
        size += len(line)
        if lines % 1000 == 1:
            messages += len(json.loads(line)["messages"])  # every 1,000th is parsed
        if lines % SAMPLE_EVERY == 0:
            samples[lines] = round(_hwm_mb(child.pid), 1)
    errors = child.stderr.read().decode()
    if child.wait() != 0:
        raise SystemExit(f"frontdesk export failed ({child.returncode}): {errors}")
    hwm_kb = int(errors.split("VmHWM-kB ")[1].split()[0])
    errors = errors.split("VmHWM-kB ")[0]
    return {
        "lines": lines,
        "megabytes_out": round(size / 2**20, 1),
        "messages_in_parsed_lines": messages,
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_mb": round(hwm_kb / 1024, 1),
        "peak_rss_mb_after_lines": samples,
        "stderr": errors,  # empty: the progress line is for terminals only
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    gen_store = _load_gen_store()
    meta = gen_store.ensure_store(args.db, args.conversations, args.contacts, args.seed)
    with tempfile.TemporaryDirectory(prefix="frontdesk-export-") as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(gen_store.config_text(args.db))
        result = measure(config)
        result["baseline_rss_mb"] = baseline_mb(config)
    result["store"] = {
        "db": str(args.db),
        "conversations": args.conversations,
        "megabytes": round(args.db.stat().st_size / 2**20),
        "reused": meta.get("reused"),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
