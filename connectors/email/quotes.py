"""Where quoted reply text or a signature begins, for folding (not parsing: it reads the text
the parser produced; connectors.email.mime calls it once per message)."""

from __future__ import annotations

import re

QUOTE_SCAN_LINES = 10_000  # lines examined for the start of a quote
_SIGNATURE = frozenset(("-- ", "--"))
# "On <date>, <name> wrote:" and its common translations. A digit or "@" must appear, so a
# customer's own "On Monday the system wrote:" followed by an error message is not folded.
_ATTRIBUTION = re.compile(
    r"\s*(?:On|Am|Le|El|Il|Op|Den|W dniu)\s.{1,250}?"
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|napisał)\s?.{0,80}?:\s*"
)
_ATTRIBUTION_START = re.compile(r"\s*(?:On|Am|Le|El|Il|Op|Den|W dniu)\s")
_OUTLOOK_FROM = re.compile(r"\s*\**(?:From|Von|De|Van|Från|Fra|Da|Od)\s?:\**\s")
_OUTLOOK_SENT = re.compile(
    r"\s*\**(?:Sent|Date|Gesendet|Datum|Envoyé|Verzonden|Skickat|Sendt|Inviato|Enviado|Wysłano)"
    r"\s?:\**\s"
)
_ORIGINAL = re.compile(
    r"\s*-{3,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Oorspronkelijk bericht|Mensaje original|Messaggio originale|Originalmeddelande)\s*-{3,}\s*",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"\s*(?:-{3,}\s*Forwarded message|Begin forwarded message:)", re.I)
_FORWARD_LINE = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*Forwarded message|Begin forwarded message:)", re.I | re.M
)
_UNDERSCORES = re.compile(r"\s*_{20,}\s*")
# Cheap first look: only lines starting like a marker (or ending in ":") get the full tests.
_CANDIDATE = re.compile(
    r"\s*(?:[>_*-]|On\s|Am\s|Le\s|El\s|Il\s|Op\s|Den\s|W\s|[A-ZÅ][a-zå]{1,3}\s?:)"
)


def find_quote_offset(text: str) -> int | None:
    """Offset in ``text`` where quoted reply text or a signature begins, or None.

    Folds: a signature ("-- "), "-----Original Message-----", an Outlook "From:/Sent:" block,
    an "On ... wrote:" attribution, and a trailing block of ">" lines. A ">" block with new
    text after it (an interleaved reply) is not folded; neither is a forwarded message,
    whose content is what the customer wants us to read, nor anything above one (a
    signature above the messages a customer attached).
    """
    # Only the first lines are examined one by one (Python speed); the rest is summarised
    # by two regex searches, so a 2 MB body of one-character lines costs milliseconds.
    lines = text.split("\n", QUOTE_SCAN_LINES)
    rest = lines.pop() if len(lines) > QUOTE_SCAN_LINES else None
    tail = _quoted_tail(lines, rest)
    offset = 0
    for index, line in enumerate(lines):
        if _CANDIDATE.match(line):
            if _FORWARD.match(line):
                return None
            if _starts_fold(lines, index, tail):
                # A fold runs to the end: one starting above a forward would hide it.
                return None if _FORWARD_LINE.search(text, offset) else offset
        offset += len(line) + 1
    return None


def _quoted_tail(lines: list[str], rest: str | None) -> list[bool]:
    """tail[i]: from line i on there are only quoted or blank lines (or a signature)."""
    tail = [True] * (len(lines) + 1)
    tail[-1] = rest is None or _only_quoted(rest)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line in _SIGNATURE:
            tail[index] = True
        elif line.startswith(">") or not line.strip():
            tail[index] = tail[index + 1]
        else:
            tail[index] = False
    return tail


_NEW_TEXT_LINE = re.compile(r"^(?!>)(?!-- ?$)[^\n]*\S", re.MULTILINE)
_SIGNATURE_LINE = re.compile(r"^-- ?$", re.MULTILINE)


def _only_quoted(text: str) -> bool:
    """Whether ``text`` has no new (unquoted, non-blank) line before any signature."""
    new = _NEW_TEXT_LINE.search(text)
    return new is None or _SIGNATURE_LINE.search(text, 0, new.start()) is not None


def _starts_fold(lines: list[str], index: int, tail: list[bool]) -> bool:
    line = lines[index]
    if line in _SIGNATURE or _ORIGINAL.fullmatch(line):
        return True
    if line.startswith(">"):
        return tail[index]
    if _OUTLOOK_FROM.match(line):
        return _is_outlook_block(lines, index)
    if _UNDERSCORES.fullmatch(line):
        following = _next_nonblank(lines, index + 1)
        return following is not None and _is_outlook_block(lines, following)
    return _is_attribution(lines, index, tail)


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_SENT.match(line) for line in lines[index + 1 : index + 5])


def _is_attribution(lines: list[str], index: int, tail: list[bool]) -> bool:
    line = lines[index]
    if len(line) > 400 or not _ATTRIBUTION_START.match(line):
        return False
    end = index
    if not _ATTRIBUTION.fullmatch(line):
        # Long attributions are often wrapped onto a second line.
        next_line = lines[index + 1][:400] if index + 1 < len(lines) else ""
        joined = f"{line} {next_line}"
        if not _ATTRIBUTION.fullmatch(joined):
            return False
        end = index + 1
    attribution = " ".join(lines[index : end + 1])
    if not any(c.isdigit() or c == "@" for c in attribution):
        return False
    following = _next_nonblank(lines, end + 1)
    # Quoted with ">": fold only if nothing new follows (else it's an interleaved reply).
    if following is not None and lines[following].startswith(">"):
        return tail[following]
    return True


def _next_nonblank(lines: list[str], start: int) -> int | None:
    for index in range(start, min(len(lines), start + 50)):
        if lines[index].strip():
            return index
    return None
