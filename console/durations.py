"""Durations as an admin writes them in the config and on the command line: "30m", "4h", "2d".

A leaf: it imports nothing of ours, so the config, macros and reports can all use it."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> float:
    """'90m', '4h', '2d', '1w' → seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a duration: write e.g. "30m", "4h" or "2d"')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
