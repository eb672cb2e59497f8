"""The admin's TOML file, validated: one model composed of what each connector declares.

Errors name the file, the line (when it can be found) and key, what is wrong and the fix.
The file itself is guarded before parsing: it must be a regular file (a FIFO or /dev/zero
would hang the read) of at most MAX_CONFIG_BYTES, nested at most MAX_NESTING deep (deeper
arrays or inline tables exhaust the parser's recursion): otherwise a ConfigError, exit 2.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.registry import AccountSettings
from console.macros import Macro, MacroStep
from storage.nps import DEFAULT_NPS_QUESTION, NpsPolicy
from storage.policy import SimplePolicy
from storage.sla import WEEKDAYS, BusinessHours, check_timezone, parse_days, parse_window
from storage.surveys import SurveyPolicy, TierSurvey

APP_NAME = "frontdesk"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> float:
    """'90m', '4h', '2d', '1w' → seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a duration: write e.g. "30m", "4h" or "2d"')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Strict):
    path: Path = Field(default_factory=lambda: default_db_path())


class AgentSettings(_Strict):
    name: str = Field(default="Agent", min_length=1)
    email: str = "agent@localhost"

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class TierSettings(_Strict):
    default: bool = False
    first_response: str | None = None
    next_response: str | None = None
    resolution: str | None = None
    # When the SLA clock runs; the defaults are around the clock in UTC.
    business_days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    business_hours: str = "00:00-24:00"
    timezone: str = "UTC"
    holidays: list[date] = Field(default_factory=list)
    checkin_every: str | None = None  # a check-in once a contact is quiet this long

    @field_validator("first_response", "next_response", "resolution", "checkin_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        parse_days(value)
        return value

    @field_validator("business_hours")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    def hours(self) -> BusinessHours:
        opens, closes = parse_window(self.business_hours)
        return BusinessHours(
            parse_days(self.business_days), opens, closes, self.timezone, frozenset(self.holidays)
        )


class TierRule(_Strict):
    tier: str
    email: str | None = None
    domain: str | None = None
    slack_user: str | None = None


class CannedReplySettings(_Strict):
    name: str = Field(min_length=1)
    body: str
    shortcut: str | None = None
    folder: str = ""


class MacroStepSettings(_Strict):
    """Exactly one of the keys, e.g. {tag = "billing"} or {close = true}."""

    canned: str | None = None
    tag: str | None = None
    untag: str | None = None
    assign: str | None = None
    snooze: str | None = None
    close: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> MacroStepSettings:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) != 1:
            raise ValueError("a step has exactly one of canned, tag, untag, assign, snooze, close")
        if self.snooze is not None:
            parse_duration(self.snooze)
        return self

    def step(self) -> MacroStep:
        kind, value = next((k, v) for k, v in self.model_dump().items() if v is not None)
        return MacroStep(kind, "" if isinstance(value, bool) else str(value))


class MacroSettings(_Strict):
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    steps: list[MacroStepSettings] = Field(min_length=1)

    def macro(self) -> Macro:
        return Macro(self.name, self.key, tuple(s.step() for s in self.steps))


class KnowledgeSettings(_Strict):
    folder: Path | None = None  # Markdown articles with front matter: title, tags, url

    @field_validator("folder")
    @classmethod
    def _folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder: create it or fix the path")
        return value


class ViewSettings(_Strict):
    name: str = Field(min_length=1)
    query: str


# --- [console]: how the console moves (h-console) -----------------------------------------


class ConsoleSettings(_Strict):
    # After close, snooze or send: the view's next conversation, stay, or back to the queue.
    advance: Literal["next", "stay", "queue"] = "next"
    send_delay: float = Field(default=10, ge=0, le=300, strict=True)
    """Undo send: seconds a reply waits in the outbox after ctrl+s, during which `u` takes it
    back into the composer; 0 sends at once (issue 14)."""


# --- end [console] --------------------------------------------------------------------------


# -- [surveys] (issue 21): customer satisfaction after a close; self-contained block ----------


