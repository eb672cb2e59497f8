"""`frontdesk sync --once` as a subprocess on one email account (Dovecot + aiosmtpd)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.imap_helpers import PASSWORD_ENV, SUPPORT
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer

RUN_TIMEOUT = 120.0


def write_config(
    tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer, db: Path
) -> Path:
    """A config with one IMAP account whose replies go to `smtp`, its password from the env."""
    config = tmp_path / "frontdesk.toml"
    config.write_text(
        f'[storage]\npath = "{db}"\n\n[[accounts]]\nname = "mail"\nkind = "imap"\n'
        f'imap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\nimap_security = "none"\n'
        f'username = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "{smtp.host}"\nsmtp_port = {smtp.port}\nsmtp_security = "none"\n'
        f'from_address = "Support <{SUPPORT}>"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def spawn(config: Path) -> subprocess.Popen[bytes]:
    """Start one pass; in its own session, so a SIGKILL to its group reaches all it started.
    Its log goes under the config's folder (`state/frontdesk/frontdesk.log`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "console", "sync", "--once", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "XDG_STATE_HOME": str(config.parent / "state")},
    )


def run(config: Path) -> tuple[int, str]:
    """One pass to its end: (exit status, stderr)."""
    process = spawn(config)
    _, err = process.communicate(timeout=RUN_TIMEOUT)
    return process.returncode, err.decode()
