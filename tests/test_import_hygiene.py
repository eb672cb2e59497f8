"""What a module loads when imported, checked in a fresh interpreter: the CLI starts without
Textual (a headless `frontdesk sync` or `frontdesk list` never pays for the UI) and the runner
loads no channel library until an account of that kind syncs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("textual", "slack_sdk", "aioimaplib", "aiosmtplib", "aiohttp")


def loaded_after(module: str) -> set[str]:
    """The HEAVY packages in sys.modules after `import module`, in a new interpreter."""
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps([name for name in {list(HEAVY)!r} if name in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_the_cli_loads_no_textual() -> None:
    assert "textual" not in loaded_after("console.cli")


@pytest.mark.parametrize("module", ["connectors.runner", "connectors.registry"])
def test_the_runner_loads_no_channel_library(module: str) -> None:
    assert loaded_after(module) & {"slack_sdk", "aioimaplib", "aiosmtplib", "aiohttp"} == set()


def test_a_channel_library_loads_when_its_connector_is_made() -> None:
    # The oracle the tests above rely on: the check sees a library once it is really imported.
    assert {"aioimaplib", "aiosmtplib"} <= loaded_after("connectors.email.connector")
    assert {"slack_sdk", "aiohttp"} <= loaded_after("connectors.slack.connector")