class SurveyTierSettings(_Strict):
    # asked after a close; none: this tier gets no survey after a close (NPS only, say)
    question: str | None = Field(default=None, min_length=1, max_length=500)
    scale: Literal["csat", "ces"] = "csat"
    nps_every: str | None = None  # "90d": ask the tier's contacts for an NPS this often

    @field_validator("question")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("the question is one line: remove the line breaks")
        return value

    @field_validator("nps_every")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class SurveySettings(_Strict):
    enabled: bool = False
    cooldown: str = "14d"
    tiers: dict[str, SurveyTierSettings] = Field(default_factory=dict)
    nps_question: str = Field(default=DEFAULT_NPS_QUESTION, min_length=1, max_length=500)
    nps_subject: str = Field(default="A quick question", min_length=1, max_length=200)
    nps_canned: str | None = None  # a canned reply opening the NPS mail, rendered per contact

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        parse_duration(value)
        return value

    def policy(self, addresses: dict[int, str]) -> SurveyPolicy | None:
        """What the store applies; None when surveys are off."""
        if not self.enabled or not self.tiers:
            return None
        tiers = {
            name: TierSurvey(t.question, t.scale)
            for name, t in self.tiers.items()
            if t.question is not None
        }
        return SurveyPolicy(tiers, addresses, parse_duration(self.cooldown))

    def nps_policy(self) -> NpsPolicy | None:
        """The tiers asked for an NPS and how often; None when none is (or surveys are off)."""
        every = {
            name: parse_duration(t.nps_every)
            for name, t in self.tiers.items()
            if t.nps_every is not None
        }
        if not self.enabled or not every:
            return None
        return NpsPolicy(every, self.nps_question, self.nps_subject)


# -- end of [surveys] --------------------------------------------------------------------------


