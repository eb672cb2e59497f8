"""Who the customer is and what else they asked, on every channel."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.render import local_time, safe_line
from console.timefmt import short_duration
from storage.models import ConversationDetail, Rating

CHANNEL_ICON = {"email": "✉", "slack": "#"}
IDENTITY_LABEL = {"email": "✉", "slack": "Slack"}


class ContextPanel(Vertical):
    DEFAULT_CSS = """
    ContextPanel { width: 44; border-left: tall $panel; padding: 0 1; }
    ContextPanel > #context-summary { height: auto; }
    ContextPanel > OptionList { height: 1fr; border: none; padding: 0; }
    ContextPanel > .section { color: $text-muted; text-style: bold; margin-top: 1; }
    """

    class OpenConversation(Message):
        def __init__(self, conversation_id: int) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def compose(self) -> ComposeResult:
        yield Static(id="context-summary")
        yield Static("Other conversations", classes="section")
        yield OptionList(id="context-others")

    def show(self, detail: ConversationDetail, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.query_one("#context-summary", Static).update(_summary(detail, now))
        others = self.query_one("#context-others", OptionList)
        others.clear_options()
        others.add_options(
            Option(_other_label(o.channel, o.subject, o.status, o.last_message_at), id=str(o.id))
            for o in detail.others
        )
        if not detail.others:
            others.add_option(Option(Text("none yet", style="dim"), disabled=True))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.post_message(self.OpenConversation(int(event.option.id)))


def _summary(detail: ConversationDetail, now: float) -> Text:
    contact, conv = detail.contact, detail.conversation
    text = Text.assemble(safe_line(contact.name, "bold"), "\n")
    text.append(f"tier: {contact.tier}\n", style="cyan")
    for identity in contact.identities:
        text.append(f"{IDENTITY_LABEL.get(identity.kind, identity.kind)} ")
        text.append_text(safe_line(identity.address))
        text.append("\n")
    text.append("\nStatus: ", style="dim")
    text.append(conv.status, style="bold")
    if conv.status == "snoozed" and conv.snoozed_until:
        text.append(f" until {local_time(conv.snoozed_until)}")
    if conv.snooze_note:
        text.append("\nNote: ", style="dim")
        text.append_text(safe_line(conv.snooze_note))
    text.append("\nAssignee: ", style="dim")
    text.append(conv.assignee or "nobody")
    if conv.waiting_since:
        text.append("\nWaiting: ", style="dim")
        text.append(short_duration(now - conv.waiting_since))
    text.append("\nTags: ", style="dim")
    for name, color in detail.tags:
        text.append_text(safe_line(name, color))
        text.append(" ")
    if detail.rating is not None:
        text.append_text(_rating(detail.rating))
    return text


SCALE_NAME = {"csat": "satisfaction", "ces": "ease"}


def _rating(rating: Rating) -> Text:
    """`Rated: 4/5 satisfaction, 3 Dec` and the customer's comment (their text: no markup)."""
    text = Text("\nRated: ", style="dim")
    style = "bold green" if rating.rating * 5 >= rating.scale_max * 4 else "bold"
    text.append(f"{rating.rating}/{rating.scale_max}", style=style)
    when = time.strftime("%d %b", time.localtime(rating.answered_at))
    text.append(f" {SCALE_NAME.get(rating.kind, rating.kind)}, {when}")
    if rating.comment:
        text.append("\n“")
        text.append_text(safe_line(rating.comment[:200]))
        text.append("”")
    return text


def _other_label(channel: str, subject: str, status: str, at: float) -> Text:
    text = Text(f"{CHANNEL_ICON.get(channel, '?')} ")
    text.append_text(safe_line(subject))
    text.append(f"\n  {status} · {time.strftime('%d %b %Y', time.localtime(at))}", style="dim")
    return text
