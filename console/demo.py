"""A generated, realistic multichannel inbox for `frontdesk demo` (no network, no config).

`build_demo` writes two months of history, deterministic for a seed and clock (the console's
tests and snapshots use it as their data set). `start_demo` is what `frontdesk demo` opens:
that history, then `DemoInbox.morning`, which shapes the queue like a healthy team's morning
(what was overdue was answered in time; this morning's arrivals mostly well within their SLA,
AT_RISK due within the hour, BREACHED just over). While the console runs, `DemoInbox.tick`
plays the demo's channel: replies queued in the outbox are sent at once (queued -> sent within
a tick), and a customer writes about once a minute. The customers are the same people in the
history and in the arrivals (same names, addresses and Slack ids), and the agents the demo
assigns to are the ones the console offers (AGENTS).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage import queue
from storage.models import (
    Channel,
    Direction,
    IdentityRef,
    InboundMessage,
    IngestResult,
    QueueRow,
)
from storage.policy import SimplePolicy
from storage.store import Store

if TYPE_CHECKING:
    from console.app import FrontdeskApp

DEMO_KNOWLEDGE = Path(__file__).parent / "demo_kb"
HOUR = 3600.0
DAY = 24 * HOUR
AGENT = IdentityRef("email", "sam@frontdesk.demo", "Sam Rivera")
KIM = IdentityRef("email", "kim@frontdesk.demo", "Kim Lee")
AGENTS = [(AGENT.display_name, AGENT.address), (KIM.display_name, KIM.address)]
MINUTE = 60.0
TICK_SECONDS = 0.5  # how often the demo channel looks at the outbox (and the clock)
ARRIVAL_EVERY = 60.0  # mean seconds between two customer messages while the demo runs
FRESH = 6  # this morning's new conversations, well within their SLA
AT_RISK = 4  # ... due within the hour (the queue shows them as "soon")
BREACHED = 2  # ... just over their SLA
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


@dataclass(frozen=True)
class Thread:
    """What answering a generated conversation needs."""

    person: Person
    channel: Channel
    subject: str
    root: str  # the first message's thread_ref


class DemoInbox:
    """Builds the demo store and keeps producing new customer messages.

    `seed` makes the people and the history; `arrivals` (default: `seed`) only what happens
    later, so a demo started with a fresh `arrivals` still has the history's customers."""

    def __init__(self, store: Store, seed: int = 7, *, arrivals: int | None = None) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.people = people(self.rng)
        if arrivals is not None:
            self.rng = random.Random(arrivals)
        self.mail = store.ensure_account("Support mail", "imap")
        self.slack = store.ensure_account("Support Slack", "slack")
        self.counter = 0
        self.threads: dict[int, Thread] = {}  # conversation id -> thread, as generated
        self.next_arrival: float | None = None

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
        self.threads[result.conversation_id] = Thread(person, channel, subject, parent)
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
            who = self.rng.choice([address for _, address in AGENTS])
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

    # ------------------------------------------------------------------ the morning

    def morning(self, now: float) -> None:
        """Shape the open queue like a healthy team's morning (see the module docstring)."""
        for row in list(self._needing_reply()):
            due = row.sla_due_at
            if due is not None and due < now + HOUR and row.id in self.threads:
                self._answer(row, now)
        lefts = [
            *(self.rng.uniform(-40 * MINUTE, -5 * MINUTE) for _ in range(BREACHED)),
            *(self.rng.uniform(10 * MINUTE, 55 * MINUTE) for _ in range(AT_RISK)),
            *(None for _ in range(FRESH)),
        ]
        for left in lefts:
            self._waiting(now, left)

    def _needing_reply(self) -> Iterator[QueueRow]:
        view, after = queue.needs_reply(), None
        while rows := self.store.page(view, after=after, limit=200):
            yield from rows
            after = queue.cursor_of(rows[-1])

    def _answer(self, row: QueueRow, now: float) -> None:
        """Someone answered it in time: after the customer's last message, before the due."""
        thread = self.threads[row.id]
        waiting = row.waiting_since if row.waiting_since is not None else row.last_message_at
        due = min(row.sla_due_at or now, now - MINUTE)
        at = waiting + self.rng.uniform(0.2, 0.8) * max(0.0, due - waiting)
        at = min(max(at, row.last_message_at + MINUTE), now - MINUTE)
        text = self.rng.choice(REPLIES)
        who, channel = thread.person, thread.channel
        self._message(who, channel, "out", at, thread.subject, text, (thread.root,))

    def _waiting(self, now: float, left: float | None) -> None:
        """A customer who wrote this morning and waits: due in `left` seconds (None: well
        within the SLA, in at least a third of the tier's target)."""
        person = self.rng.choice(self._people_with_time(left))
        target = DEMO_POLICY.first_response[DEMO_POLICY.tier_for(person.email)]
        if left is None:
            left = self.rng.uniform(target / 3, target - 10 * MINUTE)
        subject, tags, opening = self.rng.choice(TOPICS)
        channel: Channel = "slack" if person.slack and self.rng.random() < 0.4 else "email"
        _, result = self._message(person, channel, "in", now - target + left, subject, opening, ())
        for tag in tags:
            self.store.tag([result.conversation_id], AGENT.display_name, tag)

    def _people_with_time(self, left: float | None) -> list[Person]:
        """Anyone may be at risk; a wait well within the SLA needs a target over an hour."""
        if left is not None:
            return self.people
        return [p for p in self.people if DEMO_POLICY.tier_for(p.email) != "advanced"]

    # ------------------------------------------------------------------ while it runs

    def tick(self, now: float) -> None:
        """The demo channel: send what the outbox holds; a customer writes now and then."""
        self.deliver()
        if self.next_arrival is None:
            self.next_arrival = now + self.rng.expovariate(1 / ARRIVAL_EVERY)
        elif now >= self.next_arrival:
            self.new_arrival(now)
            self.next_arrival = now + self.rng.expovariate(1 / ARRIVAL_EVERY)

    def deliver(self) -> int:
        """Every due reply, claimed and marked sent (nothing leaves the machine); how many."""
        sent = 0
        for item in self.store.due_outbox():
            if self.store.outbox_sending(item.id):
                self.store.outbox_sent(item.id)
                sent += 1
        return sent


def build_demo(store: Store, now: float, seed: int = 7) -> DemoInbox:
    inbox = DemoInbox(store, seed)
    if store.stats()["conversations"] == 0:
        inbox.build(now)
    return inbox


def start_demo(store: Store, now: float, *, arrivals: int) -> DemoInbox:
    """What `frontdesk demo` opens: the history and the morning, on a new store only (an
    existing one, `--db`, is opened as it is)."""
    inbox = DemoInbox(store, arrivals=arrivals)
    if store.stats()["conversations"] == 0:
        inbox.build(now)
        inbox.morning(now)
    return inbox


def demo_app(store: Store, feed: DemoInbox, clock: Callable[[], float]) -> FrontdeskApp:
    """The console on the demo store; `feed` (on its own connection, as `frontdesk sync`
    would be) plays the demo channel every TICK_SECONDS."""
    from console.app import FrontdeskApp  # Textual loads only when the console opens

    return FrontdeskApp(
        store,
        me=AGENT.address,
        agent_name=AGENT.display_name,
        agents=AGENTS,
        clock=clock,
        tick=lambda: feed.tick(clock()),
        tick_seconds=TICK_SECONDS,
        knowledge_folder=DEMO_KNOWLEDGE,
    )
