"""Net Promoter Score for the tiers that ask for it: a survey conversation per contact, now and
then; a detractor's answer puts the contact back in their agent's queue.

Contract:
- `NpsPolicy.every` gives, per tier, how often its contacts are asked "how likely are you to
  recommend us" (0-10). `due` lists the contacts to ask now: of such a tier, not merged, with
  an email conversation on an account that has an answer address; none of their conversations
  open (only closed ones); never tagged `no-survey`; no NPS survey within the tier's interval
  and no survey of any kind within the cooldown (`SurveyPolicy.cooldown`).
- `send` creates the survey conversation, closed (nothing to do until an answer comes),
  subject `NpsPolicy.subject`, tagged `nps`, assigned to the agent who last owned one of the
  contact's conversations, holding the survey mail (storage/surveys.py: queued through the
  outbox like any reply; eleven `mailto:` links, 0 to 10), opened by `intro` when the console
  gives one (a canned reply rendered for the contact).
- The answer is taken like any survey answer (`surveys.take_answer`). `after_answer`: a
  detractor (0-6) reopens the survey conversation with the customer waiting and a note that
  quotes the rating and their comment; passives (7-8) and promoters (9-10) are recorded only.

`send_due` runs a whole pass in one transaction (runner passes on one file never ask twice);
the rest take `conn` and run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from storage import rules, surveys
from storage.db import transaction
from storage.models import Rating
from storage.policy import InboxPolicy
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state

NPS_KEY = "frontdesk:nps"  # group key: no channel produces it, so nothing joins by subject
NPS_TAG = "nps"
ACTOR = "NPS survey"
DETRACTOR_MAX = 6
PASS_LIMIT = 200  # contacts asked per pass, at most
DEFAULT_NPS_QUESTION = "How likely are you to recommend us to a friend or colleague?"


@dataclass(frozen=True, slots=True)
class NpsPolicy:
    every: Mapping[str, float]  # tier -> seconds between two NPS surveys of a contact
    question: str = DEFAULT_NPS_QUESTION
    subject: str = "A quick question"


@dataclass(frozen=True, slots=True)
class NpsDue:
    contact_id: int
    name: str
    tier: str
    account_id: int  # of the contact's latest email conversation
    agent: str | None  # the assignee of the contact's latest assigned conversation


_DUE_SQL = """
SELECT p.id, p.name, p.tier,
       (SELECT c.account_id FROM conversations c WHERE c.contact_id = p.id
           AND c.channel = 'email' ORDER BY c.last_message_at DESC, c.id DESC LIMIT 1),
       (SELECT a.assignee FROM conversations a WHERE a.contact_id = p.id
           AND a.assignee IS NOT NULL ORDER BY a.last_message_at DESC, a.id DESC LIMIT 1)
  FROM contacts p
 WHERE p.tier = :tier AND p.merged_into IS NULL
   AND EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = p.id AND c.channel = 'email')
   AND NOT EXISTS (SELECT 1 FROM conversations c
                    WHERE c.contact_id = p.id AND c.status != 'closed')
   AND NOT EXISTS (SELECT 1 FROM conversation_tags x JOIN tags t ON t.id = x.tag_id
                     JOIN conversations c ON c.id = x.conversation_id
                    WHERE c.contact_id = p.id AND t.name = :no_survey)
   AND NOT EXISTS (SELECT 1 FROM surveys s WHERE s.contact_id = p.id AND s.kind = 'nps'
                      AND s.sent_at > :now - :every)
   AND NOT EXISTS (SELECT 1 FROM surveys s WHERE s.contact_id = p.id
                      AND s.sent_at > :now - :cooldown)
 ORDER BY p.id LIMIT :limit
