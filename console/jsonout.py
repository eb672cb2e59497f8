"""Plain JSON on stdout for scripts: no colours, no markup, customer text exactly as stored.

Output is ASCII (`ensure_ascii`): every character outside it, and every control character,
is a `\\uXXXX` escape, so a customer's escape sequences reach a pipe as data and never act on
a terminal, and the bytes are the same whatever the locale. `json.loads` gives the stored
text back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from storage.records import Record


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=True)


def write_array(out: TextIO, items: Iterable[Record]) -> int:
    """A JSON array written as the items come (never held whole); returns how many."""
    count = 0
    out.write("[")
    for item in items:
        out.write(",\n" if count else "\n")
        out.write(dumps(item))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_line(out: TextIO, item: Record) -> None:
    """One JSON Lines record."""
    out.write(dumps(item))
    out.write("\n")
