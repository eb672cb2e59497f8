"""Settings a Slack workspace account declares; composed into the config by the console."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.secrets import SecretSource, check_command, refuse_inline_secrets

_SOURCES = ("env", "cmd", "keyring")


class SlackAccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["slack"]
    bot_token_env: str | None = None
    bot_token_cmd: str | None = None
    bot_token_keyring: str | None = None  # keyring service; the username is the account name
    app_token_env: str | None = None
    app_token_cmd: str | None = None
    app_token_keyring: str | None = None
    api_url: str = "https://slack.com/api/"
    channels: list[str] = Field(default_factory=list)
    """Channels to serve (ids or names); empty: every channel the bot is a member of."""
    dms: bool = Field(default=True, strict=True)
    """Serve direct messages to the bot, whatever `channels` lists."""
    accept_bots: list[str] = Field(default_factory=list)
    """Bot ids (B0...) whose posts are customer messages (a form, an alerting integration);
    every other bot and app is ignored."""
    distribution: Literal["internal", "marketplace", "distributed"] = "internal"
    """How the Slack app is installed: "distributed" (outside the Marketplace) gets Slack's
    2025 limits on history and replies (1 request a minute, 15 messages a page)."""
    backfill_days: float = Field(default=30, ge=0, strict=True)
    """A channel seen for the first time: its conversations with nothing newer than this many
    days are imported closed (the customers' history), the rest open."""
    group_window_minutes: float = Field(default=60, ge=0, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_tokens(cls, data: Any) -> Any:
        hint = "use bot_token_env / app_token_env (or *_cmd, *_keyring) instead"
        return refuse_inline_secrets(data, ("bot_token", "app_token", "token"), hint)

    @field_validator("bot_token_cmd", "app_token_cmd")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        return check_command(value)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.endswith("/api/"):
            raise ValueError(f"api_url must end in /api/ (got {value!r})")
        if not _secure_url(value):
            raise ValueError(
                f"{value!r} would send the token in clear: use https:// (http:// only for"
                " localhost)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> SlackAccountSettings:
        if len(self._given("bot_token")) != 1:
            raise ValueError("set exactly one of bot_token_env, bot_token_cmd or bot_token_keyring")
        if len(self._given("app_token")) > 1:
            raise ValueError("set at most one of app_token_env, app_token_cmd, app_token_keyring")
        return self

    def _given(self, prefix: str) -> list[str]:
        return [f"{prefix}_{s}" for s in _SOURCES if getattr(self, f"{prefix}_{s}")]

    def _source(self, prefix: str) -> SecretSource:
        service = getattr(self, f"{prefix}_keyring")
        return SecretSource(
            cmd=getattr(self, f"{prefix}_cmd"),
            env=getattr(self, f"{prefix}_env"),
            keyring=(service, self.name) if service else None,
        )

    @property
    def bot_token(self) -> SecretSource:
        return self._source("bot_token")

    @property
    def app_token(self) -> SecretSource | None:
        return self._source("app_token") if self._given("app_token") else None

    def secret_sources(self) -> list[tuple[str, SecretSource]]:
        return [
            (self._given(prefix)[0], self._source(prefix))
            for prefix in ("bot_token", "app_token")
            if self._given(prefix)
        ]


def _secure_url(url: str) -> bool:
    """https, or http to this machine only (the local test server)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
