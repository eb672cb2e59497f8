"""Settings an email (IMAP + SMTP) account declares; composed into the config by the console."""

from __future__ import annotations

import re
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.secrets import SecretSource, check_command, refuse_inline_secrets

Security = Literal["tls", "starttls", "none"]
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+$")
_PASSWORD_KEYS = ("password_cmd", "password_env", "password_keyring")


class ImapAccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["imap"]
    imap_host: str = Field(min_length=1)
    imap_port: int = Field(default=993, ge=1, le=65535, strict=True)  # `true` is no port
    imap_security: Security = "tls"
    # A PEM bundle to verify the server with instead of the system CAs (a private CA, tests).
    imap_cafile: str | None = None
    username: str = Field(min_length=1)
    password_cmd: str | None = None
    password_env: str | None = None
    password_keyring: str | None = None  # a keyring service name; the username is `username`
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    # None: the folder the server flags \Sent (RFC 6154 SPECIAL-USE), else "Sent".
    sent_folder: str | None = None
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535, strict=True)
    smtp_security: Security = "starttls"
    smtp_cafile: str | None = None
    smtp_username: str | None = None  # default: `username`
    from_address: str = Field(min_length=3)
    thread_window_days: float = Field(default=14, ge=0, strict=True)
    # First sync of a folder: conversations whose last customer message is older than this
    # (or flagged \Answered) are imported closed, as the customers' history, not as work.
    open_recent_days: float = Field(default=14, ge=0, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_password(cls, data: Any) -> Any:
        hint = (
            'use password_cmd = "pass show ...", password_env = "VAR" or'
            ' password_keyring = "service" instead'
        )
        return refuse_inline_secrets(data, ("password", "smtp_password"), hint)

    @field_validator("imap_cafile", "smtp_cafile")
    @classmethod
    def _cafile(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(
                f"{value} is not a file: fix the path to the PEM bundle or remove the key"
            )
        return value

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value)

    @field_validator("password_cmd")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        return check_command(value)

    @model_validator(mode="after")
    def _one_password_source(self) -> ImapAccountSettings:
        sources = [self.password_cmd, self.password_env, self.password_keyring]
        if sum(bool(source) for source in sources) != 1:
            raise ValueError("set exactly one of password_cmd, password_env or password_keyring")
        return self

    @property
    def password(self) -> SecretSource:
        keyring = (self.password_keyring, self.username) if self.password_keyring else None
        return SecretSource(cmd=self.password_cmd, env=self.password_env, keyring=keyring)

    def secret_sources(self) -> list[tuple[str, SecretSource]]:
        key = next(k for k in _PASSWORD_KEYS if getattr(self, k))
        return [(key, self.password)]


def check_address(value: str) -> str:
    """A From address SMTP will accept: `Name <user@example.com>` or `user@example.com`."""
    _name, address = parseaddr(value)
    single = len(getaddresses([value])) == 1
    if not single or any(c in value for c in "\r\n") or not _ADDRESS.match(address):
        raise ValueError(
            f'{value!r} is not an email address: write e.g. "Support <support@example.com>"'
        )
    return value
