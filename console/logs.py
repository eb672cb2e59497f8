"""Logs go to a rotating file in the XDG state dir — never to the terminal the TUI owns.

The log quotes customer data and server replies: the file (and each rotated one) is 0600 in a
0700 folder whatever the umask.
"""

from __future__ import annotations

import logging
import sys
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

import platformdirs

from connectors.redact import known_forms, redact, scrub
from connectors.secrets import KNOWN_SECRETS
from storage.db import StoreError, make_private_dir, private_files

LEVELS = ("debug", "info", "warning", "error")
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class ScrubSecrets(logging.Filter):
    """Mask every secret read by this process, in whatever form a library logs it, in every
    record: the message, the traceback and the stack are formatted here and then scrubbed
    (connectors/redact.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not KNOWN_SECRETS:
            return True
        forms = known_forms()
        record.msg, record.args = scrub(record.getMessage(), forms), None
        if record.exc_info:
            record.exc_text = scrub(_TRACEBACKS.formatException(record.exc_info), forms)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, forms)
        return True


_TRACEBACKS = logging.Formatter()


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating file created 0600, the first one and every one after a rollover."""

    def _open(self) -> TextIOWrapper:
        with private_files():
            return super()._open()


def log_path() -> Path:
    return Path(platformdirs.user_state_dir("frontdesk")) / "frontdesk.log"


class CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (Textual captures it while it runs)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup(level: str = "info") -> Path | None:
    """Send every logger of the process to the rotating file; returns its path.

    A log folder that cannot be made or written (read-only, /proc, full) does not stop the
    command: one warning on stderr, and the log goes to stderr (None is returned)."""
    path: Path | None = log_path()
    assert path is not None
    handler: logging.Handler
    try:
        make_private_dir(path.parent)
        handler = PrivateRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except (OSError, StoreError) as exc:
        sys.stderr.write(
            f"frontdesk: warning: cannot write the log file {path} ({exc}):"
            " logging to stderr instead\n"
        )
        handler, path = CurrentStderr(), None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return path


def scrub_secrets(text: str) -> str:
    """`text` with every secret this process read masked (for lines printed to a terminal)."""
    return redact(text)
