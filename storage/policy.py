"""What the store needs to know of the admin's configuration, as plain callables.

The store never reads config files: the console builds a policy from the TOML (tiers, SLA
targets) and hands it in. The default policy knows no tiers beyond `standard` and sets no SLA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from storage.models import IdentityRef

ResponseKind = Literal["first", "next"]


class InboxPolicy(Protocol):
    def tier_for(self, identity: IdentityRef) -> str: ...

    def due_at(self, tier: str, kind: ResponseKind, since: float) -> float | None: ...


@dataclass(frozen=True)
class SimplePolicy:
    """Tiers by exact address or email domain; SLA targets as wall-clock seconds."""

    default_tier: str = "standard"
    by_address: dict[str, str] = field(default_factory=dict)  # "email:a@x.com" / "slack:U1"
    by_domain: dict[str, str] = field(default_factory=dict)  # "x.com"
    first_response: dict[str, float] = field(default_factory=dict)  # tier -> seconds
    next_response: dict[str, float] = field(default_factory=dict)

    def tier_for(self, identity: IdentityRef) -> str:
        exact = self.by_address.get(identity.key().lower())
        if exact:
            return exact
        if identity.kind == "email" and "@" in identity.address:
            domain = identity.address.rsplit("@", 1)[1].lower()
            return self.by_domain.get(domain, self.default_tier)
        return self.default_tier

    def due_at(self, tier: str, kind: ResponseKind, since: float) -> float | None:
        targets = self.first_response if kind == "first" else self.next_response
        target = targets.get(tier)
        return None if target is None else since + target
