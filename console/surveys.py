"""`[surveys]` applied: what the store is told (storage/surveys.py, storage/nps.py).

- `survey_policy`: the tiers surveyed after a close, the cooldown, and each email account's
  own address (where the rating links write to); None when surveys are off.
- `nps_intro`: the canned reply named by `nps_canned`, rendered for each contact asked for an
  NPS (contact.name / first_name / email, agent from `[agent]`); a reply that does not render
  for a contact leaves the mail without an opening, and the log says why.
- `ask_nps`: one NPS pass (`frontdesk sync` runs it before each pass of the connectors).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connectors.email.mapping import own_address
from connectors.email.settings import ImapAccountSettings
from console import canned
from console.config import FrontdeskConfig
from storage.aio import AsyncStore
from storage.store import Store
from storage.surveys import SurveyPolicy

log = logging.getLogger(__name__)


def survey_policy(store: Store, config: FrontdeskConfig) -> SurveyPolicy | None:
    addresses = {
        store.ensure_account(a.name, "imap"): own_address(a.from_address)
        for a in config.accounts
        if isinstance(a, ImapAccountSettings)
    }
    return config.surveys.policy(addresses)


def nps_intro(config: FrontdeskConfig) -> Callable[[str, str], str | None] | None:
    name = config.surveys.nps_canned
    body = next((r.body for r in config.canned_replies if r.name == name), None)
    if name is None or body is None:
        return None
    agent = canned.Person(config.agent.name, config.agent.first_name, config.agent.email)
    subject = config.surveys.nps_subject

    def intro(contact_name: str, email: str) -> str | None:
        first = contact_name.split()[0] if contact_name.split() else contact_name
        values: dict[str, object] = {
            "contact": canned.Person(contact_name, first, email),
            "agent": agent,
            "conversation": canned.ConversationVars(0, subject, "email"),
        }
        try:
            return canned.render(name, body, values)
        except canned.TemplateProblem as exc:
            log.warning("NPS survey to %s without its opening: %s", email, exc)
            return None

    return intro


def _ask(store: Store, config: FrontdeskConfig) -> list[int]:
    nps_policy = config.surveys.nps_policy()
    policy = survey_policy(store, config)
    if nps_policy is None or policy is None:
        return []
    return store.ask_nps(nps_policy, policy, nps_intro(config))


async def ask_nps(astore: AsyncStore, config: FrontdeskConfig) -> list[int]:
    """Send the NPS surveys due now; returns their conversations (none when NPS is off)."""
    if config.surveys.nps_policy() is None:
        return []
    sent = await astore.call(_ask, config)
    if sent:
        log.info("NPS: asked %d contact(s)", len(sent))
    return sent
