"""`s`: snooze until a preset or a typed time, previewed as an absolute local time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from console.snooze_time import WhenError, describe, parse_when, presets


@dataclass(frozen=True)
class SnoozeChoice:
    until: float
    wake_on_reply: bool
    note: str | None


class SnoozeScreen(ModalScreen[SnoozeChoice | None]):
    DEFAULT_CSS = """
    SnoozeScreen { align: center middle; }
    SnoozeScreen > Vertical {
        width: 72; height: auto; border: thick $accent; background: $surface; padding: 0 1;
    }
    SnoozeScreen OptionList { height: auto; max-height: 6; border: none; }
    SnoozeScreen #snooze-preview { height: 2; }
    SnoozeScreen .title { text-style: bold; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="snooze.cancel", tooltip="Do not snooze"),
        Binding(
            "ctrl+s",
            "confirm",
            "Snooze",
            id="snooze.confirm",
            priority=True,
            tooltip="Snooze until the time shown",
        ),
    ]

    def __init__(self, clock: Callable[[], float], count: int = 1) -> None:
        super().__init__()
        self.clock = clock
        self.count = count
        self.until: float | None = None
        self.presets = presets(clock())

    def compose(self) -> ComposeResult:
        what = "this conversation" if self.count == 1 else f"{self.count} conversations"
        with Vertical():
            yield Label(f"Snooze {what} until…", classes="title")
            yield OptionList(*(Option(label) for label, _ in self.presets), id="snooze-presets")
            yield Input(
                placeholder="or type: tomorrow 9am · in 3 days · friday 14:00 · 2026-12-01",
                id="snooze-when",
            )
            yield Static(id="snooze-preview")
            yield Checkbox("Wake when the customer writes", value=True, id="snooze-wake")
            yield Input(placeholder="note shown when it wakes (optional)", id="snooze-note")
            yield Label("enter/ctrl+s snooze · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._pick_preset(0)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._pick_preset(event.option_index)

    def _pick_preset(self, index: int) -> None:
        self._set_until(self.presets[index][1], None)

    def on_option_list_option_selected(self, _: OptionList.OptionSelected) -> None:
        self.action_confirm()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "snooze-when":
            return
        try:
            self._set_until(parse_when(event.value, self.clock()), None)
        except WhenError as exc:
            self._set_until(None, str(exc))

    def _set_until(self, until: float | None, problem: str | None) -> None:
        self.until = until
        preview = self.query_one("#snooze-preview", Static)
        if until is not None:
            preview.update(Text.assemble(("Wakes ", "dim"), (describe(until), "bold green")))
        else:
            preview.update(Text(problem or "", style="bold red"))

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        if self.until is None:
            self.notify("Choose a preset or type a time in the future", severity="warning")
            return
        note = self.query_one("#snooze-note", Input).value.strip() or None
        wake = self.query_one("#snooze-wake", Checkbox).value
        self.dismiss(SnoozeChoice(self.until, wake, note))

    def action_cancel(self) -> None:
        self.dismiss(None)
