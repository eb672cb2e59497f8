"""Knowledge-base Markdown as the plain text a reply carries (mail and Slack are plain here).

Contract: `markdown_to_plain(text)` keeps every word and every link target of the Markdown and
drops its syntax: `**bold**`, `_italic_`, `` `code` `` and `~~strike~~` lose their markers,
`[label](url)` becomes "label (url)" (a bare link stays the URL), an image its alt text and
URL, headings their `#`, HTML blocks and inline tags are dropped, list items keep a "- " or
"1. " bullet, quotes their "> ", code blocks their lines. Paragraphs stay separated by one
blank line. Parsed with markdown-it-py (CommonMark, already installed with Textual/Rich):
an excerpt of a few hundred characters costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

_PARSER = MarkdownIt("commonmark").enable("strikethrough")
_ENDS_BLOCK = frozenset(("paragraph_close", "heading_close", "fence", "code_block", "hr"))


def markdown_to_plain(text: str) -> str:
    """`text` (Markdown) as plain text: its words and link targets, without the syntax."""
    lines: list[str] = []
    _Walker(lines).blocks(_PARSER.parse(text))
    return "\n".join(lines).strip("\n")


class _Walker:
    """Block tokens to lines; `prefix` holds the quote markers and list indents in force."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.prefix: list[str] = []
        self.bullets: list[int | None] = []  # per open list: next number, None when bulleted
        self.pending_bullet = ""

    def blocks(self, tokens: Sequence[Token]) -> None:
        for token in tokens:
            self._block(token)

    def _block(self, token: Token) -> None:
        kind = token.type
        if kind == "inline":
            self._emit(_inline(token.children or []))
        elif kind in ("fence", "code_block"):
            self._emit(token.content.rstrip("\n"))
        elif kind == "hr":
            self._emit("---")
        elif kind == "blockquote_open":
            self.prefix.append("> ")
        elif kind == "blockquote_close":
            if self.lines and self.lines[-1] == "".join(self.prefix).rstrip():
                self.lines.pop()  # the quote's own last blank line
            self.prefix.pop()
            self._blank()
        elif kind in ("bullet_list_open", "ordered_list_open"):
            start = token.attrGet("start")
            self.bullets.append(None if kind == "bullet_list_open" else int(start or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.bullets.pop()
            if not self.bullets:
                self._blank()
        elif kind == "list_item_open":
            self._open_item()
        elif kind == "list_item_close":
            self.prefix.pop()
        if kind in _ENDS_BLOCK and not token.hidden:  # a tight list's paragraphs are hidden
            self._blank()

    def _open_item(self) -> None:
        number = self.bullets[-1]
        if number is None:
            self.pending_bullet = "- "
        else:
            self.pending_bullet = f"{number}. "
            self.bullets[-1] = number + 1
        self.prefix.append(" " * len(self.pending_bullet))

    def _emit(self, text: str) -> None:
        for index, line in enumerate(text.split("\n")):
            outer = "".join(self.prefix[:-1]) if self.pending_bullet else "".join(self.prefix)
            lead = self.pending_bullet if index == 0 and self.pending_bullet else ""
            indent = outer + lead if lead else "".join(self.prefix)
            self.lines.append((indent + line).rstrip())
        self.pending_bullet = ""

    def _blank(self) -> None:
        if self.lines and self.lines[-1] != "".join(self.prefix).rstrip():
            self.lines.append("".join(self.prefix).rstrip())


def _inline(tokens: Sequence[Token]) -> str:
    """Inline tokens to text: markers dropped, links as "label (url)"."""
    out: list[str] = []
    link: list[tuple[str, int]] = []  # (href, where its label starts in out)
    for token in tokens:
        kind = token.type
        if kind in ("text", "code_inline"):
            out.append(token.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            link.append((str(token.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and link:
            href, start = link.pop()
            out.append(_link_tail("".join(out[start:]), href))
        elif kind == "image":
            src = str(token.attrGet("src") or "")
            out.append(f"{token.content} ({src})" if token.content else src)
    return "".join(out)


def _link_tail(label: str, href: str) -> str:
    """What follows a link's label: its URL, unless the label already is the URL."""
    if not href or label.strip() in (href, href.removeprefix("mailto:")):
        return ""
    return f" ({href.removeprefix('mailto:')})"
