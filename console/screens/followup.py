"""Review a follow-up batch: how many, to whom, every rendered message — then confirm.

Every recipient is listed ticked; space unticks one (it is left out of the batch). A customer
with several conversations in the view gets one message; the review names the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from console.followup import Blocked, Rendered
from console.render import safe_block, safe_line

PREVIEW_LIMIT = 300


@dataclass(frozen=True)
class FollowUpChoice:
    tag: str | None
    close: bool
    conversation_ids: frozenset[int]  # the recipients left ticked


def _recipient(item: Rendered) -> Selection[int]:
    label = Text.assemble(
        ("✉ " if item.channel == "email" else "# "),
        safe_line(item.customer, "bold"),
        " · #",
        str(item.conversation_id),
        " ",
        safe_line(item.subject),
    )
    if item.left_out:
        others = ", ".join(f"#{c}" for c in item.left_out)
        label.append(f"  (one message: not also {others})", style="dim")
    return Selection(label, item.conversation_id, True)


def _preview(rendered: list[Rendered]) -> Group:
    parts: list[RenderableType] = []
    for item in rendered[:PREVIEW_LIMIT]:
        head = Text.assemble(
            ("✉ " if item.channel == "email" else "# "),
            safe_line(item.customer, "bold"),
            " · ",
            safe_line(item.subject),
        )
        parts += [Rule(head, align="left", style="dim"), safe_block(item.text), Text()]
    if len(rendered) > PREVIEW_LIMIT:
        parts.append(Text(f"… and {len(rendered) - PREVIEW_LIMIT} more", style="dim"))
    return Group(*parts)


class FollowUpScreen(ModalScreen[FollowUpChoice | None]):
    DEFAULT_CSS = """
    FollowUpScreen { align: center middle; }
    FollowUpScreen > Vertical {
        width: 95%; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
    }
    FollowUpScreen VerticalScroll { height: 1fr; border: tall $panel; }
    FollowUpScreen SelectionList { height: auto; max-height: 10; }
    FollowUpScreen .title { text-style: bold; }
    """
    BINDINGS = [
        Binding(
            "ctrl+s",
            "confirm",
            "Queue all",
            id="followup.confirm",
            priority=True,
            tooltip="Queue one reply per conversation",
        ),
        Binding("escape", "cancel", "Cancel", id="followup.cancel", tooltip="Send nothing"),
    ]

    def __init__(self, reply_name: str, rendered: list[Rendered]) -> None:
        super().__init__()
        self.reply_name = reply_name
        self.rendered = rendered

    def compose(self) -> ComposeResult:
        count = len(self.rendered)
        with Vertical():
            yield Label(
                Text.assemble(
                    f"Follow up with {count} customer{'s' * (count != 1)} using ",
                    safe_line(self.reply_name, "bold"),
                    " — each in their own thread",
                ),
                classes="title",
            )
            yield SelectionList[int](
                *[_recipient(item) for item in self.rendered], id="followup-recipients"
            )
            with VerticalScroll():
                yield Static(_preview(self.rendered))
            yield Checkbox("Tag them followed-up", value=True, id="followup-tag")
            yield Checkbox("Close after sending", value=False, id="followup-close")
            yield Label(
                "space unticks · ctrl+s queue the ticked · esc cancel ·"
                " ctrl+x or u later cancels those not sent"
            )

    def action_confirm(self) -> None:
        ticked = frozenset(self.query_one("#followup-recipients", SelectionList).selected)
        if not ticked:
            self.notify("Nobody is ticked: nothing to queue", severity="warning")
            return
        tag = "followed-up" if self.query_one("#followup-tag", Checkbox).value else None
        close = self.query_one("#followup-close", Checkbox).value
        self.dismiss(FollowUpChoice(tag, close, ticked))

    def action_cancel(self) -> None:
        self.dismiss(None)


class BlockedScreen(ModalScreen[None]):
    """Why a batch cannot go: every recipient whose message cannot be rendered."""

    DEFAULT_CSS = """
    BlockedScreen { align: center middle; }
    BlockedScreen > VerticalScroll {
        width: 90%; height: 80%; border: thick $error; background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding(
            "escape,enter",
            "dismiss",
            "Close",
            id="blocked.close",
            tooltip="Close; nothing was sent",
        )
    ]

    def __init__(self, blocked: list[Blocked]) -> None:
        super().__init__()
        self.blocked = blocked

    def compose(self) -> ComposeResult:
        text = Text(
            f"Nothing was queued: {len(self.blocked)} message(s) cannot be rendered\n\n",
            style="bold red",
        )
        for item in self.blocked:
            text.append_text(
                Text.assemble(
                    "• #",
                    str(item.conversation_id),
                    " ",
                    safe_line(item.customer, "bold"),
                    ": ",
                    safe_line(item.reason),
                    "\n",
                )
            )
        with VerticalScroll():
            yield Static(text)
