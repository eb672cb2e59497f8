"""Key bindings: every binding has an id, users remap ids in `[keys]`, clashes are reported.

Textual applies a keymap lazily per node and only calls `handle_bindings_clash` when a key is
pressed; an admin should hear about a clash when the console starts, naming both bindings.

Pure: which classes are active together (the scopes) is the composition root's table
(`console.app.key_scopes`), handed in; this module imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.keys import _character_to_key, format_key

EVERYWHERE = "everywhere"
Scopes = Mapping[str, Sequence[type]]  # scope name -> the classes active together there


@dataclass(frozen=True)
class BoundKey:
    binding_id: str
    keys: tuple[str, ...]
    description: str
    tooltip: str
    scope: str


def bindings_of(classes: Iterable[type]) -> list[Binding]:
    """The Binding objects declared by classes (and their bases), ids first-declared wins."""
    found: dict[str, Binding] = {}
    for cls in classes:
        for klass in reversed(cls.__mro__):
            for binding in _as_bindings(klass.__dict__.get("BINDINGS", [])):
                if binding.id:
                    found.setdefault(binding.id, binding)
    return list(found.values())


def _as_bindings(items: Iterable[BindingType]) -> Iterable[Binding]:
    for item in items:
        if isinstance(item, Binding):
            yield item


def key_map(keymap: Mapping[str, str], scopes: Scopes) -> list[BoundKey]:
    """Every binding with its effective keys after `[keys]`, for help and the palette."""
    rows = []
    for scope, classes in scopes.items():
        for binding in bindings_of(classes):
            assert binding.id is not None
            keys = keymap.get(binding.id, binding.key)
            rows.append(
                BoundKey(
                    binding.id,
                    tuple(_key_name(k.strip()) for k in keys.split(",")),
                    binding.description,
                    binding.tooltip,
                    scope,
                )
            )
    return rows


def _key_name(key: str) -> str:
    """'?' and 'question_mark' are one key: compare and show them in one form."""
    return _character_to_key(key) if len(key) == 1 else key


def problems(
    keymap: Mapping[str, str], scopes: Scopes, macro_keys: Iterable[str] = ()
) -> list[str]:
    """Unknown ids in `[keys]`, and keys bound twice in one scope (naming both)."""
    rows = key_map(keymap, scopes) + [
        BoundKey(f"macro {key!r}", (_key_name(key),), "macro", "", EVERYWHERE) for key in macro_keys
    ]
    known = {row.binding_id for row in rows if not row.binding_id.startswith("macro ")}
    found = [
        f"[keys] {binding_id!r} is not a binding id (see `?` in the console for the list)"
        for binding_id in keymap
        if binding_id not in known
    ]
    everywhere = [row for row in rows if row.scope == EVERYWHERE]
    for scope in scopes:
        if scope != EVERYWHERE:
            found += _clashes(everywhere + [row for row in rows if row.scope == scope])
    return sorted(set(found))


def _clashes(rows: list[BoundKey]) -> list[str]:
    owner: dict[str, str] = {}
    clashes = []
    for row in rows:
        for key in row.keys:
            other = owner.setdefault(key, row.binding_id)
            if other != row.binding_id:
                clashes.append(f"key {key!r} is bound to both {other} and {row.binding_id}")
    return clashes


def display(keys: tuple[str, ...]) -> str:
    """Keys as a person reads them: `?`, `/`, `ctrl+s`."""
    return ", ".join(format_key(key) for key in keys)
