"""The knowledge base: a folder of Markdown articles with front matter, indexed in FTS5.

Front matter is YAML between `---` lines: `title`, `tags` (list), `url` (public link). A broken
article is reported with its file and line and skipped; the others are indexed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import transaction
from storage.search import fts_expression

FENCE = "---"


@dataclass(frozen=True)
class Article:
    id: int
    path: str
    title: str
    tags: tuple[str, ...]
    url: str | None
    body: str


class ArticleError(ValueError):
    """A file that cannot be indexed: `path:line: why`."""


def parse_article(path: Path, text: str) -> tuple[str, tuple[str, ...], str | None, str]:
    """(title, tags, url, body) of one Markdown file; ArticleError names the line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FENCE:
        return _title_from(path, text), (), None, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == FENCE), None)
    if end is None:
        raise ArticleError(f"{path}:1: front matter starts with --- but never ends with ---")
    meta = _load_yaml(path, "\n".join(lines[1:end]))
    body = "\n".join(lines[end + 1 :]).strip("\n")
    return _fields(path, meta, body)


def _load_yaml(path: Path, block: str) -> dict[str, object]:
    import yaml  # on the first article read: not on the path to the console's first frame

    try:
        meta = yaml.safe_load(block) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for 1-based, +1 for the fence
        problem = getattr(exc, "problem", None) or str(exc)
        raise ArticleError(f"{path}:{line}: front matter is not valid YAML: {problem}") from exc
    if not isinstance(meta, dict):
        raise ArticleError(f"{path}:2: front matter must be `key: value` lines")
    return meta


def _fields(
    path: Path, meta: dict[str, object], body: str
) -> tuple[str, tuple[str, ...], str | None, str]:
    title = meta.get("title") or _title_from(path, body)
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split()
    if not isinstance(tags, list):
        raise ArticleError(f"{path}: `tags` must be a list, e.g. tags: [billing, refunds]")
    url = meta.get("url")
    if url is not None and not isinstance(url, str):
        raise ArticleError(f"{path}: `url` must be text, e.g. url: https://help.example.com/x")
    return str(title), tuple(str(t) for t in tags), url, body


def _title_from(path: Path, body: str) -> str:
    heading = next((ln.lstrip("# ").strip() for ln in body.splitlines() if ln.startswith("#")), "")
    return heading or path.stem.replace("-", " ").replace("_", " ")


def sync_folder(conn: sqlite3.Connection, folder: Path) -> list[str]:
    """Index new and changed articles, drop removed ones; return the problems found."""
    found = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*.md"))}
    known = dict(conn.execute("SELECT path, mtime_ns FROM kb_articles").fetchall())
    problems: list[str] = []
    with transaction(conn):
        for rel in set(known) - set(found):
            conn.execute("DELETE FROM kb_articles WHERE path = ?", (rel,))
        for rel, path in found.items():
            mtime = path.stat().st_mtime_ns
            if known.get(rel) != mtime:
                _index(conn, rel, path, mtime, problems)
    return problems


def _index(conn: sqlite3.Connection, rel: str, path: Path, mtime: int, problems: list[str]) -> None:
    try:
        title, tags, url, body = parse_article(path, path.read_text(encoding="utf-8"))
    except (ArticleError, OSError, UnicodeDecodeError) as exc:
        problems.append(str(exc) if isinstance(exc, ArticleError) else f"{path}: {exc}")
        conn.execute("DELETE FROM kb_articles WHERE path = ?", (rel,))
        return
    conn.execute(
        "INSERT INTO kb_articles (path, title, tags, url, body, mtime_ns) VALUES (?,?,?,?,?,?)"
        " ON CONFLICT(path) DO UPDATE SET title = excluded.title, tags = excluded.tags,"
        " url = excluded.url, body = excluded.body, mtime_ns = excluded.mtime_ns",
        (rel, title, " ".join(tags), url, body, mtime),
    )


def search(conn: sqlite3.Connection, query: str, limit: int = 30) -> list[Article]:
    """Best matches first; an empty query lists every article by title."""
    words = query.split()
    if not words:
        rows = conn.execute("SELECT * FROM kb_articles ORDER BY title LIMIT ?", (limit,))
    else:
        expression = fts_expression([w if w.endswith("*") else w + "*" for w in words])
        rows = conn.execute(
            "SELECT a.* FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid"
            " WHERE kb_fts MATCH ? ORDER BY bm25(kb_fts, 10.0, 1.0, 5.0) LIMIT ?",
            (expression, limit),
        )
    return [_article(r) for r in rows]


def _article(r: sqlite3.Row) -> Article:
    return Article(r["id"], r["path"], r["title"], tuple(r["tags"].split()), r["url"], r["body"])


def excerpt(article: Article, query: str, limit: int = 600) -> str:
    """The paragraph that best answers the query (most query words), else the first one."""
    paragraphs = [p.strip() for p in article.body.split("\n\n") if p.strip()]
    paragraphs = [p for p in paragraphs if not p.startswith("#")] or paragraphs
    if not paragraphs:
        return ""
    words = [w.lower().rstrip("*") for w in query.split()]
    best = max(paragraphs, key=lambda p: sum(w in p.lower() for w in words))
    return best if len(best) <= limit else best[: limit - 1].rstrip() + "…"
