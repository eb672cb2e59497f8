"""Customer text to Rich `Text`: sanitised, never parsed as markup."""

from __future__ import annotations

import time

from rich.text import Text

from storage.sanitize import clean_line, clean_text


def safe_line(value: str, style: str = "") -> Text:
    """One-line field (name, subject): controls, bidi overrides and newlines removed."""
    return Text(clean_line(value), style=style, no_wrap=True, overflow="ellipsis")


def safe_block(value: str, style: str = "") -> Text:
    """A message body: escape sequences and controls removed, newlines kept."""
    return Text(clean_text(value), style=style)


def local_time(epoch: float) -> str:
    return time.strftime("%a %d %b %Y %H:%M", time.localtime(epoch))


def size_label(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size} {unit}" if unit == "B" else f"{size:.0f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size:.1f} GB"
