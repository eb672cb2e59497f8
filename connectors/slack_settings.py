"""Settings a Slack workspace account declares; composed into the config by the console."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.imap_settings import refuse_inline_secrets
from connectors.secrets import SecretSource, check_command


class SlackAccountSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["slack"]
    bot_token_env: str | None = None
    bot_token_cmd: str | None = None
    app_token_env: str | None = None
    app_token_cmd: str | None = None
    api_url: str = "https://slack.com/api/"
    channels: list[str] = Field(default_factory=list)
    group_window_minutes: float = Field(default=60, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _no_plain_tokens(cls, data: Any) -> Any:
        hint = "use bot_token_env / app_token_env (or *_cmd) instead"
        return refuse_inline_secrets(data, ("bot_token", "app_token", "token"), hint)

    @field_validator("bot_token_cmd", "app_token_cmd")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        return check_command(value)

    @model_validator(mode="after")
    def _check(self) -> SlackAccountSettings:
        if bool(self.bot_token_env) == bool(self.bot_token_cmd):
            raise ValueError("set exactly one of bot_token_env or bot_token_cmd")
        if self.app_token_env and self.app_token_cmd:
            raise ValueError("set at most one of app_token_env or app_token_cmd")
        if not self.api_url.endswith("/api/"):
            raise ValueError(f"api_url must end in /api/ (got {self.api_url!r})")
        return self

    @property
    def bot_token(self) -> SecretSource:
        return SecretSource(cmd=self.bot_token_cmd, env=self.bot_token_env)

    @property
    def app_token(self) -> SecretSource | None:
        if not (self.app_token_cmd or self.app_token_env):
            return None
        return SecretSource(cmd=self.app_token_cmd, env=self.app_token_env)

    def secret_sources(self) -> list[tuple[str, SecretSource]]:
        found = [("bot_token_cmd" if self.bot_token_cmd else "bot_token_env", self.bot_token)]
        if self.app_token is not None:
            key = "app_token_cmd" if self.app_token_cmd else "app_token_env"
            found.append((key, self.app_token))
        return found
