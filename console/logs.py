"""Logs go to a rotating file in the XDG state dir — never to the terminal the TUI owns.

The log quotes customer data and server replies: the file (and each rotated one) is 0600 in a
0700 folder whatever the umask.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import sys
import urllib.parse
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

import platformdirs

from connectors.secrets import KNOWN_SECRETS
from storage.db import StoreError, make_private_dir, private_files

LEVELS = ("debug", "info", "warning", "error")
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


class ScrubSecrets(logging.Filter):
    """Mask every secret read by this process, in whatever form a library logs it, in every
    record: the message, the traceback and the stack are formatted here and then scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not KNOWN_SECRETS:
            return True
        forms = _forms(frozenset(KNOWN_SECRETS))
        record.msg, record.args = scrub(record.getMessage(), forms), None
        if record.exc_info:
            record.exc_text = scrub(_TRACEBACKS.formatException(record.exc_info), forms)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, forms)
        return True


_TRACEBACKS = logging.Formatter()
MASK = "***"
# A run of base64 long enough to hide a secret: AUTH PLAIN ("\0user\0password") and AUTH
# LOGIN send the secret base64-encoded, and some servers echo it.
_BASE64 = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")


def imap_quoted(secret: str) -> str:
    """The body of an IMAP quoted string (RFC 3501 9: backslash before `\\` and `"`)."""
    return secret.replace("\\", "\\\\").replace('"', '\\"')


@functools.lru_cache(maxsize=8)
def _forms(secrets: frozenset[str]) -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    """Every text form of each secret, longest first (so a longer form is masked whole), and
    the UTF-8 bytes searched for inside base64 runs."""
    forms: set[str] = set()
    for secret in secrets:
        for text in (secret, imap_quoted(secret)):
            forms.update(_escapes(text))
    forms.discard("")
    raw = tuple(secret.encode() for secret in secrets if secret)
    return tuple(sorted(forms, key=len, reverse=True)), raw


def _escapes(text: str) -> set[str]:
    """`text` as it appears raw, in a repr of str or of its UTF-8 bytes (a wire log), in JSON,
    and URL-encoded (a form body)."""
    return {
        text,
        repr(text)[1:-1],
        repr(text.encode())[2:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote_plus(text, safe=""),
    }


def scrub(text: str, forms: tuple[tuple[str, ...], tuple[bytes, ...]]) -> str:
    """`text` with each form of a secret, and each base64 run hiding one, replaced by ***."""
    texts, raw = forms
    for form in texts:
        text = text.replace(form, MASK)
    # base64 of L bytes takes at least 4L/3 characters: shorter runs (most words) cannot hide
    # a secret, and are not decoded.
    shortest = min((len(secret) * 4 // 3 for secret in raw), default=0)
    return _BASE64.sub(
        lambda m: m.group(0) if len(m.group(0)) < shortest else _mask_base64(m.group(0), raw),
        text,
    )


def _mask_base64(run: str, secrets: tuple[bytes, ...]) -> str:
    # A run may start mid-token (after a quote, say): try each alignment of the 4-char blocks.
    for start in range(4):
        chunk = run[start:]
        chunk = chunk[: len(chunk) - len(chunk) % 4] if not chunk.endswith("=") else chunk
        try:
            decoded = base64.b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(secret in decoded for secret in secrets):
            return MASK
    return run


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
    if not KNOWN_SECRETS:
        return text
    return scrub(text, _forms(frozenset(KNOWN_SECRETS)))
