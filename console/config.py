"""The admin's TOML file, validated: one model composed of what each connector declares.

Errors name the file, the line (when it can be found) and key, what is wrong and the fix.
The file itself is guarded before parsing: it must be a regular file (a FIFO or /dev/zero
would hang the read) of at most MAX_CONFIG_BYTES, nested at most MAX_NESTING deep (deeper
arrays or inline tables exhaust the parser's recursion): otherwise a ConfigError, exit 2.

This module loads the file and is the import path for every public name; the models live in
`config_models`, the guarded read and the error locating in `config_text`, durations in
`durations` (a leaf: macros and reports use it without importing the config).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError

from console.config_models import (
    APP_NAME,
    AgentSettings,
    CannedReplySettings,
    ConsoleSettings,
    FrontdeskConfig,
    KnowledgeSettings,
    MacroSettings,
    MacroStepSettings,
    StorageSettings,
    SurveySettings,
    SurveyTierSettings,
    TierRule,
    TierSettings,
    ViewSettings,
    default_db_path,
)
from console.config_text import (
    MAX_CONFIG_BYTES,
    MAX_NESTING,
    ConfigError,
    format_validation_error,
    locate,
    nesting_too_deep,
    read_config_text,
)
from console.durations import parse_duration

__all__ = [
    "APP_NAME",
    "MAX_CONFIG_BYTES",
    "MAX_NESTING",
    "AgentSettings",
    "CannedReplySettings",
    "ConfigError",
    "ConsoleSettings",
    "FrontdeskConfig",
    "KnowledgeSettings",
    "MacroSettings",
    "MacroStepSettings",
    "StorageSettings",
    "SurveySettings",
    "SurveyTierSettings",
    "TierRule",
    "TierSettings",
    "ViewSettings",
    "default_config_path",
    "default_db_path",
    "format_validation_error",
    "load_config",
    "locate",
    "nesting_too_deep",
    "parse_duration",
    "read_config_text",
]


def default_config_path() -> Path:
    env = os.environ.get("FRONTDESK_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def load_config(path: Path) -> FrontdeskConfig:
    text = read_config_text(path)
    too_deep = nesting_too_deep(text)
    if too_deep is not None:
        raise ConfigError(
            f"{path}:{too_deep}: arrays or inline tables nested over {MAX_NESTING} deep:"
            " flatten them"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:  # nesting the scan above did not see (it is a guard)
        raise ConfigError(f"{path}: nested too deep to read: flatten it") from exc
    try:
        config = FrontdeskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, text, exc)) from exc
    _check_references(path, text, config)
    return config


def _check_references(path: Path, text: str, config: FrontdeskConfig) -> None:
    names = [a.name for a in config.accounts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        index = [i for i, n in enumerate(names) if n == duplicates[0]][1]
        raise ConfigError(
            f"{_place(path, text, ['accounts', index, 'name'])}: accounts[{index}].name: the"
            f" name {duplicates[0]!r} is used twice — give each account its own name"
        )
    for i, rule in enumerate(config.tier_rules):
        if rule.tier not in config.tiers:
            raise ConfigError(
                f"{_place(path, text, ['tier_rules', i, 'tier'])}: tier_rules[{i}].tier: unknown"
                f" tier {rule.tier!r} — define [tiers.{rule.tier}] or use one of"
                f" {', '.join(sorted(config.tiers))}"
            )
    defaults = [name for name, tier in config.tiers.items() if tier.default]
    if len(defaults) > 1:
        raise ConfigError(
            f"{_place(path, text, ['tiers', defaults[1], 'default'])}: tiers.{defaults[1]}.default:"
            f" {' and '.join(defaults)} are both the default tier — keep default = true on one"
        )


def _place(path: Path, text: str, loc: list[Any]) -> str:
    line = locate(text, loc)
    return f"{path}:{line}" if line else str(path)
