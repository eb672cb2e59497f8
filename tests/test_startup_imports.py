"""Start-up: `import console.cli` (the path to the console's first frame) loads only what the
queue needs; the scripting commands, the MIME parser, Jinja2, dateparser and keyring load when a
command asks for them, and those commands still work."""

from __future__ import annotations

import subprocess
import sys

DEFERRED = (
    "textual",
    "console.scripting",
    "connectors.mime",
    "connectors.email_map",
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
