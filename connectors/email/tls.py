"""The TLS context both email protocols verify their server with (IMAP and SMTP alike):
the system CAs, or the PEM bundle the account names (`imap_cafile`, `smtp_cafile`)."""

from __future__ import annotations

import ssl


def tls_context(cafile: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)
