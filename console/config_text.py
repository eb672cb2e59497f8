"""The config file as text, before and after parsing: read only a small regular file,
refuse nesting too deep for the parser, and point an error at its line and key."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)


class ConfigError(Exception):
    """Shown to the admin as is: file, place, problem, fix. Never a traceback."""


MAX_CONFIG_BYTES = 1024 * 1024
MAX_NESTING = 50  # arrays and inline tables inside each other; real configs use 2 or 3


def read_config_text(path: Path) -> str:
    """The file's text, read only if it is a regular file of at most MAX_CONFIG_BYTES.

    Opened without blocking and checked on the open descriptor: a FIFO cannot make us wait
    for a writer, and the file checked is the file read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such file — copy config.example.toml there, or pass --config PATH"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a folder itself
        os.close(fd)
        raise ConfigError(
            f"{path}: not a regular file ({_kind(info.st_mode)}): point --config at the TOML file"
        )
    with os.fdopen(fd, "rb") as file:
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {info.st_size} bytes, over the 1 MB a config may have")
        try:
            raw = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: over the 1 MB a config may have")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def nesting_too_deep(text: str) -> int | None:
    """The line where `[`/`{` nesting first goes over MAX_NESTING, else None.

    A light TOML scan: strings (basic, literal, multi-line) and comments are skipped; table
    headers ([a], [[a]]) open and close on their line and never get deep."""
    depth, line, i, size = 0, 1, 0, len(text)
    while i < size:
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = size if end < 0 else end
            continue
        elif char in "\"'":
            end = _string_end(text, i)
            line += text.count("\n", i, end)
            i = end
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _string_end(text: str, start: int) -> int:
    """The index just after the string starting at `start` (its end, if unterminated)."""
    quote = text[start]
    if text.startswith(quote * 3, start):
        end = text.find(quote * 3, start + 3)
        return len(text) if end < 0 else end + 3
    i = start + 1
    while i < len(text) and text[i] not in (quote, "\n"):
        i += 2 if quote == '"' and text[i] == "\\" else 1
    return min(i + 1, len(text))


def format_validation_error(path: Path, text: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [part for part in item["loc"] if not _is_union_tag(part)]
        where = _dotted(loc)
        line = locate(text, loc)
        place = f"{path}:{line}" if line else str(path)
        lines.append(f"{place}: {where or '(top level)'}: {_explain(item)}")
    return "\n".join(lines)


def _is_union_tag(part: Any) -> bool:
    return part in ("imap", "slack")


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(item: Any) -> str:
    kind, msg = item["type"], item["msg"]
    if kind == "extra_forbidden":
        return "unknown key — remove it or check its spelling against config.example.toml"
    if kind == "missing":
        return "required key is missing — add it (see config.example.toml)"
    if kind == "union_tag_invalid":
        return 'unknown account kind — use kind = "imap" or kind = "slack"'
    if kind in ("int_type", "float_type"):
        return 'not an integer or number — write it without quotes, e.g. 993 (not true, "993")'
    if kind == "bool_type":
        return "not true or false — write true or false without quotes"
    if kind == "union_tag_not_found":
        return 'the account has no kind — add kind = "imap" or kind = "slack"'
    return str(msg).removeprefix("Value error, ")


def locate(text: str, loc: list[Any]) -> int | None:
    """Best-effort line number of a key path like ['accounts', 1, 'imap_port'] in TOML text."""
    lines = text.splitlines()
    start, end, table, anchored = 0, len(lines), "", False
    for part in loc:
        if isinstance(part, int):
            start = _nth_array_table(lines, table, part, start)
            if start < 0:
                return None
            end = _section_end(lines, start)  # this element's keys, not the next one's
            anchored = True
            continue
        found = _key_line(lines, str(part), start, end)
        if found is None:
            return start + 1 if anchored else None
        start, table, anchored = found, (f"{table}.{part}" if table else str(part)), True
    return start + 1


def _nth_array_table(lines: list[str], table: str, index: int, start: int) -> int:
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
    hits = [i for i, line in enumerate(lines) if i >= start and header.match(line)]
    return hits[index] if index < len(hits) else -1


def _section_end(lines: list[str], header: int) -> int:
    """The line after the last of the table whose header is at `header`."""
    for i in range(header + 1, len(lines)):
        if re.match(r"^\s*\[", lines[i]):
            return i
    return len(lines)


def _key_line(lines: list[str], key: str, start: int, end: int) -> int | None:
    quoted = rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    pattern = re.compile(rf"^\s*(\[+\s*)?([\w.-]*\.)?{quoted}\s*(=|\]|\.)")
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i
    return None
