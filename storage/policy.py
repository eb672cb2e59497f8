"""What the store needs to know of the admin's configuration, as plain callables.

The store never reads config files: the console builds a policy from the TOML (tiers, SLA
targets) and hands it in. The default policy knows no tiers beyond `standard` and sets no SLA.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from storage.models import IdentityRef
from storage.sla import ALWAYS, BusinessHours, Interval, add_business_seconds

ResponseKind = Literal["first", "next"]
SlaKind = Literal["first", "next", "resolution"]


class InboxPolicy(Protocol):
    def tier_for(self, identity: IdentityRef) -> str: ...

    def due_at(self, tier: str, kind: ResponseKind, since: float) -> float | None: ...


@runtime_checkable
class SlaPolicy(InboxPolicy, Protocol):
    """What reports and check-ins need beyond the inbox rules."""

    @property
    def checkin_every(self) -> Mapping[str, float]: ...  # tier -> seconds without contact

    def sla_due(
        self, tier: str, kind: SlaKind, since: float, pauses: Iterable[Interval] = ()
    ) -> float | None: ...


@dataclass(frozen=True)
class SimplePolicy:
    """Tiers by exact address or email domain; SLA targets in each tier's business hours."""

    default_tier: str = "standard"
    by_address: dict[str, str] = field(default_factory=dict)  # "email:a@x.com" / "slack:U1"
    by_domain: dict[str, str] = field(default_factory=dict)  # "x.com"
    first_response: dict[str, float] = field(default_factory=dict)  # tier -> seconds
    next_response: dict[str, float] = field(default_factory=dict)
    resolution: dict[str, float] = field(default_factory=dict)
    hours: dict[str, BusinessHours] = field(default_factory=dict)  # absent: 24/7 in UTC
    checkin_every: dict[str, float] = field(default_factory=dict)

    def tier_for(self, identity: IdentityRef) -> str:
        exact = self.by_address.get(identity.key().lower())
        if exact:
            return exact
        if identity.kind == "email" and "@" in identity.address:
            domain = identity.address.rsplit("@", 1)[1].lower()
            return self.by_domain.get(domain, self.default_tier)
        return self.default_tier

    def due_at(self, tier: str, kind: ResponseKind, since: float) -> float | None:
        return self.sla_due(tier, kind, since)

    def sla_due(
        self, tier: str, kind: SlaKind, since: float, pauses: Iterable[Interval] = ()
    ) -> float | None:
        """`since` plus the tier's target, counting only business hours outside `pauses`."""
        target = self.target(tier, kind)
        if target is None:
            return None
        return add_business_seconds(since, target, self.hours.get(tier, ALWAYS), pauses)

    def target(self, tier: str, kind: SlaKind) -> float | None:
        targets = {
            "first": self.first_response,
            "next": self.next_response,
            "resolution": self.resolution,
        }[kind]
        return targets.get(tier)
