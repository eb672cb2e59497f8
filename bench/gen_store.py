"""Generate (once) a realistic Frontdesk store for the console benchmarks.

Default: 1,000,000 conversations, ~200,000 contacts, ~2.7M messages (one conversation has
exactly 200), all indexed in FTS5. The file is cached: a second run with the same parameters
reuses it (a sidecar ``<db>.meta.json`` records the parameters, the reference time and the id
of the 200-message conversation).

    .venv/bin/python bench/gen_store.py [--db /tmp/frontdesk-bench-1m.db] [--conversations N]

How it stays consistent with the store's own writers: every conversation is simulated message
by message through the real rule functions of ``storage.rules`` (``customer_wrote``,
``agent_replied``, ``close_conversation``, ``snooze``, ``wake``) under the bench config's policy,
so ``status``, ``waiting_since``, ``first_response_at``, ``sla_due_at``, ``woken_at`` and
``queue_key`` are what ingest would have stored; a sample is re-checked against
``storage.state.load_state`` + ``rules.queue_key`` at the end. Contact tiers come from
``policy.tier_for`` (the config's tier rules). How it stays fast: conversations, contacts, tags
and events go in with ``executemany`` from one seeded RNG; messages (the bulk) are one
``INSERT ... SELECT`` over a plan table joined to a recursive-CTE number series; the secondary
indexes and FTS triggers of conversations, messages, tags and events are dropped during the
load and rebuilt once (contacts and identities keep their trigram triggers); the FTS index is
filled with one ``INSERT ... SELECT`` (faster than ``'rebuild'``); everything is in
one transaction with the journal off, then the file is switched to WAL and renamed into place.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sqlite3
import sys
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any

# bench/console.py would shadow the `console` package: take this folder off the path.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

from console.config import FrontdeskConfig  # noqa: E402
from storage import rules  # noqa: E402
from storage.db import connect, migrate  # noqa: E402
from storage.models import IdentityRef  # noqa: E402
from storage.policy import InboxPolicy  # noqa: E402
from storage.rules import ConvState  # noqa: E402
from storage.state import load_state  # noqa: E402

GENERATOR_VERSION = 4
DEFAULT_DB = Path("/tmp/frontdesk-bench-1m.db")
LONG_MESSAGES = 200
AGENT_EMAIL = "sam@frontdesk.test"

# The config the bench console runs with; the store is generated under the same policy.
CONFIG_TOML = """\
[storage]
path = "{db}"

[agent]
name = "Sam Rivera"
email = "sam@frontdesk.test"

[tiers.basic]
first_response = "2d"

[tiers.standard]
default = true
first_response = "8h"
next_response = "1d"

[tiers.advanced]
first_response = "1h"
next_response = "4h"

[[tier_rules]]
domain = "bigcustomer.com"
tier = "advanced"

[[tier_rules]]
domain = "acme-corp.com"
tier = "advanced"

[[tier_rules]]
domain = "freemail.test"
tier = "basic"

