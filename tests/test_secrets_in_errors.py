"""A password a server quotes back in its error reply reaches no output (issue 20, item 2).

The log filter masks secrets in log records and tracebacks (tests/test_hardening_secrets_log.py),
but a failed sync also prints its error on stderr and stores it as the account's sync status,
which the console and `frontdesk status` show. Dovecot never quotes a password, so a small IMAP
server below does what any server may: it refuses LOGIN quoting the command it received. The
forms searched for are written out by hand.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from storage.store import Store

SECRET = 'hunter2 "s3cret\\'  # hunter2 "s3cret\
FORMS = [
    'hunter2 "s3cret\\',  # raw
    'hunter2 \\"s3cret\\\\',  # the IMAP quoted-string body the client sent and the server echoed
    "s3cret",
]
ENV = "FD_ECHOED_SECRET"


async def _echo_login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Just enough IMAP for a login attempt: LOGIN is refused quoting the whole command."""
    writer.write(b"* OK echo server ready\r\n")
    while line := await reader.readline():
        tag, _, rest = line.decode("utf-8").rstrip("\r\n").partition(" ")
        command = rest.split(" ", 1)[0].upper()
        if command == "CAPABILITY":
            writer.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
        elif command == "LOGIN":
            writer.write(f"{tag} NO [AUTHENTICATIONFAILED] refused: {rest}\r\n".encode())
        elif command == "LOGOUT":
            writer.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
        else:
            writer.write(f"{tag} BAD unknown\r\n".encode())
        await writer.drain()
    writer.close()


async def test_a_password_echoed_by_the_server_is_masked_in_stderr_status_and_log(
    tmp_path: Path,
) -> None:
    server = await asyncio.start_server(_echo_login, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config, state = tmp_path / "config.toml", tmp_path / "state"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n[[accounts]]\nname = "mail"\n'
        f'kind = "imap"\nimap_host = "127.0.0.1"\nimap_port = {port}\n'
        f'imap_security = "none"\nusername = "agent@example.test"\npassword_env = "{ENV}"\n'
        'smtp_host = "127.0.0.1"\nsmtp_port = 1\nsmtp_security = "none"\n'
        'from_address = "Support <support@example.test>"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    async with server:
        # Not subprocess.run: the server lives on this event loop and must keep answering.
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "console", "--log-level", "debug", "sync", "--once"),
            *("--config", str(config)),
            env={**os.environ, ENV: SECRET, "XDG_STATE_HOME": str(state)},
            stderr=asyncio.subprocess.PIPE,
        )
        _, raw = await asyncio.wait_for(process.communicate(), timeout=60)
    stderr = raw.decode()
    assert process.returncode == 1, stderr
    # The refusal is reported, with the server's words, the password masked.
    assert "refused: LOGIN agent@example.test" in stderr and "***" in stderr, stderr
    store = Store(tmp_path / "store.db")
    try:
        [status] = store.sync_statuses()
    finally:
        store.close()
    assert status.state == "auth failed" and "***" in status.detail, status
    log = (state / "frontdesk" / "frontdesk.log").read_text(encoding="utf-8")
    assert "refused: LOGIN" in log  # debug level logged the server's reply
    for where, text in (("stderr", stderr), ("sync status", status.detail), ("log", log)):
        leaked = [form for form in FORMS if form in text]
        assert leaked == [], f"secret in the {where}: {leaked}"