class FrontdeskConfig(_Strict):
    storage: StorageSettings = Field(default_factory=StorageSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    agents: list[AgentSettings] = Field(default_factory=list)
    accounts: list[AccountSettings] = Field(default_factory=list)
    tiers: dict[str, TierSettings] = Field(
        default_factory=lambda: {"standard": TierSettings(default=True)}
    )
    tier_rules: list[TierRule] = Field(default_factory=list)
    canned_replies: list[CannedReplySettings] = Field(default_factory=list)
    views: list[ViewSettings] = Field(default_factory=list)
    macros: list[MacroSettings] = Field(default_factory=list)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    keys: dict[str, str] = Field(default_factory=dict)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    surveys: SurveySettings = Field(default_factory=SurveySettings)

    def default_tier(self) -> str:
        defaults = [name for name, tier in self.tiers.items() if tier.default]
        return defaults[0] if defaults else "standard"

    def policy(self) -> SimplePolicy:
        """The inbox policy the store applies: tiers by address/domain, SLA targets."""
        by_address, by_domain = {}, {}
        for rule in self.tier_rules:
            if rule.email:
                by_address[f"email:{rule.email.lower()}"] = rule.tier
            if rule.slack_user:
                by_address[f"slack:{rule.slack_user.lower()}"] = rule.tier
            if rule.domain:
                by_domain[rule.domain.lower()] = rule.tier
        return SimplePolicy(
            default_tier=self.default_tier(),
            by_address=by_address,
            by_domain=by_domain,
            first_response=_targets(self.tiers, "first_response"),
            next_response=_targets(self.tiers, "next_response"),
            resolution=_targets(self.tiers, "resolution"),
            hours={name: tier.hours() for name, tier in self.tiers.items()},
            checkin_every=_targets(self.tiers, "checkin_every"),
        )


def _targets(tiers: dict[str, TierSettings], field: str) -> dict[str, float]:
    found = {name: getattr(tier, field) for name, tier in tiers.items()}
    return {name: parse_duration(value) for name, value in found.items() if value}


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "frontdesk.db"


def default_config_path() -> Path:
    env = os.environ.get("FRONTDESK_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class ConfigError(Exception):
    """Shown to the admin as is: file, place, problem, fix. Never a traceback."""


MAX_CONFIG_BYTES = 1024 * 1024
MAX_NESTING = 50  # arrays and inline tables inside each other; real configs use 2 or 3


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


def read_config_text(path: Path) -> str:
    """The file's text, read only if it is a regular file of at most MAX_CONFIG_BYTES.

    Opened without blocking and checked on the open descriptor: a FIFO cannot make us wait
    for a writer, and the file checked is the file read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such file — copy config.example.toml there, or pass --config PATH"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a folder itself
        os.close(fd)
        raise ConfigError(
            f"{path}: not a regular file ({_kind(info.st_mode)}): point --config at the TOML file"
        )
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {info.st_size} bytes, over the 1 MB a config may have")
        try:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: over the 1 MB a config may have")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def nesting_too_deep(text: str) -> int | None:
    """The line where `[`/`{` nesting first goes over MAX_NESTING, else None.

    A light TOML scan: strings (basic, literal, multi-line) and comments are skipped; table
    headers ([a], [[a]]) open and close on their line and never get deep."""
    depth, line, i, size = 0, 1, 0, len(text)
    while i < size:
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = size if end < 0 else end
            continue
        elif char in "\"'":
            end = _string_end(text, i)
            line += text.count("\n", i, end)
            i = end
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _string_end(text: str, start: int) -> int:
    """The index just after the string starting at `start` (its end, if unterminated)."""
    quote = text[start]
    if text.startswith(quote * 3, start):
        end = text.find(quote * 3, start + 3)
        return len(text) if end < 0 else end + 3
    i = start + 1
    while i < len(text) and text[i] not in (quote, "\n"):
        i += 2 if quote == '"' and text[i] == "\\" else 1
    return min(i + 1, len(text))


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


def format_validation_error(path: Path, text: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [part for part in item["loc"] if not _is_union_tag(part)]
        where = _dotted(loc)
        line = locate(text, loc)
        place = f"{path}:{line}" if line else str(path)
        lines.append(f"{place}: {where or '(top level)'}: {_explain(item)}")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    return part in ("imap", "slack")


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(item: Any) -> str:
    kind, msg = item["type"], item["msg"]
    if kind == "extra_forbidden":
        return "unknown key — remove it or check its spelling against config.example.toml"
    if kind == "missing":
        return "required key is missing — add it (see config.example.toml)"
    if kind == "union_tag_invalid":
        return 'unknown account kind — use kind = "imap" or kind = "slack"'
    if kind in ("int_type", "float_type"):
        return 'not an integer or number — write it without quotes, e.g. 993 (not true, "993")'
    if kind == "bool_type":
        return "not true or false — write true or false without quotes"
    if kind == "union_tag_not_found":
        return 'the account has no kind — add kind = "imap" or kind = "slack"'
    return str(msg).removeprefix("Value error, ")


def locate(text: str, loc: list[Any]) -> int | None:
    """Best-effort line number of a key path like ['accounts', 1, 'imap_port'] in TOML text."""
    lines = text.splitlines()
    start, end, table, anchored = 0, len(lines), "", False
    for part in loc:
        if isinstance(part, int):
            start = _nth_array_table(lines, table, part, start)
            if start < 0:
                return None
            end = _section_end(lines, start)  # this element's keys, not the next one's
            anchored = True
            continue
        found = _key_line(lines, str(part), start, end)
        if found is None:
            return start + 1 if anchored else None
        start, table, anchored = found, (f"{table}.{part}" if table else str(part)), True
    return start + 1


def _nth_array_table(lines: list[str], table: str, index: int, start: int) -> int:
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
    hits = [i for i, line in enumerate(lines) if i >= start and header.match(line)]
    return hits[index] if index < len(hits) else -1


def _section_end(lines: list[str], header: int) -> int:
    """The line after the last of the table whose header is at `header`."""
    for i in range(header + 1, len(lines)):
        if re.match(r"^\s*\[", lines[i]):
            return i
    return len(lines)


def _key_line(lines: list[str], key: str, start: int, end: int) -> int | None:
    quoted = rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    pattern = re.compile(rf"^\s*(\[+\s*)?([\w.-]*\.)?{quoted}\s*(=|\]|\.)")
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i
    return None
