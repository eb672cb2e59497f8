"""Surveys end to end through real components (issue 21): `frontdesk close` queues the survey,
`frontdesk sync --once` delivers it to aiosmtpd, the customer's one-click answer (a mail built
from a link in it, appended to Dovecot's INBOX) is recorded by the next `sync --once` and
files no conversation; a forged or reused token is ingested as usual with the reason noted.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from storage.store import Store
from tests.imap_helpers import (
    PASSWORD_ENV,
    SUPPORT,
    imap_password_fixture,  # noqa: F401
    mail,
    mail_server_fixture,  # noqa: F401
    message_row,
)
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import ReceivedMessage, RecordingSMTPServer

pytestmark = pytest.mark.usefixtures("imap_password")
RUN_TIMEOUT = 120.0
ALICE = "alice@customer.example"
LINK = re.compile(r"mailto:\S+")


def _config(tmp_path: Path, dovecot: DovecotServer, smtp: RecordingSMTPServer) -> Path:
    config = tmp_path / "frontdesk.toml"
    config.write_text(
        f'[storage]\npath = "{tmp_path / "store.db"}"\n\n'
        '[agent]\nname = "Sam Rivera"\nemail = "sam@frontdesk.test"\n\n'
        f'[[accounts]]\nname = "mail"\nkind = "imap"\n'
        f'imap_host = "{dovecot.host}"\nimap_port = {dovecot.port}\nimap_security = "none"\n'
        f'username = "{dovecot.user}"\npassword_env = "{PASSWORD_ENV}"\n'
        f'smtp_host = "{smtp.host}"\nsmtp_port = {smtp.port}\nsmtp_security = "none"\n'
        f'from_address = "Support <{SUPPORT}>"\n\n'
        "[surveys]\nenabled = true\n\n"
        '[surveys.tiers.standard]\nquestion = "How did we do?"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def _frontdesk(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "console", *args, "--config", str(config)],
        capture_output=True,
        timeout=RUN_TIMEOUT,
        env={**os.environ, "XDG_STATE_HOME": str(config.parent / "state")},
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)  # Dovecot believes no Date in its future


def _links(received: ReceivedMessage) -> list[str]:
    body = received.message.get_payload(decode=True)
    assert isinstance(body, bytes)
    return LINK.findall(body.decode())


def _click(dovecot: DovecotServer, link: str, msgid: str, body: str) -> None:
    """What the customer's mail client sends for a `mailto:` link: To and Subject from it."""
    parts = urlsplit(link)
    subject = parse_qs(parts.query)["subject"][0]
    answer = mail(
        msgid,
        subject=subject,
        to=unquote(parts.path),
        sender=f"Alice <{ALICE}>",
        body=body,
        date=_now(),
    )
    dovecot.append("INBOX", answer.as_bytes())


def _conversations(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0])


def _events(store: Store, kind: str) -> list[tuple[int, dict[str, object]]]:
    rows = store.conn.execute(
        "SELECT conversation_id, detail FROM events WHERE kind = ? ORDER BY id", (kind,)
    )
    return [(int(r[0]), json.loads(r[1] or "{}")) for r in rows]