[[tier_rules]]
domain = "webmail.test"
tier = "basic"
"""

AGENTS = [
    ("Sam Rivera", AGENT_EMAIL),
    ("Kim Osei", "kim@frontdesk.test"),
    ("Lee Park", "lee@frontdesk.test"),
    ("Ana Costa", "ana@frontdesk.test"),
    ("Raj Mehta", "raj@frontdesk.test"),
    ("Eva Novak", "eva@frontdesk.test"),
]
TAGS = [
    ("billing", "yellow"),
    ("refund", "green"),
    ("bug", "red"),
    ("login", "magenta"),
    ("shipping", "blue"),
    ("feature-request", "cyan"),
    ("urgent", "red"),
    ("vip", "bright_magenta"),
    ("onboarding", "green"),
    ("api", "blue"),
    ("mobile", "cyan"),
    ("invoice", "yellow"),
    ("cancel", "bright_red"),
    ("upgrade", "bright_green"),
    ("security", "red"),
    ("integration", "blue"),
    ("export", "cyan"),
    ("performance", "magenta"),
    ("sso", "bright_blue"),
    ("gdpr", "white"),
    ("password", "magenta"),
    ("outage", "bright_red"),
    ("pricing", "yellow"),
    ("trial", "green"),
    ("docs", "white"),
    ("webhooks", "blue"),
    ("email-delivery", "cyan"),
    ("slack-app", "magenta"),
    ("data-import", "cyan"),
    ("feedback", "green"),
]
FIRST = [
    "Alice",
    "Bob",
    "Carol",
    "Dan",
    "Erin",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Karl",
    "Laura",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Quentin",
    "Rupert",
    "Sybil",
    "Trent",
    "Uma",
    "Victor",
    "Wendy",
    "Xavier",
    "Yara",
    "Zoe",
    "Ahmed",
    "Beatriz",
    "Chen",
    "Dmitri",
    "Fatima",
    "Giulia",
    "Hiroshi",
    "Ingrid",
    "Jamal",
    "Keiko",
    "Luis",
    "Maria",
    "Noor",
    "Oskar",
    "Priya",
    "Rosa",
    "Santiago",
    "Tariq",
    "Ursula",
    "Vikram",
    "Wei",
    "Yusuf",
    "Zainab",
    "Amara",
    "Bruno",
    "Camille",
    "Diego",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Igor",
    "Jana",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "Novak",
    "Schmidt",
    "Muller",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Moreau",
    "Larsen",
    "Jensen",
    "Nakamura",
    "Tanaka",
    "Kim",
    "Park",
]
DOMAINS = [  # (domain, weight)
    ("freemail.test", 22),
    ("webmail.test", 12),
    ("bigcustomer.com", 4),
    ("acme-corp.com", 3),
    *[
        (f"{w}.example", 1)
        for w in [
            "north",
            "south",
            "east",
            "west",
            "blue",
            "red",
            "green",
            "alpha",
            "beta",
            "delta",
        ]
    ],
    *[(f"company{i}.example", 1) for i in range(60)],
]
PRODUCTS = [
    "dashboard",
    "invoice",
    "export",
    "webhook",
    "api",
    "mobile-app",
    "calendar",
    "report",
    "plugin",
    "widget",
]
FEATURES = [
    "login",
    "password",
    "billing",
    "subscription",
    "refund",
    "shipping",
    "upload",
    "download",
    "sync",
    "search",
    "filter",
    "notification",
    "permission",
    "integration",
    "import",
    "backup",
    "timezone",
    "currency",
    "discount",
    "coupon",
]
TEMPLATES = [
    "Hi, I can't {feature} since {weekday}, it keeps failing.",
    "Hello team, the {product} shows error {code} when I try to {feature}.",
    "My order {order} has not arrived yet, can you check the tracking?",
    "Please refund the charge of {amount} on invoice {order}.",
    "Thanks for the quick reply, that fixed it.",
    "We are evaluating the {product} for our team of {count} people.",
    "Could you explain how {feature} works with the {product}?",
    "I was charged twice this month for my subscription.",
    "The {product} is very slow today, pages take {count} seconds to load.",
    "How do I cancel my subscription and delete my account?",
    "Our admin needs to reset the password for {count} users.",
    "Is there an API endpoint to {feature} in bulk?",
    "I followed the docs but the {product} still says {code}.",
    "Any update on this? It has been {count} days.",
    "Can you upgrade our plan before {weekday}?",
    "We would like an invoice with our VAT number for order {order}.",
    "Sorry, I sent the wrong screenshot, here is the right one.",
    "The {feature} option disappeared after the last update.",
    "Your colleague promised a callback on {weekday} but nobody called.",
    "Please add {feature} to the {product}, it would save us hours.",
    "Let me check with the team and get back to you by {weekday}.",
    "I have escalated this to engineering, ticket {code}.",
    "Could you send me the logs from the {product}?",
    "We rolled out a fix for {feature}; please try again and tell me how it goes.",
    "Your refund of {amount} has been issued and should arrive within {count} days.",
]
WEEKDAYS = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "yesterday",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "ta",
    "vo",
    "shi",
    "pe",
    "da",
    "gu",
    "ri",
    "zo",
    "ba",
    "fe",
    "ni",
    "lu",
    "mo",
    "sa",
    "ke",
    "to",
    "ya",
    "wi",
    "xu",
    "qua",
    "bre",
    "sti",
    "plo",
    "gra",
    "tri",
    "fen",
    "dor",
    "mal",
    "vin",
    "cor",
]

N_SENTENCES = 40_000
N_TAILWORDS = 30_000
DAY = 86_400.0


def bench_config(db: Path) -> FrontdeskConfig:
    """The validated config object for a store path (same parser as the console)."""
    import tomllib

    raw = tomllib.loads(CONFIG_TOML.format(db=str(db)))
    return FrontdeskConfig.model_validate(raw)


def config_text(db: Path) -> str:
    return CONFIG_TOML.format(db=str(db))


def meta_path(db: Path) -> Path:
    return db.with_name(db.name + ".meta.json")


def ensure_store(
    db: Path, conversations: int, contacts: int, seed: int, *, force: bool = False
) -> dict[str, Any]:
    """The cached store's metadata, generating the store first when missing or different."""
    params = {
        "version": GENERATOR_VERSION,
        "conversations": conversations,
        "contacts": contacts,
        "seed": seed,
    }
    meta_file = meta_path(db)
    if not force and db.exists() and meta_file.exists():
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        if meta.get("params") == params:
            # Later migrations apply now, not inside a timed start-up; a changed rule or policy
            # (different queue_key/SLA for the same history) means the cache is stale.
            connect(db).close()
            try:
                verify(db, bench_config(db).policy(), sample=300, seed=seed)
            except AssertionError as exc:
                print(f"gen_store: cached store is stale ({exc}): regenerating", file=sys.stderr)
            else:
                meta["reused"] = True
                return meta
    meta = generate(db, params)
    meta_file.write_text(json.dumps(meta, indent=2))
    meta["reused"] = False
    return meta


