"""Macros: a name, a key and steps, run on the conversations at hand and undone as one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.app import FrontdeskApp


@dataclass(frozen=True)
class MacroStep:
    """One of: canned reply, tag, untag, assign (an email, or "me"), snooze (a duration), close."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class Macro:
    name: str
    key: str
    steps: tuple[MacroStep, ...]


class MacroRunner:
    def __init__(self, app: FrontdeskApp, macro: Macro) -> None:
        self.app = app
        self.macro = macro

    def run(self) -> None:
        from console.screens.conversation import ConversationScreen
        from console.screens.workflow import WorkflowScreen

        screen = self.app.screen
        if not isinstance(screen, WorkflowScreen):
            return
        ids = screen.targets()
        if not ids:
            screen.notify("No conversation here", severity="warning")
            return
        self.app.actions.group(f"macro {self.macro.name}", ids, lambda: self._steps(ids))
        canned = [s.value for s in self.macro.steps if s.kind == "canned"]
        if canned and isinstance(screen, ConversationScreen):
            for name in canned:
                screen.insert_canned_by_name(name)
        screen.after_change()
        screen.notify(f"Macro {self.macro.name}: {len(ids)} conversation(s)", timeout=3)

    def _steps(self, ids: list[int]) -> None:
        store, agent = self.app.store, self.app.agent_name
        for step in self.macro.steps:
            if step.kind in ("tag", "untag"):
                store.tag(ids, agent, step.value, step.kind == "tag")
            elif step.kind == "assign":
                who = self.app.me if step.value == "me" else step.value
                for cid in ids:
                    store.assign(cid, agent, who)
            elif step.kind == "snooze":
                self._snooze(ids, step.value)
            elif step.kind == "close":
                for cid in ids:
                    store.close_conversation(cid, agent)

    def _snooze(self, ids: list[int], duration: str) -> None:
        from console.durations import parse_duration

        until = self.app.clock() + parse_duration(duration)
        for cid in ids:
            self.app.store.snooze(cid, self.app.agent_name, until)