def test_closed_survey_answered_by_one_click_is_recorded_and_files_nothing(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    config = _config(tmp_path, dovecot, mail_server)
    question = mail(
        "<q1@customer.example>", sender=f"Alice <{ALICE}>", subject="Invoice", date=_now()
    )
    dovecot.append("INBOX", question.as_bytes())
    _frontdesk(config, "sync", "--once")
    store = Store(tmp_path / "store.db")
    conversation = int(message_row(store, "<q1@customer.example>")["conversation_id"])

    _frontdesk(config, "close", str(conversation))
    _frontdesk(config, "sync", "--once")  # the outbox delivers the survey

    [survey] = mail_server.messages
    assert survey.rcpt_tos == (ALICE,)  # to the contact alone
    assert survey.message["Subject"] == "Re: Invoice"
    links = _links(survey)
    assert len(links) == 5
    subjects = [parse_qs(urlsplit(link).query)["subject"][0] for link in links]
    token = re.fullmatch(r"Rating 1 \[fd-([A-Za-z0-9_-]+)\]", subjects[0])
    assert token is not None and len(token.group(1)) >= 20
    assert subjects == [f"Rating {n} [fd-{token.group(1)}]" for n in range(1, 6)]
    assert {unquote(urlsplit(link).path) for link in links} == {SUPPORT}
    before = _conversations(store)

    _click(dovecot, links[3], "<a1@customer.example>", "Quick and kind, thanks.\n")
    _frontdesk(config, "sync", "--once")

    assert _conversations(store) == before  # no conversation for the answer
    row = store.conn.execute("SELECT rating, comment, conversation_id FROM surveys").fetchone()
    assert tuple(row) == (4, "Quick and kind, thanks.", conversation)
    assert _events(store, "survey_answered") == [
        (conversation, {"kind": "csat", "rating": 4, "of": 5})
    ]
    shown = json.loads(_frontdesk(config, "show", str(conversation), "--json"))
    assert shown["status"] == "closed"  # the answer reopened nothing
    rating = {k: v for k, v in shown["rating"].items() if k != "answered_at"}
    assert rating == {"kind": "csat", "rating": 4, "of": 5, "comment": "Quick and kind, thanks."}

    # The same link clicked again later (a reused token) and a forged token: filed as usual,
    # each noted with its reason; the recorded rating stands.
    _click(dovecot, links[0], "<a2@customer.example>", "Actually, meh.\n")
    forged = links[0].replace(token.group(1), "A" * len(token.group(1)))
    _click(dovecot, forged, "<a3@customer.example>", "Guessing.\n")
    _frontdesk(config, "sync", "--once")

    assert _conversations(store) == before + 2
    reused = int(message_row(store, "<a2@customer.example>")["conversation_id"])
    guessed = int(message_row(store, "<a3@customer.example>")["conversation_id"])
    assert _events(store, "survey_answer_ignored") == [
        (reused, {"reason": "survey already answered", "survey_conversation": conversation}),
        (guessed, {"reason": "unknown survey token", "survey_conversation": None}),
    ]
    assert [r[0] for r in store.conn.execute("SELECT rating FROM surveys")] == [4]
    assert len(mail_server.messages) == 1  # nothing else went out
    store.close()


def test_a_first_sync_of_old_mail_sends_no_survey(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    # History is imported closed (storage/history.py): those closes are no resolution of
    # ours and must not mail every past customer a survey.
    config = _config(tmp_path, dovecot, mail_server)
    old = datetime.fromtimestamp(time.time() - 90 * 86400, UTC)
    dovecot.append("INBOX", mail("<old@customer.example>", sender=ALICE, date=old).as_bytes())
    _frontdesk(config, "sync", "--once")
    _frontdesk(config, "sync", "--once")

    store = Store(tmp_path / "store.db")
    conversation = int(message_row(store, "<old@customer.example>")["conversation_id"])
    status = store.conn.execute("SELECT status FROM conversations WHERE id = ?", (conversation,))
    assert status.fetchone()[0] == "closed"
    assert store.conn.execute("SELECT count(*) FROM surveys").fetchone()[0] == 0
    assert mail_server.messages == []
    store.close()


def test_a_reply_to_the_survey_mail_joins_and_reopens_the_conversation(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    # Not a click: the customer answers the survey mail itself with a new question.
    config = _config(tmp_path, dovecot, mail_server)
    question = mail("<q9@customer.example>", sender=f"Alice <{ALICE}>", date=_now())
    dovecot.append("INBOX", question.as_bytes())
    _frontdesk(config, "sync", "--once")
    store = Store(tmp_path / "store.db")
    conversation = int(message_row(store, "<q9@customer.example>")["conversation_id"])
    _frontdesk(config, "close", str(conversation))
    _frontdesk(config, "sync", "--once")
    [survey] = mail_server.messages
    survey_id = str(survey.message["Message-ID"])
    assert survey_id.endswith("@frontdesk.test>")  # our own domain, not an invalid one
    reply = mail(
        "<r9@customer.example>",
        sender=f"Alice <{ALICE}>",
        subject=f"Re: {survey.message['Subject']}",
        body="Before I rate you: the invoice is still wrong.\n",
        date=_now(),
        in_reply_to=survey_id,
        references=survey_id,  # a client that keeps only the parent
    )
    dovecot.append("INBOX", reply.as_bytes())
    _frontdesk(config, "sync", "--once")

    assert int(message_row(store, "<r9@customer.example>")["conversation_id"]) == conversation
    status = store.conn.execute("SELECT status FROM conversations WHERE id = ?", (conversation,))
    assert status.fetchone()[0] == "open"
    store.close()


def test_nps_asked_by_the_sync_and_a_detractor_reopens(
    tmp_path: Path, dovecot: DovecotServer, mail_server: RecordingSMTPServer
) -> None:
    config = _config(tmp_path, dovecot, mail_server)
    text = config.read_text(encoding="utf-8").replace(
        "[surveys]\nenabled = true\n", '[surveys]\nenabled = true\nnps_canned = "NPS hello"\n'
    )
    config.write_text(
        text + '\n[surveys.tiers.advanced]\nnps_every = "90d"\n\n'
        "[tiers.standard]\ndefault = true\n\n[tiers.advanced]\n\n"
        '[[tier_rules]]\ndomain = "customer.example"\ntier = "advanced"\n\n'
        '[[canned_replies]]\nname = "NPS hello"\n'
        'body = "Hello {{ contact.first_name }}, thank you for working with us."\n',
        encoding="utf-8",
    )
    old = datetime.fromtimestamp(time.time() - 60 * 86400, UTC)
    question = mail("<old@customer.example>", sender=f"Alice Martin <{ALICE}>", date=old)
    dovecot.append("INBOX", question.as_bytes())
    _frontdesk(config, "sync", "--once")  # history: Alice's conversation imported closed
    _frontdesk(config, "sync", "--once")  # NPS due: asked, and the outbox delivers it

    [nps] = mail_server.messages
    assert nps.rcpt_tos == (ALICE,)
    body = nps.message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert (
        body.decode()
        .replace("\r\n", "\n")
        .startswith(
            "Hello Alice, thank you for working with us.\n\n"
            "How likely are you to recommend us to a friend or colleague?\n"
        )
    )
    links = _links(nps)
    assert len(links) == 11
    _click(dovecot, links[2], "<n1@customer.example>", "Too slow lately.\n")  # "Rating 2"
    _frontdesk(config, "sync", "--once")

    store = Store(tmp_path / "store.db")
    row = store.conn.execute(
        "SELECT s.rating, s.kind, c.status, c.subject FROM surveys s"
        " JOIN conversations c ON c.id = s.conversation_id"
    ).fetchone()
    assert tuple(row) == (2, "nps", "open", "A quick question")  # back in the queue
    listed = json.loads(_frontdesk(config, "list", "is:open", "--json"))
    assert [c["subject"] for c in listed] == ["A quick question"]
    assert len(mail_server.messages) == 1  # asked once, whatever the passes
    store.close()
