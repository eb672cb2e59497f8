"""Secrets come from a command, an environment variable or the keyring; never from the file."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass
from typing import Any

SECRET_CMD_TIMEOUT = 30.0
# The only environment a secret command sees: not the other accounts' tokens.
CMD_ENV_NAMES = ("PATH", "HOME", "LANG", "GNUPGHOME", "GPG_AGENT_INFO", "XDG_RUNTIME_DIR")

# Every secret read in this process, so log output can be scrubbed of them (defence in depth:
# nothing should log a secret in the first place).
KNOWN_SECRETS: set[str] = set()


def refuse_inline_secrets(data: Any, keys: tuple[str, ...], hint: str) -> Any:
    """A settings model's `before` validator: a secret written in the file is refused, naming
    the key and `hint` (where to put it instead)."""
    if isinstance(data, dict):
        for key in keys:
            if key in data:
                raise ValueError(f"`{key}` must not be written in the file: {hint}")
    return data


class SecretError(Exception):
    """A secret could not be read; the message names the source, never the secret."""


@dataclass(frozen=True)
class SecretSource:
    cmd: str | None = None
    env: str | None = None
    keyring: tuple[str, str] | None = None  # (service, username) in the system keyring

    def describe(self) -> str:
        if self.cmd:
            return f"command `{self.cmd}`"
        if self.keyring:
            return f"keyring entry {self.keyring[0]!r} / {self.keyring[1]!r}"
        return f"environment variable {self.env}"

    def read(self) -> str:
        secret = self._read()
        KNOWN_SECRETS.add(secret)
        return secret

    def _read(self) -> str:
        if self.cmd:
            return _run(self.cmd)
        if self.env:
            return _from_env(self.env)
        if self.keyring:
            return _from_keyring(*self.keyring)
        raise SecretError("no secret source is configured")


def check_command(cmd: str | None) -> str | None:
    """Validate a *_cmd value when the config loads: it must split into a command line."""
    if cmd is None:
        return None
    try:
        words = shlex.split(cmd)
    except ValueError as exc:
        raise ValueError(
            f"cannot split {cmd!r} into a command line ({exc}): check its quotes"
        ) from None
    if not words:
        raise ValueError("the command is empty: write the command that prints the secret")
    return cmd


def _from_keyring(service: str, username: str) -> str:
    import keyring  # loads the platform's backends: only when a secret is read from it
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(service, username)
    except KeyringError as exc:
        raise SecretError(f"keyring entry {service!r} could not be read: {exc}") from exc
    if not value:
        raise SecretError(
            f"keyring has no entry {service!r} for {username!r}"
            f" (store it with: keyring set {service} {username})"
        )
    return value


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SecretError(f"environment variable {name} is not set (export it before starting)")
    return value


def command_env() -> dict[str, str]:
    """The minimal environment of a secret command: PATH, HOME, LANG and what gpg needs."""
    return {name: os.environ[name] for name in CMD_ENV_NAMES if name in os.environ}


def _run(cmd: str) -> str:
    """The first line of the command's output, like mbsync's PassCmd.

    The command gets SECRET_CMD_TIMEOUT seconds. It runs in its own session so that on timeout
    the whole group is killed: a shell's `sleep` holding the pipes would keep us waiting."""
    try:
        process = subprocess.Popen(
            shlex.split(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=command_env(),
            start_new_session=True,
        )
    except (OSError, ValueError) as exc:
        raise SecretError(f"command `{cmd}` could not run: {exc}") from exc
    try:
        stdout, _ = process.communicate(timeout=SECRET_CMD_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise SecretError(
            f"command `{cmd}` did not finish within {SECRET_CMD_TIMEOUT:g} s (killed)"
        ) from None
    if process.returncode != 0:
        # Never its stderr: it may echo the secret, and the message is stored in sync status.
        raise SecretError(f"command `{cmd}` exited {process.returncode}")
    secret = stdout.splitlines()[0] if stdout else ""
    if not secret:
        raise SecretError(f"command `{cmd}` printed nothing")
    return secret


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
