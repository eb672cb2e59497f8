"""The command palette lists every action that is active now, with its key, and every macro
and view (saved views past the ninth have no key: the palette is how they are reached).

Titles are shown as plain text: macro and view names come from the config, never markup.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

if TYPE_CHECKING:
    from console.app import FrontdeskApp

Command = tuple[str, str, Callable[[], object]]  # title, help, what it runs


class ActionsProvider(Provider):
    """One command per active binding of the screen under the palette, macro and view."""

    def _actions(self) -> list[Command]:
        found: dict[str, Command] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or binding.id is None or binding.id in found:
                continue
            display = self.app.get_key_display(binding)
            title = f"{binding.description} ({display or key})"
            runner = partial(self.app.run_action, binding.action, active.node)
            found[binding.id] = (title, binding.tooltip, runner)
        commands = sorted(found.values(), key=lambda item: item[0].lower())
        return commands + self._macros() + self._views()

    def _macros(self) -> list[Command]:
        app: FrontdeskApp = self.app  # type: ignore[assignment]
        return [
            (f"Macro: {macro.name} ({macro.key})", "Run the macro", partial(app.action_macro, i))
            for i, macro in enumerate(getattr(app, "macros", []))
        ]

    def _views(self) -> list[Command]:
        from console.screens.queue import QueueScreen

        screen = self.screen
        if not isinstance(screen, QueueScreen):
            return []
        return [
            (
                f"View: {view.name}" + (f" ({index + 1})" if index < 9 else ""),
                "Show this view of the queue",
                partial(screen.action_view, index),
            )
            for index, view in enumerate(screen.views)
        ]

    async def discover(self) -> Hits:
        for title, help_text, runner in self._actions():
            yield DiscoveryHit(Content(title), runner, text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, runner in self._actions():
            score = matcher.match(f"{title} {help_text}")
            if score > 0:
                yield Hit(score, Content(title), runner, text=title, help=help_text)