"""


def due(conn: sqlite3.Connection, nps: NpsPolicy, cooldown: float, now: float) -> list[NpsDue]:
    """The contacts to ask now, by the rules above (at most PASS_LIMIT)."""
    found: list[NpsDue] = []
    for tier, every in sorted(nps.every.items()):
        params = {
            "tier": tier,
            "every": every,
            "cooldown": cooldown,
            "now": now,
            "no_survey": surveys.NO_SURVEY_TAG,
            "limit": PASS_LIMIT - len(found),
        }
        found += [NpsDue(*row) for row in conn.execute(_DUE_SQL, params)]
        if len(found) >= PASS_LIMIT:
            break
    return found


def send(
    conn: sqlite3.Connection,
    asked: NpsDue,
    nps: NpsPolicy,
    address: str,
    to: tuple[str, str],
    intro: str | None,
    now: float,
) -> int:
    """The survey conversation and its mail queued from `address` (ours) to `to`."""
    conversation_id = _insert_conversation(conn, asked, nps.subject, now)
    question = f"{intro.strip()}\n\n{nps.question}" if intro and intro.strip() else nps.question
    planned = surveys.Planned(
        conversation_id,
        asked.account_id,
        asked.contact_id,
        address,
        to,
        nps.subject,
        surveys.TierSurvey(question, "nps"),
    )
    surveys.queue(conn, planned, ACTOR, now)
    _tag(conn, conversation_id)
    record_event(conn, conversation_id, now, ACTOR, "survey_sent", {"kind": "nps"})
    if asked.agent is not None:
        record_event(conn, conversation_id, now, ACTOR, "assigned", {"to": asked.agent})
    return conversation_id


def send_due(
    conn: sqlite3.Connection,
    nps: NpsPolicy,
    policy: surveys.SurveyPolicy,
    now: float,
    intro: Callable[[str, str], str | None] | None = None,
) -> list[int]:
    """Ask every contact due now (one transaction); returns the new survey conversations.

    `intro(name, email)`: the text opening the mail for that contact, or None."""
    sent: list[int] = []
    with transaction(conn):
        for asked in due(conn, nps, policy.cooldown, now):
            address = policy.addresses.get(asked.account_id)
            if not address:
                continue
            to = surveys.contact_address(conn, None, asked.contact_id)
            if to is None:
                continue
            opening = intro(asked.name, to[1]) if intro is not None else None
            sent.append(send(conn, asked, nps, address, to, opening, now))
    return sent


def _insert_conversation(conn: sqlite3.Connection, asked: NpsDue, subject: str, now: float) -> int:
    cursor = conn.execute(
        "INSERT INTO conversations (account_id, channel, subject, contact_id, status, assignee,"
        " tier, last_message_at, created_at, group_key, queue_key)"
        " VALUES (?, 'email', ?, ?, 'closed', ?, ?, ?, ?, ?, 0)",
        (asked.account_id, subject, asked.contact_id, asked.agent, asked.tier, now, now, NPS_KEY),
    )
    assert cursor.lastrowid is not None
    state = ConvState(
        status="closed", tier=asked.tier, last_message_at=now, closed_at=now, unread=False
    )
    save_state(conn, cursor.lastrowid, state)
    return cursor.lastrowid


def _tag(conn: sqlite3.Connection, conversation_id: int) -> None:
    conn.execute(
        "INSERT INTO tags (name, color) VALUES (?, 'magenta') ON CONFLICT(name) DO NOTHING",
        (NPS_TAG,),
    )
    conn.execute(
        "INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id)"
        " SELECT ?, id FROM tags WHERE name = ?",
        (conversation_id, NPS_TAG),
    )


def after_answer(
    conn: sqlite3.Connection,
    conversation_id: int,
    rating: Rating,
    policy: InboxPolicy,
    now: float,
) -> list[str]:
    """A detractor's answer reopens the survey conversation (see the contract); the events."""
    if rating.kind != "nps" or rating.rating > DETRACTOR_MAX:
        return []
    comment = rating.comment or "(no comment)"
    text = (
        f"NPS answer {rating.rating}/10, a detractor (0-{DETRACTOR_MAX}). Their words:"
        f"\n\n{comment}\n\nFollow up with them from here, then close this."
    )
    account_id = conn.execute(
        "SELECT account_id FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO messages (conversation_id, account_id, remote_id, direction, author_name,"
        " sent_at, text, thread_reason, created_at)"
        " VALUES (?, ?, ?, 'note', 'Frontdesk', ?, ?, 'nps detractor', ?)",
        (conversation_id, account_id, f"nps-detractor:{conversation_id}:{now!r}", now, text, now),
    )
    state = load_state(conn, conversation_id)
    events = rules.customer_wrote(state, now, policy)
    save_state(conn, conversation_id, state)
    for kind in events:
        record_event(conn, conversation_id, now, "customer", kind, {"nps": rating.rating})
    return events
