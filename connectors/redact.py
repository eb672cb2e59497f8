"""Mask the secrets this process has read (connectors.secrets.KNOWN_SECRETS) in any text.

Contract: `redact(text)` returns `text` with every form a secret can take in a log line or an
error message replaced by `***`: raw, IMAP-quoted (backslash before `\\` and `"`), in a repr of
str or of its UTF-8 bytes, in JSON, URL-encoded, and base64-encoded (AUTH PLAIN / AUTH LOGIN,
which some servers echo). The log filter (console/logs.py) runs every record through it, and
the sync runner every error it stores or prints: a server's reply may quote the password back.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import urllib.parse

from connectors.secrets import KNOWN_SECRETS

MASK = "***"
# A run of base64 long enough to hide a secret: AUTH PLAIN ("\0user\0password") and AUTH
# LOGIN send the secret base64-encoded, and some servers echo it.
_BASE64 = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")

Forms = tuple[tuple[str, ...], tuple[bytes, ...]]


def redact(text: str) -> str:
    """`text` with every secret read so far masked, in every form it can take."""
    if not KNOWN_SECRETS:
        return text
    return scrub(text, known_forms())


def known_forms() -> Forms:
    return _forms(frozenset(KNOWN_SECRETS))


def imap_quoted(secret: str) -> str:
    """The body of an IMAP quoted string (RFC 3501 9: backslash before `\\` and `"`)."""
    return secret.replace("\\", "\\\\").replace('"', '\\"')


@functools.lru_cache(maxsize=8)
def _forms(secrets: frozenset[str]) -> Forms:
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


def scrub(text: str, forms: Forms) -> str:
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
