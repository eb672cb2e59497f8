"""`frontdesk list/show/export` and the agent actions, run as the real binary on a real store.

Every action is read back with `show --json`; the expected JSON is written out by hand (times
are fixed: the store's clock is T = 1_704_067_200 = 2024-01-01T00:00:00Z, TZ is UTC).
"""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from storage import search
from storage.models import AttachmentIn, IdentityRef
from storage.store import Store
from tests.factories import email
from tests.imap_helpers import PASSWORD_ENV, mail
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import RecordingSMTPServer

FRONTDESK = [sys.executable, "-m", "console"]
T = 1_704_067_200.0  # 2024-01-01T00:00:00Z, in the past (the CLI writes at real time)
HOUR_BEFORE = T - 3600  # 2023-12-31T23:00:00Z
ALICE = IdentityRef("email", "alice@customer.example", "Alice Martin")
BOB = IdentityRef("email", "bob@other.example", "Bob Stone")
CAROL = IdentityRef("email", "carol@old.example", "Carol Ng")
ESCAPED = "Hi \x1b[31mthere\x1b[0m, café ☕\n<b>not markup</b>"

AGENTS = """
[agent]
name = "Sam Rivera"
email = "sam@desk.test"

[[agents]]
name = "Sam Rivera"
email = "sam@desk.test"

[[agents]]
name = "Kim Lee"
email = "kim@desk.test"
"""


def imap_account(imap_port: int = 9, smtp_port: int = 9, user: str = "help@desk.test") -> str:
    return (
        '\n[[accounts]]\nname = "support-mail"\nkind = "imap"\nimap_host = "127.0.0.1"\n'
        f'imap_port = {imap_port}\nimap_security = "none"\nusername = "{user}"\n'
        f'password_env = "{PASSWORD_ENV}"\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\n'
        f'smtp_security = "none"\nfrom_address = "Support Team <{user}>"\n'
    )


@dataclass
class Desk:
    db: Path
    config: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FRONTDESK, *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            env={**os.environ, "FRONTDESK_CONFIG": str(self.config)},
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def show(self, conversation_id: int) -> dict[str, Any]:
        record = json.loads(self.ok("show", str(conversation_id), "--json"))
        assert isinstance(record, dict)
        return record

    def ids(self, *args: str) -> list[int]:
        return [c["id"] for c in json.loads(self.ok("list", *args, "--json"))]

    def counts(self) -> tuple[int, int, int, int]:
        """Rows an action could write: events, messages, outbox items, tag links."""
        conn = sqlite3.connect(self.db)
        try:
            tables = ("events", "messages", "outbox", "conversation_tags")
            found = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]
        finally:
            conn.close()
        return (found[0], found[1], found[2], found[3])


