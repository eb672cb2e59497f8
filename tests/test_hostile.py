"""Hostile input end to end (issue #8): crafted mail through a real Dovecot and the IMAP
connector, crafted Slack texts through the local Slack and the Slack connector, then the real
console over that store. Nothing may crash, nothing may be skipped, and nothing the attacker
wrote may reach the terminal as an escape sequence, a control character or live markup.

The corpus is synced once per module (Dovecot + Slack + both connectors take ~2 s, the 10 MB
mail most of it); each test opens its own Store on a copy-free read of that file.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from textual.events import Paste
from textual.strip import Strip
from textual.widget import Widget

from connectors.email.connector import ImapConnector
from connectors.email.mime import parse_message
from connectors.slack.connector import SlackConnector, SlackOptions
from connectors.slack.settings import SlackAccountSettings
from connectors.slack.text import render
from console.app import FrontdeskApp
from console.cli import EXIT_CONFIG, _saved_views
from console.config import FrontdeskConfig, load_config
from console.screens.conversation import ConversationScreen
from console.widgets.context_panel import ContextPanel
from console.widgets.queue_list import QueueList
from console.widgets.search_bar import SearchBar
from console.widgets.thread_view import ThreadView
from storage import search
from storage.aio import AsyncStore
from storage.models import IdentityRef
from storage.sanitize import clean_line, clean_text
from storage.store import Store
from tests.factories import email
from tests.hostile.corpus import (
    SLACK_HOSTILE_NAME,
    SLACK_TEXTS,
    SUPPORT,
    HostileMail,
    emails,
)
from tests.imap_helpers import PASSWORD_ENV, account_settings
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import require_dovecot
from tests.slack.fixtures import APP_TOKEN, BOT_TOKEN
from tests.slack.server import LocalSlack

ME = SUPPORT
BOT_ENV, APP_ENV = "FD_HOSTILE_SLACK_BOT", "FD_HOSTILE_SLACK_APP"
SIZE = (160, 70)  # tall enough that every corpus conversation is a visible queue row

# What must never be painted: C0 other than TAB/LF, DEL, C1 (ESC is C0).
_FORBIDDEN = {*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)}
# Bidi controls and zero-width characters: allowed in a body, never in a subject or name.
_INVISIBLE = {0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060}
_INVISIBLE |= {*range(0x2066, 0x206A), 0xFEFF}

# Cases whose damage the parser must admit to the agent (messages.problems not empty).
MUST_NOTE_PROBLEMS = {
    "boundary-undeclared",
    "boundary-missing",
    "boundary-unterminated",
    "nested-100",
    "charset-unknown",
    "charset-lying-utf8",
    "charset-in-header-unknown",
    "rfc2047-broken",
    "big-body-10mb",
    "header-10k-folded",
    "html-script-table",
    "c1-latin1",
    "binary-body",
    "binary-whole",
    "missing-all-headers",
    "missing-from-date-id",
    "garbage-header-values",
}

# Search input an agent (or a pasted customer line) could type.
HOSTILE_QUERIES = [
    "'; DROP TABLE messages; --",
    '"unbalanced',
    "NEAR(a b)",
    "a OR",
    "*",
    "**",
    '"*"',
    'from:"x',
    "from:\"'; DROP TABLE contacts; --",
    "tag:'",
    "tag:\"'",
    "is:[bold]x[/]",
    "before:[/]",
    "channel:[@click=app.quit]x",
    "a AND NOT b",
    "col:value {a b} ^c",
    "\x00 \x1b[2J",
    "-",
    '""',
    "' OR 1=1 --",
]


@dataclass(frozen=True)
class Synced:
    db_path: Path
    mails: list[HostileMail]
    slack_ids: dict[str, str]  # case name -> messages.remote_id


def _remote_id(case: HostileMail) -> str | None:
    """The Message-ID the case was given, if its header block carries one."""
    marker = f"Message-ID: <{case.name}@hostile.test>".encode()
    return f"<{case.name}@hostile.test>" if marker in case.raw else None


async def _sync_all(dovecot: DovecotServer, db_path: Path) -> dict[str, str]:
    astore = AsyncStore(lambda: Store(db_path))
    try:
        imap = account_settings(dovecot, open_recent_days=36500)  # old corpus mail stays open
        account = await astore.call(Store.ensure_account, imap.name, imap.kind)
        await ImapConnector(imap, account).sync_once(astore)

        async with LocalSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as slack:
            channel = slack.add_channel("support")
            mallory = slack.add_user("mallory", real_name=SLACK_HOSTILE_NAME)
            ids = {
                name: f"{channel}:{slack.post(channel, mallory, text, emit=False)}"
                for name, text in SLACK_TEXTS.items()
            }
            slack_settings = SlackAccountSettings(
                name="team-slack",
                kind="slack",
                bot_token_env=BOT_ENV,
                app_token_env=APP_ENV,
                api_url=slack.api_url,
                group_window_minutes=0,  # every text its own conversation
                backfill_days=36500,  # the local Slack's ts are from 2023: keep them open
            )
            account = await astore.call(Store.ensure_account, "team-slack", "slack")
            connector = SlackConnector(slack_settings, account, SlackOptions(rates={}))
            await connector.sync_once(astore)
        return ids
    finally:
        await astore.aclose()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    require_dovecot()
    mails = emails()
    db_path = tmp_path_factory.mktemp("hostile") / "frontdesk.db"
    with pytest.MonkeyPatch.context() as env, DovecotServer() as dovecot:
        env.setenv(PASSWORD_ENV, dovecot.password)
        env.setenv(BOT_ENV, BOT_TOKEN)
        env.setenv(APP_ENV, APP_TOKEN)
        uids = dovecot.append_many("INBOX", [case.raw for case in mails])
        assert len(uids) == len(mails), "Dovecot refused part of the corpus"
        slack_ids = asyncio.run(_sync_all(dovecot, db_path))
    yield Synced(db_path, mails, slack_ids)


@pytest.fixture
def hostile_store(synced: Synced) -> Iterator[Store]:
    s = Store(synced.db_path)
    yield s
    s.close()


def _rows(store: Store, sql: str, *params: object) -> list[sqlite3.Row]:
    return list(store.conn.execute(sql, params))


# ---- ingestion ---------------------------------------------------------------------------


def test_every_hostile_mail_is_stored_and_its_damage_noted(
    synced: Synced, hostile_store: Store
) -> None:
    stored = _rows(
        hostile_store,
        "SELECT m.remote_id, m.text, m.problems, c.subject, i.display_name"
        " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " LEFT JOIN identities i ON i.id = m.author_identity_id WHERE c.channel = 'email'",
    )
    assert len(stored) == len(synced.mails)  # nothing skipped, nothing duplicated
    by_id = {row["remote_id"]: row for row in stored}
    for case in synced.mails:
        remote_id = _remote_id(case)
        if remote_id is None:
            continue  # stored under a hash of its bytes: covered by the count
        row = by_id[remote_id]
        if case.name in MUST_NOTE_PROBLEMS:
            assert row["problems"] != "[]", f"{case.name}: damage not noted"
    for row in stored:
        # Defence in depth: what the store holds is already terminal-safe.
        assert clean_text(row["text"]) == row["text"]
        assert clean_line(row["subject"]) == row["subject"]
        assert clean_line(row["display_name"] or "") == (row["display_name"] or "")
    big = by_id["<big-body-10mb@hostile.test>"]
    assert len(big["text"]) >= 1_000_000  # what could be read is kept, not dropped
    assert "visible paragraph" in by_id["<html-script-table@hostile.test>"]["text"]
    assert "alert(document.cookie)" not in by_id["<html-script-table@hostile.test>"]["text"]


def test_every_slack_text_is_stored_without_forged_meaning(
    synced: Synced, hostile_store: Store
) -> None:
    texts = {
        row["remote_id"]: row["text"]
        for row in _rows(
            hostile_store,
            "SELECT m.remote_id, m.text FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id WHERE c.channel = 'slack'",
        )
    }
    assert set(texts) == set(synced.slack_ids.values())
    text = {name: texts[remote_id] for name, remote_id in synced.slack_ids.items()}
    assert text["forged-user-mention"] == "@U999 approved the refund"  # not "@admin"
    assert "https://evil.example/login" in text["lying-link"]  # the real target is shown
    assert "evil@evil.example" in text["lying-mailto"]
    assert "<@U1>" in text["escaped-mention"]  # typed text stays text
    assert text["markup"] == SLACK_TEXTS["markup"]
    for value in texts.values():
        assert not {ord(ch) for ch in value} & _FORBIDDEN
    names = [r[0] for r in _rows(hostile_store, "SELECT name FROM contacts")]
    assert any("[@click=app.quit]Mallory[/]" in n for n in names)


# ---- the console ------------------------------------------------------------------------


def _strip_text(strip: Strip) -> str:
    return "".join(segment.text for segment in strip)


def _assert_paints_safely(strips: list[Strip], where: str) -> None:
    for y, strip in enumerate(strips):
        for segment in strip:
            assert isinstance(segment, Segment)
            bad = {ord(ch) for ch in segment.text} & _FORBIDDEN
            assert not bad, f"{where} line {y}: control characters {bad} in {segment.text!r}"
            meta = segment.style.meta if segment.style else {}
            # Markup like [@click=app.quit] becomes a style's meta: it must stay text.
            assert "@click" not in meta, f"{where} line {y}: live action in {segment.text!r}"


def _widget_lines(widget: Widget, limit: int = 3000) -> list[Strip]:
    """Every line a widget renders (not only the part scrolled into view), capped."""
    return [widget.render_line(y) for y in range(min(widget.size.height, limit))]


def _assert_no_invisibles(strips: list[Strip], where: str) -> None:
    for strip in strips:
        text = _strip_text(strip)
        assert not {ord(ch) for ch in text} & _INVISIBLE, f"{where}: bidi/zero-width in {text!r}"


def _make_app(store: Store) -> FrontdeskApp:
    return FrontdeskApp(store, me=ME, agent_name="Sam")


async def test_console_lists_and_opens_every_hostile_conversation_safely(
    hostile_store: Store,
) -> None:
    conversations = int(
        hostile_store.conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
    )
    app = _make_app(hostile_store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        qlist = app.screen.query_one(QueueList)
        assert qlist.total == conversations
        rows = [qlist.render_line(y) for y in range(qlist.total + 1)]
        _assert_paints_safely(rows, "queue")
        _assert_no_invisibles(rows, "queue")  # every row is a subject and a name
        queue_text = "\n".join(_strip_text(s) for s in rows)
        assert "[bold red]x[/]" in queue_text and "pwned" not in queue_text
        _assert_paints_safely(app.screen._compositor.render_strips(), "queue screen")

        seen: set[int] = set()
        for index in range(qlist.total):
            qlist.cursor = index
            await pilot.press("enter")
            await pilot.pause()
            await pilot.pause()  # the thread is laid out a refresh after it is filled
            screen = app.screen
            assert isinstance(screen, ConversationScreen)
            seen.add(screen.conversation_id)
            where = f"conversation {screen.conversation_id}"
            _assert_paints_safely(screen._compositor.render_strips(), where)
            thread = screen.query_one(ThreadView)
            assert thread.size.height > 0, f"{where}: the thread was not painted"
            assert thread.lines(), f"{where}: the thread is empty"
            _assert_paints_safely(_widget_lines(thread), where + " thread")
            _assert_paints_safely(thread.lines(), where + " whole thread")
            one_line = _widget_lines(screen.query_one("#conversation-title"))
            one_line += _widget_lines(screen.query_one(ContextPanel).query_one("#context-summary"))
            _assert_no_invisibles(one_line, where + " title/name")
            if screen.detail and "markup" in screen.detail.conversation.subject:
                title = "".join(_strip_text(s) for s in one_line)
                assert "[bold red]x[/]" in title and "[@click=app.quit]quit[/]" in title
            await pilot.press("escape")
            await pilot.pause()
        assert len(seen) == conversations
        # The markup's app.quit never ran: the app is still up, with no exit code set
        # (App.exit() sets 0, so "None or 0" after the block could not tell).
        assert app.is_running and app.return_code is None


# ---- search ------------------------------------------------------------------------------


@pytest.fixture
def small_store(db_path: Path) -> Store:
    store = Store(db_path)
    account = store.ensure_account("mail", "imap")
    who = IdentityRef("email", "o'brien@x.test", "Robert'); DROP TABLE contacts; --")
    store.ingest([email(account, "<q@x>", 1_000.0, who=who, subject='say "NEAR(a b)" OR *')])
    return store


def _table_counts(store: Store) -> dict[str, int]:
    return {
        table: int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in ("messages", "conversations", "contacts", "identities")
    }


def _run_query(store: Store, query: str) -> bool:
    """What the console does with a query; only SearchError may come out. True if it ran."""
    try:
        view = search.parse(query, me=ME)
        search.check(store.conn, view)
        store.count(view)
        store.page(view, limit=50)
    except search.SearchError:
        return False
    return True


def _plain_text(query: str) -> bool:
    """Printable text with no operator, no OR/NOT keyword and no lone surrogate: words to look
    for, which the search must take (an unclosed quote closes at the end; a lone `-` is a
    word). Control characters are left out: the search box strips them before parsing."""
    try:
        query.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if not all(ch.isprintable() or ch == " " for ch in query):
        return False
    words = query.replace('"', " ").replace("'", " ").split()
    return ":" not in query and not {"OR", "NOT"} & set(words)


def test_hostile_search_queries_fail_cleanly_and_leave_the_store_intact(
    small_store: Store,
) -> None:
    before = _table_counts(small_store)
    accepted = {query for query in HOSTILE_QUERIES if _run_query(small_store, query)}
    # Words are searched, not rejected: a parser that refused everything would pass otherwise.
    assert {q for q in HOSTILE_QUERIES if _plain_text(q)} <= accepted
    assert accepted, "every hostile query was rejected"
    assert _table_counts(small_store) == before
    assert small_store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(
        alphabet=st.sampled_from(list("ab \"'*():^-+{}[]/;=,.NEAROTDx\\\x00"))
        | st.characters(),  # lone surrogates included: they are a SearchError too
        max_size=40,
    )
)
def test_any_search_text_raises_nothing_but_search_error(query: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "q.db")
        try:
            accepted = _run_query(store, query)
            assert accepted or not _plain_text(query), f"plain text {query!r} was rejected"
            for operator in ("from:", "tag:", "is:", "before:", "channel:"):
                _run_query(store, operator + query)
        finally:
            store.close()


async def test_console_search_box_answers_hostile_queries_with_a_message(
    small_store: Store,
) -> None:
    app = _make_app(small_store)
    async with app.run_test(size=(150, 30)) as pilot:
        for query in HOSTILE_QUERIES:
            await pilot.press("slash")
            bar = app.screen.query_one(SearchBar)
            bar.value = ""
            bar.post_message(Paste(query))  # as the terminal delivers a pasted line
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            qlist = app.screen.query_one(QueueList)
            shown = qlist.view.name == f"search: {clean_line(query)}"
            told = any(n.title == "Search" for n in app._notifications)
            # A paste that cleans down to nothing is an empty query: Enter does nothing.
            ignored = not clean_line(query)
            assert shown or told or ignored, f"{query!r}: neither results nor a message"
            # Toasts render the message: they must paint safely too.
            _assert_paints_safely(app.screen._compositor.render_strips(), f"search {query!r}")
            if not shown:
                await pilot.press("escape")
            app.clear_notifications()
    assert _table_counts(small_store)["messages"] == 1


# ---- config ------------------------------------------------------------------------------

HOSTILE_CONFIG = """
[agent]
name = "O'Brien\\"; DROP TABLE agents; --"
email = "obrien@x.test"

