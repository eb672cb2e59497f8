"""HTML bodies to readable text, defused first so html2text runs in linear time."""

from __future__ import annotations

import html
import re

import html2text

from connectors.email.mime.model import HTML_CONVERT_LIMIT, MAX_HTML_NESTING, _Notes


def _html_converter() -> html2text.HTML2Text:
    # bodywidth=0: the terminal wraps; re-wrapping here would break quotes and links.
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True  # "é", not "e"; "“", not '"'
    return converter


# The lookbehind makes each run of spaces one attempt, not one per space (quadratic).
_TRAILING_SPACE = re.compile(r"(?<![ \t])[ \t]+$", re.MULTILINE)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_BLANK_RUN = re.compile(r"\n{3,}")


def _html_to_text(source: str, notes: _Notes) -> str:
    """Readable text from an HTML body; script and style content never shows."""
    if len(source) > HTML_CONVERT_LIMIT:
        notes.add(f"HTML body longer than {HTML_CONVERT_LIMIT:,} characters: only the start shown")
        source = source[:HTML_CONVERT_LIMIT]
    try:
        markdown = _html_converter().handle(_HtmlDefuser(source).run())
    except (AssertionError, IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:
        notes.add(f"HTML could not be converted ({type(exc).__name__}): tags stripped instead")
        return _strip_tags(source)
    # html2text writes Markdown: undo its hard-break spaces and backslash escapes.
    text = _MD_ESCAPE.sub(r"\1", _TRAILING_SPACE.sub("", markdown))
    return _BLANK_RUN.sub("\n\n", text).strip("\n")


_TAG_START = re.compile(r"</?[A-Za-z]")
_TAG_NAME = re.compile(r"/?\s*([A-Za-z][\w:-]*)")
_NESTING_TAGS = frozenset(("ul", "ol", "dl", "menu", "dir", "blockquote"))


class _HtmlDefuser:
    """Rewrites HTML so html2text, on Python 3.11's HTMLParser, runs in linear time.

    That parser rescans the rest of the document at every unclosed construct: 60 kB of
    "<a " or "<!--" takes minutes. html2text also indents each nested list or quote level,
    so 2,000 nested <ul> make gigabytes of spaces. In one pass here, with str.find: comments
    are dropped (an unclosed one hides the rest, as in a browser), declarations (<!DOCTYPE,
    <![CDATA[, <?xml) are dropped, a "<" that starts no complete tag becomes "&lt;",
    unbalanced quotes in a tag are removed, and list/quote nesting is capped.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[str] = []
        self.next_gt = 0  # cached position of the next ">" (-1: there is none left)
        self.depth = 0  # open list/quote levels passed on
        self.excess = 0  # open list/quote levels dropped

    def run(self) -> str:
        pos = 0
        while (lt := self.source.find("<", pos)) >= 0:
            self.out.append(self.source[pos:lt])
            pos = self._construct(lt)
        self.out.append(self.source[pos:])
        return "".join(self.out)

    def _construct(self, lt: int) -> int:
        """Emit what the "<" at ``lt`` starts; return where plain text resumes."""
        source = self.source
        if source.startswith("<!--", lt):
            end = source.find("-->", lt + 4)
            return len(source) if end < 0 else end + 3
        gt = self._find_gt(lt)
        inner_lt = source.find("<", lt + 1, gt) if gt >= 0 else -1
        is_tag = _TAG_START.match(source, lt) is not None
        if gt < 0 or inner_lt >= 0 or not (is_tag or source.startswith(("<!", "<?"), lt)):
            self.out.append("&lt;")
            return lt + 1
        if is_tag:
            self._tag(source[lt + 1 : gt])
        return gt + 1

    def _find_gt(self, lt: int) -> int:
        # Positions only grow, so each ">" is searched for once: linear overall.
        if 0 <= self.next_gt <= lt:
            self.next_gt = self.source.find(">", lt + 1)
        return self.next_gt

    def _tag(self, inner: str) -> None:
        for quote in "\"'":
            if inner.count(quote) % 2:
                inner = inner.replace(quote, "")
        if self._within_nesting_limit(inner):
            self.out.append(f"<{inner}>")

    def _within_nesting_limit(self, inner: str) -> bool:
        name = _TAG_NAME.match(inner)
        if name is None or name.group(1).lower() not in _NESTING_TAGS:
            return True
        if inner.startswith("/"):
            if self.excess:
                self.excess -= 1
                return False
            self.depth = max(self.depth - 1, 0)
            return True
        if self.depth >= MAX_HTML_NESTING:
            self.excess += 1
            return False
        self.depth += 1
        return True


_TAG = re.compile(r"<[^<>]*>")
_HIDDEN_BLOCK = re.compile(r"<(script|style)\b", re.IGNORECASE)


def _strip_tags(source: str) -> str:
    """Crude fallback when html2text fails: drop script/style blocks, then all tags."""
    lowered = source.lower()
    kept: list[str] = []
    pos = 0
    while (match := _HIDDEN_BLOCK.search(source, pos)) is not None:
        kept.append(source[pos : match.start()])
        closer = f"</{match.group(1).lower()}"
        end = lowered.find(closer, match.end())
        pos = len(source) if end < 0 else end + len(closer)
    kept.append(source[pos:])
    return html.unescape(_TAG.sub(" ", "".join(kept)))
