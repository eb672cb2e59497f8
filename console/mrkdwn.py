"""Slack's mrkdwn as styled text in the thread: what a person reading Slack sees.

Slack documents the markers (https://api.slack.com/reference/surfaces/formatting#basic-formatting):
`*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```preformatted``` ```` and `>` at the start
of a line for a quote. A marker pair formats only at word edges: `2*3*4` and `snake_case_name`
stay as written, and nothing inside code is formatted. The markers of a formatted span are not
shown (Slack hides them too).

The result is a `rich.text.Text` built by appending plain strings with styles: customer text is
never parsed as Rich markup, and controls are removed first (`clean_text`). Linear in the text:
one regular-expression pass per line and span.
"""

from __future__ import annotations

import re

from rich.text import Text

from storage.sanitize import clean_text

_FENCE = re.compile(r"```(.*?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
# A span opens after a line start, a space or punctuation, and closes before one; its text
# neither starts nor ends with a space (Slack's rule for `*bold*`, `_italic_`, `~strike~`).
_SPAN = re.compile(r"(?<![\w*_~])([*_~])(?=\S)(.+?)(?<=\S)\1(?![\w*_~])")
_STYLE = {"*": "bold", "_": "italic", "~": "strike"}

CODE_STYLE = "cyan"
QUOTE_BAR = "▎ "


def styled(text: str) -> Text:
    """The message's text with Slack's formatting applied as styles."""
    out = Text()
    clean = clean_text(text)
    at = 0
    for fence in _FENCE.finditer(clean):
        _lines(out, clean[at : fence.start()])
        out.append(fence.group(1).strip("\n"), style=CODE_STYLE)
        at = fence.end()
    _lines(out, clean[at:])
    return out


def _lines(out: Text, text: str) -> None:
    for number, line in enumerate(text.split("\n")):
        if number:
            out.append("\n")
        if line.startswith(">"):
            out.append(QUOTE_BAR, style="dim")
            _inline(out, line[1:].removeprefix(" "), "italic")
        else:
            _inline(out, line, "")


def _inline(out: Text, line: str, base: str) -> None:
    at = 0
    for code in _CODE.finditer(line):
        _spans(out, line[at : code.start()], base)
        out.append(code.group(1), style=f"{base} {CODE_STYLE}".strip())
        at = code.end()
    _spans(out, line[at:], base)


def _spans(out: Text, text: str, base: str) -> None:
    at = 0
    for span in _SPAN.finditer(text):
        out.append(text[at : span.start()], style=base or None)
        style = f"{base} {_STYLE[span.group(1)]}".strip()
        _spans(out, span.group(2), style)  # *_bold italic_*
        at = span.end()
    out.append(text[at:], style=base or None)
