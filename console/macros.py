"""Macros as data: a name, a key and steps; `run_steps` applies them through the store.

The screen at hand runs a macro (`WorkflowScreen.run_macro`): it picks the conversations,
groups the steps into one undo with `Actions`, and puts canned replies into its composer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.durations import parse_duration

if TYPE_CHECKING:
    from console.session import Session


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


def run_steps(session: Session, macro: Macro, ids: list[int]) -> None:
    """The macro's store steps on `ids` (canned replies are the screen's: they need a composer)."""
    store, agent = session.store, session.agent_name
    for step in macro.steps:
        if step.kind in ("tag", "untag"):
            store.tag(ids, agent, step.value, step.kind == "tag")
        elif step.kind == "assign":
            who = session.me if step.value == "me" else step.value
            for cid in ids:
                store.assign(cid, agent, who)
        elif step.kind == "snooze":
            until = session.clock() + parse_duration(step.value)
            for cid in ids:
                store.snooze(cid, agent, until)
        elif step.kind == "close":
            for cid in ids:
                store.close_conversation(cid, agent)
