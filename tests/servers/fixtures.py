"""pytest fixtures for the real servers: a fresh Dovecot and a recording SMTP server per test.

Both start in well under 100 ms, so they are function-scoped: no state leaks between tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers.dovecot import DovecotServer, missing_tools
from tests.servers.smtp import RecordingSMTPServer


def in_ci() -> bool:
    """`CI` read as a boolean, as CI services set it ("true", "1", "yes", any case)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_dovecot() -> None:
    """Skip without Dovecot on a developer machine; in CI a missing server is a failure."""
    missing = missing_tools()
    if not missing:
        return
    reason = (
        f"real IMAP tests need {', '.join(missing)}: "
        "apt-get install -y dovecot-imapd openssl (Debian/Ubuntu)"
    )
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[DovecotServer]:
    """A running Dovecot with INBOX and Sent, one user; its log is printed if the test fails."""
    require_dovecot()
    failures_before = request.session.testsfailed
    server = DovecotServer().start()  # start() cleans up after itself if it fails
    try:
        yield server
    finally:
        # The call phase is reported before teardown runs: a higher failure count means this
        # test failed, and pytest shows teardown output under the failed test.
        if request.session.testsfailed > failures_before:
            print(f"Dovecot logs ({server.base_dir}):\n{server.logs()}")
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[RecordingSMTPServer]:
    """A recording SMTP server on loopback; AUTH PLAIN/LOGIN offered, not required."""
    server = RecordingSMTPServer().start()
    try:
        yield server
    finally:
        server.stop()