# helpers -----------------------------------------------------------------------------------


def _zipf_cdf(n: int, s: float) -> list[float]:
    weights = [1.0 / (i + 1) ** s for i in range(n)]
    total, acc, out = sum(weights), 0.0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


def _pick(cdf: list[float], u: float) -> int:
    return min(bisect_left(cdf, u), len(cdf) - 1)


def _sentences(rng: random.Random) -> list[str]:
    tail = []
    seen: set[str] = set()
    while len(tail) < N_TAILWORDS:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            tail.append(word)
    tail_cdf = _zipf_cdf(len(tail), 1.05)
    out = []
    for _ in range(N_SENTENCES):
        text = rng.choice(TEMPLATES).format(
            feature=rng.choice(FEATURES),
            product=rng.choice(PRODUCTS),
            weekday=rng.choice(WEEKDAYS),
            code=f"E{rng.randint(100, 9999)}",
            order=f"#{rng.randint(100000, 999999)}",
            amount=f"${rng.randint(5, 900)}.{rng.randint(0, 99):02d}",
            count=rng.randint(2, 90),
        )
        if rng.random() < 0.45:  # a long tail of rarer words (product names, jargon, typos)
            extra = " ".join(tail[_pick(tail_cdf, rng.random())] for _ in range(rng.randint(2, 6)))
            text += f" Also {extra}."
        out.append(text)
    return out


def _exp(rng: random.Random, mean: float, cap: float) -> float:
    return min(rng.expovariate(1.0 / mean), cap)


# generation --------------------------------------------------------------------------------


