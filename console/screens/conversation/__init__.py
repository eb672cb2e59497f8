"""One conversation: the thread, the customer's context, the composer.

`ConversationScreen` is assembled from parts, one concern a module, each building on
`view.ConversationView` and on nothing of the others: `sending` (what the composer hands in),
`inserts` (canned replies, the knowledge base), `held` (undo send, held replies) and
`thread_edits` (why, split, merge). `screen` declares its keys and style.
"""

from __future__ import annotations

from console.screens.conversation.screen import ConversationScreen
from console.screens.conversation.thread_edits import SplitConfirm, message_label, why_text
from console.screens.conversation.view import threading_flags

__all__ = ["ConversationScreen", "SplitConfirm", "message_label", "threading_flags", "why_text"]