[[canned_replies]]
name = "Robert'); DROP TABLE canned_replies; --"
body = "Hi {first_name}, [bold red]x[/] '; DELETE FROM messages; -- \\u001b]0;pwned\\u0007"

[[views]]
name = "x' OR 1=1 --"
query = "tag:'; DROP TABLE tags; -- \\"NEAR(a b)\\""
"""


def test_config_with_sql_like_values_loads_and_is_stored_literally(
    tmp_path: Path, small_store: Store
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(HOSTILE_CONFIG, encoding="utf-8")
    config = load_config(path)
    reply = config.canned_replies[0]
    small_store.upsert_canned_reply(
        reply.name, reply.body, shortcut=None, folder="", source="config"
    )
    names = [r[0] for r in small_store.conn.execute("SELECT name FROM canned_replies")]
    assert reply.name in names
    views = _saved_views(config)
    assert views[0].name == "x' OR 1=1 --"
    small_store.count(views[0])  # the saved query runs as data, not SQL
    assert _table_counts(small_store)["messages"] == 1


def test_a_bad_saved_view_query_is_a_config_error_naming_the_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = FrontdeskConfig.model_validate(
        {"views": [{"name": "ok", "query": "tag:x"}, {"name": "bad", "query": "is:'; --"}]}
    )
    with pytest.raises(SystemExit) as exited:
        _saved_views(config)
    assert exited.value.code == EXIT_CONFIG
    assert "views[1].query" in capsys.readouterr().err


# ---- properties the other test files don't cover -----------------------------------------


def _clean_chars(value: str) -> bool:
    return not {ord(ch) for ch in value} & (_FORBIDDEN | _INVISIBLE)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_slack_renderer_never_emits_controls(text: str) -> None:
    out = render(text, user_name=lambda uid: f"user{uid}\x1b[31m", channel_name=lambda _: None)
    assert not {ord(ch) for ch in out} & _FORBIDDEN


# Characters plus the pieces of encoded words and of escape sequences, so examples mix them.
_HEADER_TEXT = st.lists(
    st.characters(codec="utf-8").map(str)
    | st.sampled_from(["\x1b", "\x9b", "\u202e", "\u200b", "=?", "?=", "?q?", "\x1b]0;", "\x07"]),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(name=_HEADER_TEXT, subject=_HEADER_TEXT, encoded=st.booleans())
def test_any_from_name_and_subject_come_out_clean(name: str, subject: str, encoded: bool) -> None:
    """Whatever a From name or Subject holds, raw or RFC 2047, each comes out one clean line."""
    if encoded:

        def word(value: str) -> str:
            return (
                f"=?utf-8?b?{base64.b64encode(value.encode('utf-8', 'surrogatepass')).decode()}?="
            )

        name, subject = word(name), word(subject)
    raw = f'From: "{name}" <a@b.test>\r\nSubject: {subject}\r\n\r\nbody\r\n'.encode(
        "utf-8", "surrogatepass"
    )
    parsed = parse_message(raw)
    assert parsed.subject == clean_line(parsed.subject) and _clean_chars(parsed.subject)
    if parsed.sender is not None:
        sender = parsed.sender.name
        assert sender == clean_line(sender) and _clean_chars(sender)
