"""A generated, realistic multichannel inbox for `frontdesk demo` (no network, no config).

Deterministic for a given seed and clock, so screenshots of the demo are stable in tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from storage.models import Channel, Direction, IdentityRef, InboundMessage, IngestResult
from storage.policy import SimplePolicy
from storage.store import Store

DEMO_KNOWLEDGE = Path(__file__).parent / "demo_kb"
HOUR = 3600.0
DAY = 24 * HOUR
AGENT = IdentityRef("email", "sam@frontdesk.demo", "Sam Rivera")
SLACK_BOT = IdentityRef("slack", "B0DEMO", "Frontdesk bot")

FIRST = [
    "Alice",
    "Bruno",
    "Chen",
    "Dalia",
    "Emeka",
    "Fatima",
    "Gustav",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aiko",
    "Bastien",
    "Carmen",
    "Dmitri",
    "Elif",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kalani",
    "Luca",
    "Mira",
    "Nils",
]
LAST = [
    "Moreau",
    "Silva",
    "Wei",
    "Haddad",
    "Okafor",
    "Rahman",
    "Lindqvist",
    "Sato",
    "Petrov",
    "Nguyen",
    "Mensah",
    "Vogel",
    "Garcia",
    "Karim",
    "Berg",
    "Patel",
    "Murphy",
    "Lopez",
]
COMPANIES = [
    ("bigcustomer.com", "advanced"),
    ("acme.io", "advanced"),
    ("northwind.co", "standard"),
    ("globex.net", "standard"),
    ("initech.dev", "standard"),
    ("gmail.com", "basic"),
    ("fastmail.com", "basic"),
    ("umbrella.org", "standard"),
]
TOPICS = [
    (
        "Invoice shows the wrong VAT number",
        ["billing"],
        "Hi, our last invoice has the old VAT number on it. Could you reissue it?",
    ),
    (
        "Can't log in after password reset",
        ["login"],
        "I reset my password an hour ago and the new one is rejected. Locked out now.",
    ),
    (
        "Export to CSV drops the last column",
        ["bug"],
        "When I export the report to CSV the 'Region' column is missing.",
    ),
    (
        "Feature request: snooze until a date",
        ["feature-request/snooze-dates"],
        "It would be great to snooze a ticket until a given date, not just for hours.",
    ),
    (
        "Refund for duplicate charge",
        ["billing", "refund"],
        "We were charged twice this month. Please refund the duplicate.",
    ),
    (
        "How do I add a teammate?",
        ["how-to"],
        "We hired someone new. How do I give them access to our workspace?",
    ),
    (
        "API returns 500 on /orders",
        ["bug", "api"],
        "Since this morning GET /orders returns a 500 for about half of our calls.",
    ),
    (
        "Upgrade to the annual plan",
        ["sales"],
        "We'd like to switch to annual billing. What does it cost for 25 seats?",
    ),
    (
        "Webhook deliveries delayed",
        ["api"],
        "Webhooks arrive 10-15 minutes late since yesterday. Anything going on?",
    ),
    (
        "Dark mode please",
        ["feature-request/dark-mode"],
        "Any plans for a dark mode? My eyes would thank you.",
    ),
    (
        "Data deletion request (GDPR)",
        ["privacy"],
        "Please delete all personal data you hold about me, per GDPR article 17.",
    ),
    (
        "SSO with Okta not working",
        ["login", "sso"],
        "Our Okta SSO fails with 'invalid audience' since we rotated the certificate.",
    ),
]
TAG_COLORS = {
    "billing": "yellow",
    "refund": "yellow",
    "login": "magenta",
    "sso": "magenta",
    "bug": "red",
    "api": "blue",
    "how-to": "green",
    "sales": "green",
    "privacy": "white",
    "feature-request/snooze-dates": "cyan",
    "feature-request/dark-mode": "cyan",
}
FOLLOW_UPS = [
    "Any update on this?",
    "Thanks, that worked!",
    "Still seeing the problem, sadly.",
    "Here is a screenshot of the error.",
    "Could we jump on a quick call?",
    "Perfect, thank you so much.",
]
REPLIES = [
    "Thanks for the report — I'm looking into it now.",
    "I've passed this to our engineers and will update you today.",
    "Done! Let me know if anything else comes up.",
    "Could you send me the exact error message you see?",
]
CANNED = [
    (
        "Thanks, looking into it",
        "ty",
        "General",
        "Hi {{ contact.first_name }},\n\nThanks for reaching out — I'm looking into this now.\n\n"
        "{{ agent.name }}",
    ),
    (
        "Password reset steps",
        "pw",
        "Login",
        "Hi {{ contact.first_name }},\n\nYou can reset your password from Settings → Security.",
    ),
    (
        "Feature shipped",
        "ship",
        "Follow-ups",
        'Hi {{ contact.first_name }},\n\nGood news: what you asked for in "{{ conversation.subject'
        ' }}" has shipped today!\n\n{{ agent.name }}',
    ),
]
DEMO_POLICY = SimplePolicy(
    by_domain={domain: tier for domain, tier in COMPANIES},
    first_response={"basic": 2 * DAY, "standard": 8 * HOUR, "advanced": HOUR},
    next_response={"basic": 3 * DAY, "standard": DAY, "advanced": 4 * HOUR},
)


@dataclass(frozen=True)
class Person:
    email: IdentityRef
    slack: IdentityRef | None


def people(rng: random.Random, n: int = 60) -> list[Person]:
    found = []
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], rng.choice(LAST)
        domain, _ = rng.choice(COMPANIES)
        name = f"{first} {last}"
        email = IdentityRef("email", f"{first}.{last}{i}@{domain}".lower(), name)
        slack = IdentityRef("slack", f"U{1000 + i}", name) if rng.random() < 0.5 else None
        found.append(Person(email, slack))
    return found


class DemoInbox:
    """Builds the demo store and keeps producing new customer messages."""

    def __init__(self, store: Store, seed: int = 7) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.people = people(self.rng)
        self.mail = store.ensure_account("Support mail", "imap")
        self.slack = store.ensure_account("Support Slack", "slack")
        self.counter = 0

    def build(self, now: float, conversations: int = 320) -> None:
        for person in self.people:
            self._register(person)
        for name, color in TAG_COLORS.items():
            self.store.ensure_tag(name, color)
        for name, shortcut, folder, body in CANNED:
            self.store.upsert_canned_reply(
                name, body, shortcut=shortcut, folder=folder, source="config"
            )
        for _ in range(conversations):
            # Most conversations are recent; a long tail goes back two months.
            age = min(self.rng.expovariate(1 / (3 * DAY)), 60 * DAY) + 0.1 * HOUR
            self._conversation(now - age, now)

    def _register(self, person: Person) -> None:
        """Give each person one contact across channels (Slack linked to email)."""
        contact = self.store.ensure_contact(person.email)
        if person.slack is not None:
            self.store.add_identity(contact, person.slack)

    def _conversation(self, start: float, now: float) -> None:
        person = self.rng.choice(self.people)
        channel: Channel = "slack" if person.slack and self.rng.random() < 0.45 else "email"
        subject, tags, opening = self.rng.choice(TOPICS)
        t = start
        first, result = self._message(person, channel, "in", t, subject, opening, ())
        parent = first.remote_id
        turns = self.rng.randint(0, 5)
        for turn in range(turns):
            t += self.rng.uniform(0.1 * HOUR, 20 * HOUR)
            if t >= now:
                break
            direction: Direction = "out" if turn % 2 == 0 else "in"
            text = self.rng.choice(REPLIES if direction == "out" else FOLLOW_UPS)
            self._message(person, channel, direction, t, subject, text, (parent,))
        self._decorate(result.conversation_id, tags, now, old=now - start > 4 * DAY)

    def _message(
        self,
        person: Person,
        channel: Channel,
        direction: Direction,
        at: float,
        subject: str,
        text: str,
        parents: tuple[str, ...],
    ) -> tuple[InboundMessage, IngestResult]:
        self.counter += 1
        who = person.slack if channel == "slack" and person.slack else person.email
        us = SLACK_BOT if channel == "slack" else AGENT
        remote = (
            f"C0DEMO:{at:.6f}" if channel == "slack" else f"<demo{self.counter}@frontdesk.demo>"
        )
        msg = InboundMessage(
            account_id=self.slack if channel == "slack" else self.mail,
            remote_id=remote,
            channel=channel,
            direction=direction,
            author=who if direction == "in" else us,
            customer=who,
            sent_at=at,
            subject=subject if channel == "email" else "",
            text=text,
            thread_ref=remote,
            parent_refs=parents,
        )
        return msg, self.store.ingest([msg])[0]

    def _decorate(self, conversation_id: int, tags: list[str], now: float, old: bool) -> None:
        # Old conversations have mostly been dealt with, as in a real team's inbox.
        roll = self.rng.random() * (0.3 if old else 1.0)
        if self.rng.random() < 0.5:
            self.store.mark_read(conversation_id)
        for tag in tags:
            if self.rng.random() < 0.8:
                self.store.tag([conversation_id], "Sam Rivera", tag)
        if self.rng.random() < 0.3:
            who = self.rng.choice(["sam@frontdesk.demo", "kim@frontdesk.demo"])
            self.store.assign(conversation_id, "Sam Rivera", who)
        if roll < 0.25:
            self.store.close_conversation(conversation_id, "Sam Rivera")
        elif roll < 0.33:
            until = now + self.rng.uniform(2 * HOUR, 5 * DAY)
            note = "waiting for the customer's screenshot"
            self.store.snooze(conversation_id, "Sam Rivera", until, note=note)

    def new_arrival(self, now: float) -> int:
        """A customer writes now: a follow-up in a recent conversation, or a new question."""
        person = self.rng.choice(self.people)
        subject, _tags, opening = self.rng.choice(TOPICS)
        channel: Channel = "slack" if person.slack and self.rng.random() < 0.4 else "email"
        _, result = self._message(person, channel, "in", now, subject, opening, ())
        return result.conversation_id


def build_demo(store: Store, now: float, seed: int = 7) -> DemoInbox:
    inbox = DemoInbox(store, seed)
    if store.stats()["conversations"] == 0:
        inbox.build(now)
    return inbox
