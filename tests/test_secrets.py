"""Secrets come from a command, the environment or the keyring, and never leak anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from connectors.secrets import SecretError, SecretSource
from console.config import load_config
from tests.servers.dovecot import DovecotServer


class MemoryKeyring(KeyringBackend):
    """The system keyring's interface, in memory (the real backends need a desktop session)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend  # type: ignore[misc]
    keyring.set_keyring(previous)


def test_keyring_source(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[accounts]]\nname = "mail"\nkind = "imap"\nimap_host = "h"\nusername = "me@x.com"\n'
        'password_keyring = "frontdesk-mail"\nsmtp_host = "h"\nfrom_address = "me@x.com"\n'
        '[[accounts]]\nname = "team"\nkind = "slack"\nbot_token_keyring = "frontdesk-slack"\n',
        encoding="utf-8",
    )
    config = load_config(path)
    mail, slack = (source for _, _, source in _sources(config))
    with pytest.raises(SecretError, match=r"keyring set frontdesk-mail me@x\.com"):
        mail.read()
    memory_keyring.set_password("frontdesk-mail", "me@x.com", "imap-secret")
    memory_keyring.set_password("frontdesk-slack", "team", "xoxb-secret")
    assert (mail.read(), slack.read()) == ("imap-secret", "xoxb-secret")


def _sources(config):  # type: ignore[no-untyped-def]
    from console.runner import secret_sources

    return secret_sources(config)


def test_a_failing_command_names_itself_not_the_secret() -> None:
    source = SecretSource(cmd=f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(SecretError, match="exited 3"):
        source.read()
    assert SecretSource(cmd=f"{sys.executable} -c 'print(\"s3cret\")'").read() == "s3cret"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def write_config(tmp_path: Path, dovecot: DovecotServer, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n'
        '[agent]\nname = "Sam Rivera"\nemail = "sam@frontdesk.test"\n'  # check-config needs it
        f'[[accounts]]\nname = "support-mail"\nkind = "imap"\nimap_host = "{dovecot.host}"\n'
        f'imap_port = {dovecot.port}\nimap_security = "none"\nusername = "{dovecot.user}"\n'
        'password_env = "FD_SECRET_TEST"\nsmtp_host = "127.0.0.1"\nsmtp_port = 9\n'
        'smtp_security = "none"\nfrom_address = "Support <help@frontdesk.test>"\n',
        encoding="utf-8",
    )
    path.chmod(mode)
    return path


def test_secrets_reach_neither_store_nor_logs_nor_terminal(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, dovecot)
    state = tmp_path / "state"
    wrong = "wr0ng-Pa55-do-not-leak"
    failed = run(
        ["--log-level", "debug", "sync", "--once", "--config", str(config)],
        {"FD_SECRET_TEST": wrong, "XDG_STATE_HOME": str(state)},
    )
    assert failed.returncode != 0 and "support-mail:" in failed.stderr
    dovecot.append(
        "INBOX", b"From: a@b.example\r\nSubject: hi\r\nMessage-ID: <1@b>\r\n\r\nhello\r\n"
    )
    good = run(
        ["--log-level", "debug", "sync", "--once", "--config", str(config)],
        {"FD_SECRET_TEST": dovecot.password, "XDG_STATE_HOME": str(state)},
    )
    assert good.returncode == 0, good.stderr
    log = (state / "frontdesk" / "frontdesk.log").read_text(encoding="utf-8")
    assert log.strip(), "the log file is written"
    everything = [failed.stdout, failed.stderr, good.stdout, good.stderr, log]
    for path in tmp_path.glob("store.db*"):
        everything.append(path.read_bytes().decode("latin-1"))
    for secret in (wrong, dovecot.password):
        assert not any(secret in text for text in everything)
    assert "DEBUG" not in good.stderr + failed.stderr  # log records never reach the terminal


def test_a_config_readable_by_others_gets_a_warning(dovecot: DovecotServer, tmp_path: Path) -> None:
    loose = write_config(tmp_path, dovecot, mode=0o644)
    done = run(["check-config", "--config", str(loose)], {})
    assert done.returncode == 0 and "readable by other users" in done.stderr
    loose.chmod(0o600)
    assert "readable" not in run(["check-config", "--config", str(loose)], {}).stderr


def test_a_secret_command_sees_only_the_minimal_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTHER_ACCOUNT_TOKEN", "xoxb-other")
    monkeypatch.setenv("LANG", "C.UTF-8")
    script = "import os, json; print(json.dumps(sorted(os.environ)))"
    seen = SecretSource(cmd=f"{sys.executable} -c '{script}'").read()
    names = set(__import__("json").loads(seen))
    assert "OTHER_ACCOUNT_TOKEN" not in names
    assert {"PATH", "LANG"} <= names
    assert names <= {"PATH", "HOME", "LANG", "GNUPGHOME", "GPG_AGENT_INFO", "XDG_RUNTIME_DIR"}


def test_a_failing_command_stderr_is_never_kept() -> None:
    script = "import sys; sys.stderr.write('echoed hun' + 'ter2'); sys.exit(4)"
    with pytest.raises(SecretError) as caught:
        SecretSource(cmd=f'{sys.executable} -c "{script}"').read()
    assert "exited 4" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_secret_command_that_hangs_is_killed_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A shell whose child holds the pipes: killing the shell alone would still wait 30 s."""
    monkeypatch.setattr("connectors.secrets.SECRET_CMD_TIMEOUT", 0.5)
    marker = tmp_path / "sleeping"
    started = time.monotonic()
    with pytest.raises(SecretError, match=r"did not finish within 0\.5 s"):
        SecretSource(cmd=f"sh -c 'touch {marker}; sleep 29.75; echo late'").read()
    assert time.monotonic() - started < 5
    assert marker.exists()  # it did run
    sleeping = subprocess.run(
        ["pgrep", "-f", "sleep 29.75"], capture_output=True, text=True, check=False
    )
    assert sleeping.stdout == "", "the command's children outlived the timeout"
