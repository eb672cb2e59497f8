"""Logs go to a rotating file in the XDG state dir — never to the terminal the TUI owns.

The log quotes customer data and server replies: the file (and each rotated one) is 0600 in a
0700 folder whatever the umask.
"""

from __future__ import annotations

import logging
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

from connectors.secrets import KNOWN_SECRETS
from storage.db import make_private_dir, private_files

LEVELS = ("debug", "info", "warning", "error")
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class ScrubSecrets(logging.Filter):
    """Replace any secret read by this process with *** in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if KNOWN_SECRETS:
            message = record.getMessage()
            for secret in KNOWN_SECRETS:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating file created 0600, the first one and every one after a rollover."""

    def _open(self) -> TextIOWrapper:
        with private_files():
            return super()._open()


def log_path() -> Path:
    return Path(platformdirs.user_state_dir("frontdesk")) / "frontdesk.log"


def setup(level: str = "info") -> Path:
    """Send every logger of the process to the rotating file; returns its path."""
    path = log_path()
    make_private_dir(path.parent)
    handler = PrivateRotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return path
