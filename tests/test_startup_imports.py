"""Start-up: `import console.cli` (the path to the console's first frame) loads only what the
queue needs; the scripting commands, the MIME parser, Jinja2, dateparser and keyring load when a
command asks for them, and those commands still work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console import cli, opening
from tests.test_hardening_store import _damage, _filled_store

DEFERRED = (
    "textual",
    "console.scripting",
    "connectors.email.mime",
    "connectors.email.mapping",
    "jinja2",
    "dateparser",
    "keyring",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_importing_the_cli_defers_what_the_first_frame_does_not_need() -> None:
    loaded = _loaded_after("import console.cli")
    early = sorted(m for m in loaded if m.split(".")[0] in DEFERRED or m in DEFERRED)
    assert early == []


def test_a_deferred_command_loads_when_asked_for() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console", "show", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "show [OPTIONS] CONVERSATION" in done.stdout


def test_help_still_lists_the_deferred_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line}
    assert {"list", "show", "export", "reply", "tag", "sync", "demo"} <= listed


def test_the_console_checks_a_store_only_when_the_check_fits_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """quick_check cannot be interrupted mid-table: a store too big to check within the
    console's budget opens unchecked (the sync still checks it all before writing)."""
    db, _ = _filled_store(tmp_path)
    _damage(db)
    with pytest.raises(SystemExit) as refused, cli.open_store(db, check=cli.CONSOLE_CHECK):
        pass
    assert refused.value.code == 1
    size = db.stat().st_size
    monkeypatch.setattr(opening, "CHECK_BYTES_PER_SECOND", size / cli.CONSOLE_CHECK / 2)
    with cli.open_store(db, check=cli.CONSOLE_CHECK) as store:  # too big now: not checked
        assert store is not None
    with pytest.raises(SystemExit), cli.open_store(db, check=0):  # the sync's: always, all
        pass
