"""The config file's sections as pydantic models: one model composed of what each
connector declares (`connectors.registry.AccountSettings`). Reading and error
messages live in `console.config`; import the names from there."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from connectors.registry import AccountSettings
from console.durations import parse_duration
from console.macros import Macro, MacroStep
from storage.nps import DEFAULT_NPS_QUESTION, NpsPolicy
from storage.policy import SimplePolicy
from storage.sla import WEEKDAYS, BusinessHours, check_timezone, parse_days, parse_window
from storage.surveys import SurveyPolicy, TierSurvey

APP_NAME = "frontdesk"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "frontdesk.db"


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
