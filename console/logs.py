"""Logs go to a rotating file in the XDG state dir — never to the terminal the TUI owns."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

from connectors.secrets import KNOWN_SECRETS

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


def log_path() -> Path:
    return Path(platformdirs.user_state_dir("frontdesk")) / "frontdesk.log"


def setup(level: str = "info") -> Path:
    """Send every logger of the process to the rotating file; returns its path."""
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return path
