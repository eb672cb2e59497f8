"""The store's face: callers above storage reach SQLite only through `Store` methods.

- The console and the connectors hold no connection and no SQL: no `.conn`, no
  `storage.db.connect`, no SQL string (the import-linter contract in pyproject.toml forbids
  `import sqlite3` in console/).
- A composite write is one transaction: linking a Slack user to their email contact either
  happens whole or leaves the store as it was.
- `Store.reader()` is a connection of its own that can read and never write.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from storage.db import StoreError
from storage.models import IdentityRef
from storage.store import Store
from tests.conftest import FakeClock
from tests.factories import customer, email

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT INTO|DELETE FROM|UPDATE \w+ SET|PRAGMA)\b")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose may say SELECT)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def face_breaches(source: str, name: str) -> list[str]:
    """Where `source` goes around the store's face: a connection, `connect`, or SQL."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f"{where}: .conn")
        elif isinstance(node, ast.Attribute) and node.attr == "connect":
            if isinstance(node.value, ast.Name) and node.value.id in ("db", "sqlite3"):
                found.append(f"{where}: {node.value.id}.connect")
        elif isinstance(node, ast.ImportFrom) and node.module in ("storage.db", "sqlite3"):
            if any(alias.name == "connect" for alias in node.names):
                found.append(f"{where}: connect imported from {node.module}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in prose
            and SQL.search(node.value)
        ):
            found.append(f"{where}: SQL {node.value[:40]!r}")
    return found


@pytest.mark.parametrize("package", ["console", "connectors"])
def test_callers_above_storage_go_through_the_store_face(package: str) -> None:
    breaches = [
        breach
        for path in sorted((ROOT / package).rglob("*.py"))
        for breach in face_breaches(path.read_text(encoding="utf-8"), str(path))
    ]
    assert breaches == []


@pytest.mark.parametrize(
    "source",
    [
        "rows = store.conn.execute('SELECT 1')",
        "from storage.db import connect",
        "from storage import db\nc = db.connect(path)",
        "q = 'SELECT name FROM accounts WHERE id = ?'",
        "q = f\"UPDATE outbox SET status = '{x}'\"",
    ],
)
def test_the_face_check_sees_each_way_around(source: str) -> None:
    assert face_breaches(source, "x.py")


def test_prose_naming_imap_select_is_not_sql() -> None:
    assert face_breaches('"""SELECT of each folder the account lists."""\n', "x.py") == []


def _refuse_email_identities(store: Store) -> None:
    """A fault injected after the Slack contact is created, at the email identity's insert."""
    store.conn.execute(
        "CREATE TEMP TRIGGER no_email BEFORE INSERT ON identities WHEN NEW.kind = 'email'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )


def _contacts(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM contacts").fetchone()[0])


def test_linking_a_new_slack_user_is_all_or_nothing(store: Store) -> None:
    slack = IdentityRef("slack", "U123", "Alice")
    _refuse_email_identities(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.link_email(slack, "alice@example.com")
    # Four transactions used to leave the Slack contact behind, without its email.
    assert _contacts(store) == 0
    assert store.contact_of(slack) is None


def test_linking_a_new_slack_user_gives_the_email_to_one_new_contact(store: Store) -> None:
    slack = IdentityRef("slack", "U123", "Alice")
    store.link_email(slack, "alice@example.com")
    contact = store.contact_of(slack)
    assert contact is not None and store.contact_of(customer()) == contact
    assert _contacts(store) == 1


def test_linking_two_known_contacts_merges_them(store: Store, clock: FakeClock) -> None:
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", clock.now)])
    slack = IdentityRef("slack", "U123", "Alice")
    slack_contact = store.ensure_contact(slack)
    email_contact = store.contact_of(customer())
    store.link_email(slack, "alice@example.com")
    assert store.contact_of(slack) == email_contact != slack_contact
    merged = store.conn.execute("SELECT merged_into FROM contacts WHERE id = ?", (slack_contact,))
    assert merged.fetchone()[0] == email_contact


def test_a_reader_reads_on_its_own_connection_and_cannot_write(
    store: Store, clock: FakeClock
) -> None:
    account = store.ensure_account("mail", "imap")
    store.ingest([email(account, "<a@x>", clock.now)])
    with store.reader() as reader:
        assert reader.conn is not store.conn
        assert reader.stats()["messages"] == 1
        with pytest.raises(StoreError, match="read-only"):
            reader.ensure_account("chat", "slack")
    assert store.stats()["accounts"] == [
        {"name": "mail", "kind": "imap", "conversations": 1, "messages": 1}
    ]