def generate(db: Path, params: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    n_conv, n_contacts, seed = params["conversations"], params["contacts"], params["seed"]
    rng = random.Random(seed)
    config = bench_config(db)
    policy = config.policy()
    now = float(int(time.time()))
    tmp = db.with_name(db.name + f".tmp-{os.getpid()}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)

    conn = sqlite3.connect(tmp, isolation_level=None)
    for pragma in (
        "journal_mode = OFF",
        "synchronous = OFF",
        "locking_mode = EXCLUSIVE",
        "temp_store = MEMORY",
        "cache_size = -1500000",
        "foreign_keys = OFF",
    ):
        conn.execute(f"PRAGMA {pragma}")
    migrate(conn)
    deferred = _drop_indexes_and_triggers(conn)
    timings: dict[str, float] = {}
    last_lap = [started]

    def lap(name: str) -> None:
        t = time.perf_counter()
        timings[name] = round(t - last_lap[0], 2)
        last_lap[0] = t
        print(f"gen_store: {name} {timings[name]:.1f}s", file=sys.stderr)

    conn.execute("BEGIN")
    accounts = {"email": 1, "slack": 2}
    conn.executemany(
        "INSERT INTO accounts (id, name, kind, created_at) VALUES (?, ?, ?, ?)",
        [
            (1, "support-mail", "imap", now - 800 * DAY),
            (2, "support-slack", "slack", now - 800 * DAY),
        ],
    )
    conn.executemany(
        "INSERT INTO tags (id, name, color) VALUES (?, ?, ?)",
        [(i + 1, name, color) for i, (name, color) in enumerate(TAGS)],
    )

    # contacts and identities: agents first (ingest makes a contact for every author) --------
    contact_rows, identity_rows = [], []
    agent_identity = []
    for i, (name, address) in enumerate(AGENTS, start=1):
        ref = IdentityRef("email", address, name)
        contact_rows.append((i, name, policy.tier_for(ref), now - 800 * DAY))
        identity_rows.append((i, i, "email", address, name, i))
        agent_identity.append((i, name))
    domain_names = [d for d, _ in DOMAINS]
    domain_cdf = list(_cumulative([w for _, w in DOMAINS]))
    contact_name: list[str] = []
    contact_tier: list[str] = []
    email_identity: list[int] = []
    slack_identity: list[int] = []  # 0: none
    next_identity = len(identity_rows) + 1
    first_contact = len(AGENTS) + 1
    for n in range(n_contacts):
        cid = first_contact + n
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        domain = domain_names[_pick(domain_cdf, rng.random())]
        address = f"{first.lower()}.{last.lower()}{n}@{domain}"
        ref = IdentityRef("email", address, name)
        tier = policy.tier_for(ref)
        contact_rows.append((cid, name, tier, now - rng.uniform(30, 900) * DAY))
        identity_rows.append((next_identity, cid, "email", address, name, cid))
        email_identity.append(next_identity)
        next_identity += 1
        if rng.random() < 0.3:
            identity_rows.append((next_identity, cid, "slack", f"U{cid:08X}", name, cid))
            slack_identity.append(next_identity)
            next_identity += 1
        else:
            slack_identity.append(0)
        contact_name.append(name)
        contact_tier.append(tier)
    conn.executemany(
        "INSERT INTO contacts (id, name, tier, created_at) VALUES (?, ?, ?, ?)", contact_rows
    )
    conn.executemany(
        "INSERT INTO identities (id, contact_id, kind, address, display_name,"
        " original_contact_id) VALUES (?, ?, ?, ?, ?, ?)",
        identity_rows,
    )
    identity_name = {r[0]: r[4] for r in identity_rows}
    slack_contacts = [n for n, s in enumerate(slack_identity) if s]
    del contact_rows, identity_rows
    lap("contacts")

    sentences = _sentences(rng)
    conn.execute("CREATE TEMP TABLE sentences (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    conn.executemany("INSERT INTO temp.sentences VALUES (?, ?)", enumerate(sentences))
    lap("sentences")

    # conversations: simulated through storage.rules ------------------------------------------
    plans = _plan_conversations(rng, n_conv, now)
    plans.sort(key=lambda p: p[0])  # ids in creation order, as ingest assigns them
    long_index = next(i for i, p in enumerate(plans) if p[1] == "long")
    conv_rows, plan_rows, tag_rows, event_rows = [], [], [], []
    contact_cdf_n = n_contacts
    tag_cdf = _zipf_cdf(len(TAGS), 0.8)
    agent_addresses = [a for _, a in AGENTS]
    for index, (start, kind, n, step, close_delay, extra) in enumerate(plans):
        conv_id = index + 1
        channel = "slack" if rng.random() < 0.3 else "email"
        if kind == "long":
            channel = "email"
        if channel == "slack":
            contact = slack_contacts[int(len(slack_contacts) * rng.random() ** 1.6)]
            author = slack_identity[contact]
        else:
            contact = int(contact_cdf_n * rng.random() ** 1.6)
            author = email_identity[contact]
        contact_id = first_contact + contact
        tier = contact_tier[contact]
        agent = rng.randrange(len(AGENTS))
        first_dir = "out" if kind == "long" else "in"
        s0 = rng.randrange(N_SENTENCES)
        if channel == "email":
            topic = rng.choice(FEATURES)
            subject = rng.choice(
                [
                    f"Problem with {topic}",
                    f"Question about {topic} on the {rng.choice(PRODUCTS)}",
                    f"Order #{rng.randint(100000, 999999)}: {topic}",
                    f"{topic.capitalize()} not working",
                    f"Re: {topic} request",
                ]
            )
            group_key = subject.lower().removeprefix("re: ")
        else:
            first_line = sentences[s0]
            subject = first_line if len(first_line) <= 80 else first_line[:79].rstrip() + "…"
            group_key = "C0BENCH"
        times = [start + k * step for k in range(n)]
        state = ConvState(
            status="open" if first_dir == "in" else "pending",
            tier=tier,
            last_message_at=times[0],
            unread=False,
        )
        events: list[tuple[float, str, str]] = []
        direction = first_dir
        for k, at in enumerate(times):
            if kind in ("woken_reply", "long") and k == n - 1:
                snoozed = at - step / 2
                events += [
                    (snoozed, agent_addresses[agent], e)
                    for e in rules.snooze(state, at + DAY, policy, at=snoozed)
                ]
            if direction == "in":
                events += [(at, "customer", e) for e in rules.customer_wrote(state, at, policy)]
            else:
                rules.agent_replied(state, at, policy, close=False)
            direction = "out" if direction == "in" else "in"
        last = times[-1]
        if kind == "closed":
            events += [
                (last + close_delay, AGENTS[agent][0], e)
                for e in rules.close_conversation(state, last + close_delay, policy)
            ]
        elif kind == "snoozed":
            until = now + extra
            events += [
                (last + 60, AGENTS[agent][0], e)
                for e in rules.snooze(state, until, policy, at=last + 60)
            ]
        elif kind == "woken":
            events += [
                (last + 60, AGENTS[agent][0], e)
                for e in rules.snooze(state, extra, policy, at=last + 60)
            ]
            events += [(extra, "snooze", e) for e in rules.wake(state, extra, policy)]
        # the agent opened it (store.mark_read) unless a customer message is still unseen
        if state.unread and (state.status != "open" or rng.random() < 0.45):
            state.unread = False
        assignee = None
        if (
            state.status == "pending"
            or (state.status == "open" and rng.random() < 0.45)
            or (state.status in ("closed", "snoozed") and rng.random() < 0.8)
        ):
            assignee = agent_addresses[agent]
        conv_rows.append(
            (
                conv_id,
                accounts[channel],
                channel,
                subject,
                contact_id,
                state.status,
                assignee,
                state.snoozed_until,
                int(state.wake_on_reply),
                state.snooze_note,
                state.woken_at,
                state.waiting_since,
                state.first_response_at,
                state.closed_at,
                state.last_message_at,
                times[0] + 20,
                state.tier,
                state.sla_due_at,
                int(state.unread),
                group_key,
                rules.queue_key(state),
                state.snoozed_at,
            )
        )
        plan_rows.append(
            (
                conv_id,
                accounts[channel],
                channel,
                n,
                start,
                step,
                int(first_dir == "in"),
                author,
                identity_name[author],
                agent + 1,
                AGENTS[agent][0],
                subject if channel == "email" else "",
                s0,
            )
        )
        event_rows += [(conv_id, at, actor, e, "{}") for at, actor, e in events]
        u = rng.random()
        if u < 0.45 or kind == "long":
            tag_rows.append((conv_id, _pick(tag_cdf, rng.random()) + 1))
            if u < 0.1 or kind == "long":
                second = _pick(tag_cdf, rng.random()) + 1
                if second != tag_rows[-1][1]:
                    tag_rows.append((conv_id, second))
    del plans
    lap("simulate")
    conn.executemany(
        "INSERT INTO conversations (id, account_id, channel, subject, contact_id, status,"
        " assignee, snoozed_until, wake_on_reply, snooze_note, woken_at, waiting_since,"
        " first_response_at, closed_at, last_message_at, created_at, tier, sla_due_at, unread,"
        " group_key, queue_key, snoozed_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        conv_rows,
    )
    long_id = long_index + 1
    del conv_rows
    conn.executemany(
        "INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)", tag_rows
    )
    conn.executemany(
        "INSERT INTO events (conversation_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
        event_rows,
    )
    del tag_rows, event_rows
    conn.execute(
        "CREATE TEMP TABLE plan (id INTEGER PRIMARY KEY, account_id INT, channel TEXT, n INT,"
        " start REAL, step REAL, first_in INT, author INT, author_name TEXT, agent INT,"
        " agent_name TEXT, subject TEXT, s0 INT)"
    )
    conn.executemany("INSERT INTO temp.plan VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", plan_rows)
    del plan_rows
    lap("conversations")

    # messages: one INSERT ... SELECT, in arrival (sent_at) order like a live ingest ----------
    h = _sql_hash
    conn.execute(
        f"""
        WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < {LONG_MESSAGES})
        INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref, direction,
            author_identity_id, author_name, sent_at, subject, text, headers, thread_reason,
            problems, delivery, created_at)
        SELECT p.id, p.account_id,
            CASE WHEN p.channel = 'email' THEN '<c' || p.id || '.' || k.i || '@bench.test>'
                 ELSE 'C0BENCH:' || p.id || '.' || k.i END,
            CASE WHEN p.channel = 'email' THEN '<c' || p.id || '.' || k.i || '@bench.test>'
                 ELSE 'C0BENCH:' || p.id || '.' || k.i END,
            CASE WHEN (k.i % 2 = 0) = (p.first_in = 1) THEN 'in' ELSE 'out' END,
            CASE WHEN (k.i % 2 = 0) = (p.first_in = 1) THEN p.author ELSE p.agent END,
            CASE WHEN (k.i % 2 = 0) = (p.first_in = 1) THEN p.author_name ELSE p.agent_name END,
            p.start + k.i * p.step,
            CASE WHEN p.subject = '' THEN '' WHEN k.i = 0 THEN p.subject
                 ELSE 'Re: ' || p.subject END,
            CASE WHEN k.i = 0 THEN s0.text ELSE s1.text END
              || CASE WHEN {h("p.id * 211 + k.i", 3)} % 3 = 0 THEN ' ' || s2.text ELSE '' END
              || CASE WHEN {h("p.id * 211 + k.i", 4)} % 5 = 0
                      THEN ' Ref ' || ({h("p.id * 211 + k.i", 5)} % 90000000 + 10000000) || '.'
                      ELSE '' END,
            '{{}}',
            CASE WHEN k.i = 0 THEN 'new conversation'
                 WHEN p.channel = 'email'
                 THEN 'refers to <c' || p.id || '.' || (k.i - 1) || '@bench.test>'
                 ELSE 'refers to C0BENCH:' || p.id || '.0' END,
            '[]',
            CASE WHEN (k.i % 2 = 0) = (p.first_in = 1) THEN NULL ELSE 'sent' END,
            p.start + k.i * p.step + 20
        FROM temp.plan p
        JOIN k ON k.i < p.n
        JOIN temp.sentences s0 ON s0.id = p.s0
        JOIN temp.sentences s1 ON s1.id = {h("p.id * 211 + k.i", 1)} % {N_SENTENCES}
        JOIN temp.sentences s2 ON s2.id = {h("p.id * 211 + k.i", 2)} % {N_SENTENCES}
        ORDER BY p.start + k.i * p.step, p.id
        """
    )
    lap("messages")
    conn.execute(
        "INSERT INTO messages_fts (rowid, subject, text, author_name)"
        " SELECT id, subject, text, author_name FROM messages"
    )
    lap("fts")
    for sql in deferred:
        conn.execute(sql)
    lap("indexes")
    conn.execute("COMMIT")
    conn.execute("DROP TABLE temp.plan")
    conn.execute("DROP TABLE temp.sentences")
    conn.execute("PRAGMA locking_mode = NORMAL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    os.replace(tmp, db)

    checked = verify(db, policy, sample=3000, seed=seed)
    lap("verify")
    check = connect(db, readonly=True)
    try:
        counts = {
            table: int(check.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in (
                "conversations",
                "messages",
                "contacts",
                "identities",
                "conversation_tags",
                "events",
            )
        }
        by_status = dict(
            check.execute("SELECT status, count(*) FROM conversations GROUP BY status").fetchall()
        )
        long_count = check.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = ?", (long_id,)
        ).fetchone()[0]
    finally:
        check.close()
    assert long_count == LONG_MESSAGES, long_count
    return {
        "params": params,
        "now": now,
        "long_conversation_id": long_id,
        "counts": counts,
        "by_status": {str(k): int(v) for k, v in by_status.items()},
        "verified_sample": checked,
        "seconds": round(time.perf_counter() - started, 1),
        "timings": timings,
        "bytes": db.stat().st_size,
    }


def _cumulative(weights: list[int]) -> list[float]:
    total, acc, out = sum(weights), 0.0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


def _sql_hash(expr: str, salt: int) -> str:
    """A deterministic 32-bit integer mix of `expr` in SQL (no XOR in SQLite: a|b - a&b)."""
    r1 = f"((({expr}) * 2654435761 + {salt * 40503 + 12345}) % 4294967296)"
    r2 = f"(({r1} | ({r1} >> 15)) - ({r1} & ({r1} >> 15)))"
    return f"(({r2} * 1540483477) % 4294967296)"


def _plan_conversations(
    rng: random.Random, n: int, now: float
) -> list[tuple[float, str, int, float, float, float]]:
    """(start, kind, messages, step, close delay, extra) per conversation.

    Kinds: open (customer waiting), woken_reply (a snoozed one the customer woke), woken (its
    snooze time came), pending (agent replied last), snoozed, closed. Message counts are odd
    when the customer wrote last, even when an agent did (directions alternate from 'in').
    """
    plans = []
    for _ in range(n - 1):
        u = rng.random()
        if u < 0.105:
            kind, count = "open", rng.choice((1, 1, 1, 1, 1, 3, 3, 3, 5, 7))
            last = now - _exp(rng, 1.5 * DAY, 60 * DAY) - 60
        elif u < 0.115:
            kind, count = "woken_reply", rng.choice((3, 5))
            last = now - _exp(rng, DAY, 3 * DAY) - 60
        elif u < 0.12:
            kind, count = "woken", rng.choice((1, 2, 3, 4))
            last = now - 2 * DAY - _exp(rng, 5 * DAY, 60 * DAY)
        elif u < 0.20:
            kind, count = "pending", rng.choice((2, 2, 2, 4, 4, 6))
            last = now - _exp(rng, 3 * DAY, 90 * DAY) - 60
        elif u < 0.23:
            kind, count = "snoozed", rng.choice((1, 2, 3, 4))
            last = now - _exp(rng, 2 * DAY, 30 * DAY) - 60
        else:
            kind = "closed"
            count = rng.choice((1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 6))
            last = now - 3600 - rng.random() ** 0.8 * 730 * DAY
        step = rng.uniform(600, 2 * DAY) if count > 1 else 0.0
        start = last - (count - 1) * step
        extra = 0.0
        if kind == "snoozed":
            extra = rng.uniform(3600, 14 * DAY)  # until, from now
        elif kind == "woken":
            extra = now - rng.uniform(60, 2 * DAY)  # woken at
        plans.append((start, kind, count, step, rng.uniform(60, 7200), extra))
    # the 200-message thread: agent-initiated, last a customer reply that woke it 4 days ago,
    # so it is the first row of "needs reply" (oldest woken)
    step = 3 * 3600.0
    last = now - 4 * DAY
    plans.append((last - (LONG_MESSAGES - 1) * step, "long", LONG_MESSAGES, step, 0.0, 0.0))
    return plans


def _drop_indexes_and_triggers(conn: sqlite3.Connection) -> list[str]:
    """Drop secondary indexes and FTS triggers for the load; return the SQL to restore them.

    Contacts and identities keep theirs: their trigram indexes follow row by row (460k rows).
    """
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        " AND sql IS NOT NULL AND tbl_name IN ('conversations', 'messages',"
        " 'conversation_tags', 'events')"
    ).fetchall()
    for kind, name, _ in rows:
        conn.execute(f"DROP {kind.upper()} {name}")
    # indexes first (the triggers only matter for later writes)
    return [sql for kind, _, sql in rows if kind == "index"] + [
        sql for kind, _, sql in rows if kind == "trigger"
    ]


def verify(db: Path, policy: InboxPolicy, *, sample: int, seed: int) -> int:
    """Re-derive queue_key and SLA of a sample with storage.rules; raise on any difference."""
    conn = connect(db, readonly=True)
    try:
        top = int(conn.execute("SELECT max(id) FROM conversations").fetchone()[0])
        rng = random.Random(seed + 1)
        ids = {rng.randint(1, top) for _ in range(sample)}
        for conversation_id in ids:
            state = load_state(conn, conversation_id)
            stored = conn.execute(
                "SELECT queue_key, sla_due_at FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if not math.isclose(rules.queue_key(state), stored[0], rel_tol=0, abs_tol=1e-6):
                raise AssertionError(f"queue_key differs for conversation {conversation_id}")
            due = state.sla_due_at
            rules.refresh_sla(state, policy)
            if due != state.sla_due_at:
                raise AssertionError(f"sla_due_at differs for conversation {conversation_id}")
        return len(ids)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args()
    meta = ensure_store(args.db, args.conversations, args.contacts, args.seed, force=args.force)
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
