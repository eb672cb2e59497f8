"""Messages the console's parts send each other (Textual messages, one concern each)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class StoreChanged(Message, bubble=False):
    """The store changed under the screen on top: another process committed, a snooze woke,
    or a screen above it closed. A screen that shows store data handles it by re-reading."""
