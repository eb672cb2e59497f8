"""The knowledge base: indexing, search, bad front matter, live reload, insertion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.app import FrontdeskApp
from console.demo import AGENT, DEMO_KNOWLEDGE, DEMO_POLICY, build_demo
from console.screens.conversation import ConversationScreen
from console.screens.knowledge import KnowledgeScreen
from storage import knowledge
from storage.store import Store
from tests.conftest import FakeClock

NOW = 1_800_000_000.0

ARTICLE = """---
title: Reset your password
tags: [login, account]
url: https://help.example.com/reset
---
# Reset your password

Open Settings and choose Reset password.

If you use SSO, ask your IT team instead.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_articles_are_indexed_and_found_by_title_text_and_tag(store: Store, tmp_path: Path) -> None:
    write(tmp_path, "reset.md", ARTICLE)
    write(tmp_path, "refunds.md", "# Refunds\n\nDuplicate charges are refunded in 5 days.\n")
    assert knowledge.sync_folder(store.conn, tmp_path) == []
    assert [a.title for a in knowledge.search(store.conn, "passw")] == ["Reset your password"]
    assert [a.title for a in knowledge.search(store.conn, "duplicate")] == ["Refunds"]
    assert [a.title for a in knowledge.search(store.conn, "login")] == ["Reset your password"]
    found = knowledge.search(store.conn, "sso")[0]
    assert found.url == "https://help.example.com/reset" and found.tags == ("login", "account")
    assert knowledge.excerpt(found, "sso") == "If you use SSO, ask your IT team instead."


def test_bad_front_matter_names_file_and_line_and_skips_only_it(
    store: Store, tmp_path: Path
) -> None:
    write(tmp_path, "good.md", ARTICLE)
    write(tmp_path, "bad.md", "---\ntitle: Broken\ntags: [a, b\n---\nbody\n")
    write(tmp_path, "open.md", "---\ntitle: never closed\n")
    problems = knowledge.sync_folder(store.conn, tmp_path)
    assert any("bad.md:" in p and "YAML" in p for p in problems)
    assert any("open.md:1" in p and "never ends" in p for p in problems)
    assert [a.title for a in knowledge.search(store.conn, "")] == ["Reset your password"]


def test_changes_and_removals_are_picked_up(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "reset.md", ARTICLE)
    knowledge.sync_folder(store.conn, tmp_path)
    path.write_text(ARTICLE.replace("Reset your password", "Change your password"), "utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    knowledge.sync_folder(store.conn, tmp_path)
    assert [a.title for a in knowledge.search(store.conn, "")] == ["Change your password"]
    path.unlink()
    knowledge.sync_folder(store.conn, tmp_path)
    assert knowledge.search(store.conn, "") == []


def test_search_text_is_never_fts_syntax(store: Store, tmp_path: Path) -> None:
    write(tmp_path, "reset.md", ARTICLE)
    knowledge.sync_folder(store.conn, tmp_path)
    for query in ['"', "AND OR NOT", "title:x", "a*b*", "(", "NEAR("]:
        knowledge.search(store.conn, query)  # never raises


@pytest.fixture
def demo_store(db_path: Path) -> Store:
    store = Store(db_path, policy=DEMO_POLICY, clock=FakeClock(NOW))
    build_demo(store, NOW)
    return store


def make_app(store: Store, folder: Path) -> FrontdeskApp:
    return FrontdeskApp(
        store,
        me=AGENT.address,
        agent_name="Sam Rivera",
        clock=FakeClock(NOW),
        knowledge_folder=folder,
    )


async def test_b_inserts_the_link_and_ctrl_e_an_excerpt(demo_store: Store) -> None:
    app = make_app(demo_store, DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, KnowledgeScreen)
        await pilot.press(*"reset pass", "enter")
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        assert screen.composer.editor.text == (
            "Reset your password: https://help.frontdesk.demo/reset-password"
        )
        await pilot.press(" ", "escape")  # leave the composer: the draft is kept
        await pilot.press("b")
        await pilot.press(*"refund duplicate", "ctrl+e")
        text = screen.composer.editor.text
        assert text.startswith("Reset your password: https://help.frontdesk.demo/reset-password ")
        assert text.endswith(
            "within 5 business days once we confirm it. Your\nbank may take "
            "another 3-5 days to show the credit."
        )


async def test_question_marks_in_the_composer_open_the_knowledge_base(demo_store: Store) -> None:
    app = make_app(demo_store, DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("enter", "r", *"See ??")
        await pilot.pause()
        assert isinstance(app.screen, KnowledgeScreen)
        await pilot.press(*"webhook", "enter")
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        assert screen.composer.editor.text.startswith("See Webhook delivery and retries: https")


async def test_a_new_article_appears_without_restart(demo_store: Store, tmp_path: Path) -> None:
    app = make_app(demo_store, tmp_path)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        write(tmp_path, "new.md", ARTICLE)
        write(tmp_path, "broken.md", "---\ntags: [x\n---\n")
        app.reindex_knowledge()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [a.title for a in knowledge.search(demo_store.conn, "")] == ["Reset your password"]
        assert any("broken.md" in str(n.message) for n in app._notifications)


async def test_an_excerpt_is_pasted_as_plain_text_not_markdown(demo_store: Store) -> None:
    """Mail is plain here: `**Settings → Security**` and `*Reset password*` lose their marks."""
    app = make_app(demo_store, DEMO_KNOWLEDGE)
    async with app.run_test(size=(150, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("enter", "b", *"reset pass", "ctrl+e")
        screen = app.screen
        assert isinstance(screen, ConversationScreen)
        assert screen.composer.editor.text == (
            "Open Settings → Security and choose Reset password. We email you a link that works"
            " for\none hour."
        )