def write_config(tmp_path: Path, db: Path, accounts: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\npath = "{db}"\n{AGENTS}{accounts}', encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    """#1 Alice (2 messages, one with an attachment), #2 Bob, #3 Carol on a closed account."""
    db = tmp_path / "store.db"
    store = Store(db, clock=lambda: T)
    mail_id = store.ensure_account("support-mail", "imap")
    old_id = store.ensure_account("old-mail", "imap")
    first = email(mail_id, "<a1@customer.example>", HOUR_BEFORE, who=ALICE, text=ESCAPED)
    second = email(
        mail_id,
        "<a2@customer.example>",
        HOUR_BEFORE + 60,
        who=ALICE,
        text="Invoice attached",
        parents=("<a1@customer.example>",),
    )
    second = replace(second, attachments=(AttachmentIn("invoice.pdf", "application/pdf", 1234),))
    bob = email(mail_id, "<b1@other.example>", HOUR_BEFORE + 120, who=BOB, subject="Refund")
    carol = email(old_id, "<c1@old.example>", HOUR_BEFORE + 180, who=CAROL, subject="Old")
    results = store.ingest([first, second, bob, carol])
    assert [r.conversation_id for r in results] == [1, 1, 2, 3]
    store.add_identity(store.contact_of(ALICE) or 0, IdentityRef("slack", "U1ALICE", "alice"))
    store.close()
    return Desk(db, write_config(tmp_path, db, imap_account()))


# ------------------------------------------------------------------------------------ reads


def test_show_prints_the_contract_with_customer_text_exactly_as_stored(desk: Desk) -> None:
    done = desk.run("show", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.isascii() and "\x1b" not in done.stdout  # escapes reach no terminal
    record = json.loads(done.stdout)
    messages, events = record.pop("messages"), record.pop("events")
    assert {k: record[k] for k in CONVERSATION_KEYS} == {
        "id": 1,
        "channel": "email",
        "account": "support-mail",
        "subject": "Help with my order",
        "status": "open",
        "contact": {
            "id": 1,
            "name": "Alice Martin",
            "identities": ["email:alice@customer.example", "slack:U1ALICE"],
        },
        "assignee": None,
        "tags": [],
        "tier": "standard",
        "waiting_since": "2023-12-31T23:00:00Z",
        "sla_due_at": None,
        "snoozed_until": None,
        "created_at": "2024-01-01T00:00:00Z",
        "last_message_at": "2023-12-31T23:01:00Z",
        "message_count": 2,
    }
    assert events == []
    assert [m["text"] for m in messages] == [ESCAPED, "Invoice attached"]
    assert messages[1] == {
        **messages[1],
        "id": 2,
        "direction": "in",
        "author": {"name": "Alice Martin", "address": "alice@customer.example"},
        "sent_at": "2023-12-31T23:01:00Z",
        "remote_id": "<a2@customer.example>",
        "thread_reason": "refers to <a1@customer.example>",
        "subject": "Help with my order",
        "attachments": [
            {"filename": "invoice.pdf", "content_type": "application/pdf", "size": 1234}
        ],
        "delivery": None,
        "to": [],
        "cc": [],
    }
    assert set(MESSAGE_KEYS) <= set(messages[0])


CONVERSATION_KEYS = [
    "id",
    "channel",
    "account",
    "subject",
    "status",
    "contact",
    "assignee",
    "tags",
    "tier",
    "waiting_since",
    "sla_due_at",
    "snoozed_until",
    "created_at",
    "last_message_at",
    "message_count",
]
MESSAGE_KEYS = [
    "id",
    "direction",
    "author",
    "sent_at",
    "message_id",
    "remote_id",
    "thread_reason",
    "to",
    "cc",
    "subject",
    "text",
    "attachments",
    "delivery",
]


def test_without_json_a_person_reads_lines_with_escape_sequences_removed(desk: Desk) -> None:
    thread = desk.ok("show", "1")
    assert "\x1b" not in thread
    assert "Hi there, café ☕\n<b>not markup</b>\n" in thread
    assert "--- 2023-12-31T23:01:00Z in Alice Martin <alice@customer.example>\n" in thread
    lines = desk.ok("list", "is:open").splitlines()
    assert [line.split()[0] for line in lines] == ["#3", "#2", "#1"]
    assert lines[2].split()[1:] == [
        "open",
        "email",
        "Alice",
        "Martin",
        "Help",
        "with",
        "my",
        "order",
    ]


def test_list_every_conversation_a_query_a_view_and_a_limit(desk: Desk) -> None:
    desk.ok("close", "2")
    everything = json.loads(desk.ok("list", "--json"))
    assert [c["id"] for c in everything] == [3, 2, 1]  # most recent activity first, any status
    assert all("messages" not in c for c in everything)
    assert [c["message_count"] for c in everything] == [1, 1, 2]
    assert desk.ids("is:closed") == [2]
    assert desk.ids("--view", "needs reply") == [1, 3]  # the console's order: waiting longest
    assert desk.ids("from:alice", "--view", "needs reply") == [1]
    assert desk.ids("--limit", "1") == [3]
    assert desk.ids("refund") == [2]


def test_msgid_finds_the_conversation_with_or_without_brackets(desk: Desk) -> None:
    assert desk.ids("msgid:<a2@customer.example>") == [1]
    assert desk.ids("msgid:a2@customer.example") == [1]
    assert desk.ids("msgid:b1@other.example") == [2]
    assert desk.ids("msgid:nobody@nowhere.example") == []
    store = Store(desk.db)  # the console's search box parses with the same grammar
    try:
        rows = store.page(search.parse("msgid:a1@customer.example"))
    finally:
        store.close()
    assert [r.id for r in rows] == [1]


def test_export_streams_json_lines_across_batches(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    store = Store(db, clock=lambda: T)
    account = store.ensure_account("support-mail", "imap")
    store.ingest(
        [
            email(account, f"<m{n}@x.example>", HOUR_BEFORE + n, subject=f"Question {n}")
            for n in range(450)  # more than two of the export's batches of 200
        ]
    )
    store.close()
    desk = Desk(db, write_config(tmp_path, db, ""))
    done = desk.run("export")
    assert done.returncode == 0 and done.stderr == ""  # no progress line off a terminal
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [c["id"] for c in lines] == list(range(1, 451))
    assert lines[449]["messages"][0]["remote_id"] == "<m449@x.example>"
    assert lines[449]["subject"] == "Question 449"
    assert [c["id"] for c in map(json.loads, desk.ok("export", "subject:449").splitlines())] == [
        450
    ]


def test_export_shows_progress_on_a_terminal_only(desk: Desk) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*FRONTDESK, "export"],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=60,
            env={**os.environ, "FRONTDESK_CONFIG": str(desk.config)},
            check=False,
        )
        os.close(follower)
        progress = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert progress.strip().endswith("exported 3/3")
    assert len(done.stdout.splitlines()) == 3


# ---------------------------------------------------------------------------------- actions


def test_tag_assign_close_reopen_read_back_with_events(desk: Desk) -> None:
    assert desk.ok("tag", "1", "2", "+billing", "+vip") == (
        "#1 #2: tagged billing\n#1 #2: tagged vip\n"
    )
    desk.ok("tag", "2", "-billing")
    desk.ok("assign", "1", "me")
    desk.ok("assign", "2", "kim@desk.test", "--as", "kim@desk.test")
    desk.ok("close", "1", "2")
    desk.ok("reopen", "2")
    one, two = desk.show(1), desk.show(2)
    assert (one["tags"], one["assignee"], one["status"]) == (
        ["billing", "vip"],
        "sam@desk.test",
        "closed",
    )
    assert (two["tags"], two["assignee"], two["status"]) == (["vip"], "kim@desk.test", "open")
    assert [(e["actor"], e["kind"], e["detail"]) for e in two["events"]] == [
        ("Sam Rivera", "tagged", {"tag": "billing"}),
        ("Sam Rivera", "tagged", {"tag": "vip"}),
        ("Sam Rivera", "untagged", {"tag": "billing"}),
        ("Kim Lee", "assigned", {"to": "kim@desk.test"}),
        ("Sam Rivera", "closed", {}),
        ("Sam Rivera", "reopened", {}),
    ]
    desk.ok("assign", "2", "none")
    assert desk.show(2)["assignee"] is None


def test_snooze_parses_when_as_the_console_and_prints_the_absolute_time(desk: Desk) -> None:
    out = desk.ok("snooze", "1", "2", "2030-01-02 10:00", "--keep-on-reply", "--note", "call back")
    assert (
        out == "#1 #2: snoozed until Wednesday 02 January 2030, 10:00 UTC (2030-01-02T10:00:00Z)\n"
    )
    one = desk.show(1)
    assert (one["status"], one["snoozed_until"]) == ("snoozed", "2030-01-02T10:00:00Z")
    assert (one["wake_on_reply"], one["snooze_note"]) == (False, "call back")
    desk.ok("snooze", "2", "2030-03-04")  # a day without a time means 9:00, as in the console
    two = desk.show(2)
    assert (two["snoozed_until"], two["wake_on_reply"]) == ("2030-03-04T09:00:00Z", True)


def test_note_is_in_the_thread_and_never_queued(desk: Desk) -> None:
    assert desk.ok("note", "1", "-", stdin="Called her: refund agreed.\n").startswith(
        "#1: note added"
    )
    (tmp := desk.db.parent / "note.txt").write_text("From a file", encoding="utf-8")
    desk.ok("note", "1", "--file", str(tmp), "--as", "kim@desk.test")
    notes = [m for m in desk.show(1)["messages"] if m["direction"] == "note"]
    assert [(m["author"]["name"], m["text"], m["delivery"]) for m in notes] == [
        ("Sam Rivera", "Called her: refund agreed.", None),
        ("Kim Lee", "From a file", None),
    ]
    assert desk.counts()[2] == 0  # nothing in the outbox
    assert desk.show(1)["status"] == "open"


def test_reply_queues_through_the_outbox_as_the_composer_does(desk: Desk) -> None:
    out = desk.ok("reply", "1", "--text", "Refund sent.", "--cc", "boss@customer.example")
    assert out.startswith("#1: reply queued (message 5, support-mail)")
    record = desk.show(1)
    reply = record["messages"][-1]
    assert reply["direction"] == "out" and reply["text"] == "Refund sent."
    assert reply["author"]["name"] == "Sam Rivera"
    assert (reply["delivery"], reply["to"], reply["cc"]) == (
        "queued",
        [],
        ["boss@customer.example"],
    )
    # No Message-ID until the email connector claims it (it mints one then, in the account's
    # domain): a local key meanwhile, never the agent's domain.
    assert reply["message_id"] is None and reply["remote_id"].endswith("@frontdesk.invalid>")
    assert record["status"] == "pending" and record["waiting_since"] is None
    assert [e["kind"] for e in record["events"]] == ["replied"]
    desk.ok("reply", "2", "--text", "Done, closing.", "--close")
    two = desk.show(2)
    assert two["status"] == "closed"
    assert [e["kind"] for e in two["events"]] == ["replied", "closed"]


BAD_INPUT = [
    (("show", "99", "--json"), "no conversation 99"),
    (("close", "1", "99"), "no conversation 99"),
    (("tag", "x1", "+vip"), "'x1' is not a conversation ID"),
    (("list", "colour:red", "--json"), "unknown operator colour:"),
    (("export", "is:maybe"), "is:maybe"),
    (("list", "msgid:<>"), "msgid:<> — write a Message-ID"),
    (("list", "--view", "nope"), "no view named 'nope'"),
    (("reply", "3", "--text", "hello"), "account 'old-mail' is closed"),
    (("reply", "1", "--text", "   "), "the text is empty"),
    (("reply", "1", "-"), "the text is empty"),
    (("note", "1", "--text", ""), "the text is empty"),
    (("reply", "1", "--text", "hi", "--to", "not an address"), "--to 'not an address'"),
    (("close", "1", "--as", "eve@elsewhere.example"), "--as eve@elsewhere.example: not an agent"),
    (("assign", "1", "eve@elsewhere.example"), "eve@elsewhere.example: not an agent"),
    (("snooze", "1", "yesterday"), "in the past"),
    (("tag", "1", "+"), "name the tags"),
]


@pytest.mark.parametrize(("args", "reason"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_non_zero_and_writes_nothing(
    desk: Desk, args: tuple[str, ...], reason: str
) -> None:
    before = desk.counts()
    done = desk.run(*args, stdin="")
    assert done.returncode != 0
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and reason in done.stderr, done.stderr
    assert desk.counts() == before
    assert desk.show(1)["status"] == "open"


def test_a_missing_store_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    db = tmp_path / "absent.db"
    desk = Desk(db, write_config(tmp_path, db, ""))
    done = desk.run("list", "--json")
    assert done.returncode != 0 and "no store at" in done.stderr
    assert not db.exists()


def test_the_cli_module_does_not_load_textual() -> None:
    code = "import sys, console.cli; print(any(m.startswith('textual') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------------- delivery


def test_a_reply_from_the_shell_is_delivered_by_sync(
    dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    dovecot.append(
        "INBOX",
        mail(
            "<ask1@customer.example>",
            sender="Alice Martin <alice@customer.example>",
            to=f"Support Team <{dovecot.user}>",
            cc="Dana <dana@customer.example>",
            subject="Where is my refund?",
            body="Hello, I am still waiting for my refund.\n",
        ).as_bytes(),
    )
    db = tmp_path / "store.db"
    with RecordingSMTPServer(user=dovecot.user, password=dovecot.password) as smtp:
        account = imap_account(dovecot.port, smtp.port, dovecot.user)
        desk = Desk(db, write_config(tmp_path, db, account))
        desk.ok("sync", "--once")
        [found] = json.loads(desk.ok("list", "msgid:ask1@customer.example", "--json"))
        asked = desk.show(found["id"])["messages"][0]
        assert asked["message_id"] == "<ask1@customer.example>"
        assert asked["to"] == [dovecot.user] and asked["cc"] == ["dana@customer.example"]

        desk.ok(
            "reply",
            str(found["id"]),
            "--text",
            "Your refund left today.",
            "--cc",
            "boss@customer.example",
        )
        assert smtp.messages == []  # queued, not sent: the sync delivers
        desk.ok("sync", "--once")
        [sent] = smtp.wait_for(1)
        reply = desk.show(found["id"])["messages"][-1]
        desk.ok("reply", str(found["id"]), "--text", "Copy for billing.", "--to", "bill@c.example")
        desk.ok("sync", "--once")
        [_, redirected] = smtp.wait_for(2)

    # --to names every recipient, as the composer's edited fields do: Dana is not copied.
    assert list(redirected.rcpt_tos) == ["bill@c.example"]
    assert redirected.message["To"] == "bill@c.example"
    assert redirected.message["Cc"] is None
    message = sent.message
    assert sorted(sent.rcpt_tos) == [
        "alice@customer.example",
        "boss@customer.example",
        "dana@customer.example",
    ]
    assert message["In-Reply-To"] == "<ask1@customer.example>"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes) and body.startswith(b"Your refund left today.\r\n")
    assert reply["delivery"] == "sent"
    assert reply["message_id"] == message["Message-ID"]
