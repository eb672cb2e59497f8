"""The conversation screen: its keys and style, made of the parts in this package."""

from __future__ import annotations

from textual.binding import Binding

from console.screens.conversation.held import HeldReplies
from console.screens.conversation.inserts import Inserts
from console.screens.conversation.sending import Sending
from console.screens.conversation.thread_edits import ThreadEdits


class ConversationScreen(ThreadEdits, HeldReplies, Sending, Inserts):
    """One conversation: its view and every part an agent uses on it."""

    # At NARROW_WIDTH columns or fewer the context panel goes under the thread and composer,
    # so both keep the full width (and makes way while the agent writes).
    DEFAULT_CSS = """
    ConversationScreen.-narrow #conversation-body { layout: vertical; }
    ConversationScreen.-narrow ContextPanel {
        width: 100%; height: 7; border-left: none; border-top: tall $panel;
    }
    ConversationScreen.-narrow.-composing ContextPanel { display: none; }
    ConversationScreen #conversation-outbox { display: none; background: $warning 15%; }
    ConversationScreen #conversation-takeable { display: none; background: $primary 20%; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="conversation.back", tooltip="Back to the queue"),
        Binding("r", "reply", "Reply", id="conversation.reply", tooltip="Write a reply"),
        Binding(
            "n",
            "note",
            "Note",
            id="conversation.note",
            tooltip="Write an internal note (never sent)",
        ),
        Binding(
            "c",
            "canned",
            "Canned",
            id="conversation.canned",
            tooltip="Insert a canned reply at the cursor",
        ),
        Binding(
            "ctrl+r",
            "canned",
            "Canned",
            id="composer.canned",
            show=False,
            tooltip="Insert a canned reply at the cursor (in the composer)",
        ),
        Binding(
            "ctrl+o",
            "send_and_close",
            "Send & close",
            id="conversation.send_close",
            tooltip="Send the reply and close the conversation",
            show=False,
        ),
        Binding(
            "b",
            "knowledge",
            "Knowledge",
            id="conversation.knowledge",
            tooltip="Search the knowledge base and insert a link or excerpt",
        ),
        Binding(
            "J",
            "step(1)",
            "Next",
            id="conversation.next",
            tooltip="Open the next conversation in the queue",
        ),
        Binding(
            "K",
            "step(-1)",
            "Previous",
            id="conversation.previous",
            tooltip="Open the previous conversation in the queue",
        ),
        Binding(
            "P",
            "post_held",
            "Post in channel",
            id="conversation.post_held",
            tooltip="Post the held reply as a new message in the channel (its question is gone)",
        ),
        Binding(
            "D",
            "dm_held",
            "Send as DM",
            id="conversation.dm_held",
            tooltip="Send the held reply to the customer as a direct message (question gone)",
        ),
        Binding(
            "C",
            "cancel_held",
            "Cancel held reply",
            id="conversation.cancel_held",
            tooltip="Cancel the held reply; its text comes back into the composer",
        ),
        Binding(
            "w",
            "why",
            "Why here",
            id="conversation.why",
            tooltip="Why the highlighted message joined this conversation",
            show=False,
        ),
        Binding(
            "X",
            "split",
            "Split",
            id="conversation.split",
            tooltip="Split the conversation: a message and the later ones become a new one",
            show=False,
        ),
        Binding(
            "M",
            "merge",
            "Merge",
            id="conversation.merge",
            tooltip="Merge another conversation of this customer into this one",
            show=False,
        ),
    ]
