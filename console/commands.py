"""The command palette lists every action that is active now, with its key."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ActionsProvider(Provider):
    """One command per active binding of the screen under the palette."""

    def _actions(self) -> list[tuple[str, str, str, object]]:
        found = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or binding.id is None or binding.id in found:
                continue
            display = self.app.get_key_display(binding)
            title = f"{binding.description} ({display or key})"
            runner = partial(self.app.run_action, binding.action, active.node)
            found[binding.id] = (title, binding.tooltip, binding.id, runner)
        return sorted(found.values(), key=lambda item: item[0].lower())

    async def discover(self) -> Hits:
        for title, help_text, _id, runner in self._actions():
            yield DiscoveryHit(title, runner, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, _id, runner in self._actions():
            score = matcher.match(f"{title} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(title), runner, help=help_text)  # type: ignore[arg-type]
