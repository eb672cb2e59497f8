"""`k` (or `??` in the composer): search the knowledge base, read, insert a link or excerpt."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList
from textual.widgets.option_list import Option

from console.plaintext import markdown_to_plain
from console.render import safe_line
from storage import knowledge
from storage.knowledge import Article
from storage.store import Store


@dataclass(frozen=True)
class Insert:
    text: str


EXCERPT_LIMIT = 600  # characters of an inserted excerpt


def link_text(article: Article) -> str:
    return f"{article.title}: {article.url}" if article.url else article.title


def excerpt_text(article: Article, query: str) -> str:
    """The best paragraph for `query` as plain text (a reply is plain), cut at a word."""
    plain = markdown_to_plain(knowledge.excerpt(article, query, limit=len(article.body) + 1))
    if len(plain) <= EXCERPT_LIMIT:
        return plain
    return plain[: EXCERPT_LIMIT - 1].rsplit(" ", 1)[0].rstrip() + "…"


class KnowledgeScreen(ModalScreen[Insert | None]):
    DEFAULT_CSS = """
    KnowledgeScreen { align: center middle; }
    KnowledgeScreen > Vertical {
        width: 95%; height: 90%; border: thick $accent; background: $surface;
    }
    KnowledgeScreen Horizontal { height: 1fr; }
    KnowledgeScreen OptionList { width: 40; height: 1fr; border: none; }
    KnowledgeScreen Markdown { width: 1fr; height: 1fr; overflow-y: auto; }
    KnowledgeScreen .hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding(
            "enter",
            "insert_link",
            "Insert link",
            id="kb.link",
            priority=True,
            tooltip="Insert the article's title and public link",
        ),
        Binding(
            "ctrl+e",
            "insert_excerpt",
            "Insert excerpt",
            id="kb.excerpt",
            priority=True,
            tooltip="Insert the paragraph that best answers the search",
        ),
        Binding("escape", "cancel", "Cancel", id="kb.cancel", tooltip="Close the knowledge base"),
        Binding("down", "move(1)", "Down", id="kb.down", show=False, priority=True),
        Binding("up", "move(-1)", "Up", id="kb.up", show=False, priority=True),
    ]

    def __init__(self, store: Store, query: str = "") -> None:
        super().__init__()
        self.store = store
        self.initial = query
        self.results: list[Article] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(self.initial, placeholder="search the knowledge base", id="kb-query")
            with Horizontal():
                yield OptionList(id="kb-results")
                yield Markdown(id="kb-article")
            yield Label("enter: insert link · ctrl+e: insert excerpt · esc: close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._search(self.initial)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    def _search(self, query: str) -> None:
        self.results = self.store.search_knowledge(query)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(Option(_label(a)) for a in self.results)
        if self.results:
            options.highlighted = 0
        self._show()

    def on_option_list_option_highlighted(self, _: OptionList.OptionHighlighted) -> None:
        self._show()

    def _current(self) -> Article | None:
        index = self.query_one(OptionList).highlighted
        return self.results[index] if index is not None and index < len(self.results) else None

    def _show(self) -> None:
        article = self._current()
        # Articles are the admin's own Markdown (version-controlled), not customer text.
        body = article.body if article else "*No article matches.*"
        self.query_one(Markdown).update(body)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(current + step, options.option_count - 1))

    def action_insert_link(self) -> None:
        if (article := self._current()) is not None:
            self.dismiss(Insert(link_text(article)))

    def action_insert_excerpt(self) -> None:
        if (article := self._current()) is not None:
            query = self.query_one(Input).value
            self.dismiss(Insert(excerpt_text(article, query)))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _label(article: Article) -> Text:
    text = safe_line(article.title, "bold")
    if article.tags:
        text.append(f"\n  {' '.join(article.tags)}", style="dim")
    return text
