"""Make attacker-controlled text (mail, Slack) safe to show in a terminal.

Everything that reaches the screen from outside passes through here first. A terminal acts on
escape sequences wherever they appear, so one crafted subject could retitle the window, write
the agent's clipboard (OSC 52), draw a fake hyperlink (OSC 8) or reset the screen. We remove
such sequences whole rather than only their ESC byte, so their parameters don't show up as
litter either.

Plain ``str`` in, plain ``str`` out: this module knows nothing of Rich or Textual markup. Text
like ``[bold]`` is left exactly as written; the UI must render it with ``Text()``, never as
markup.
"""

from __future__ import annotations

import re

__all__ = ["clean_line", "clean_text"]

# Control-sequence syntax as the VT500 parser (and xterm) reads it. Each introducer has a
# 7-bit form (ESC + letter) and an 8-bit C1 form, and terminals honour both.
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
# OSC, DCS, SOS, PM and APC carry a string up to a terminator (BEL, ESC \ or 8-bit ST).
# An unterminated string is removed only to the end of its line: a terminal would swallow
# more, but once the introducer is gone the rest is inert, and a stray introducer must not
# hide the remainder of a message from the agent.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
# Every other escape: ESC, optional intermediates, one final byte (ESC c resets the
# terminal, ESC ( 0 switches to line-drawing glyphs, ESC 7/8 save and restore the cursor...).
_ESC_OTHER = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
# Remove a whole run of sequences per match: substitution costs per match, not per character.
_SEQUENCE_RUN = re.compile(f"(?:{_CSI}|{_STRING}|{_ESC_OTHER})++")
_INTRODUCERS = ("\x1b", "\x90", "\x98", "\x9b", "\x9d", "\x9e", "\x9f")

# What survives as a lone character and still must go: C0 except TAB and LF (CR is turned
# into LF first), DEL, C1 and surrogates. A surrogate in a Python str is always unpaired and
# can't be encoded for output, so it would crash the renderer rather than fool the terminal.
_CONTROL_CLASS = "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"
_CONTROL = re.compile(_CONTROL_CLASS)
_CONTROL_RUN = re.compile(_CONTROL_CLASS + "+")
_CONTROL_CODES = [
    *range(0x00, 0x09),
    *range(0x0B, 0x20),
    *range(0x7F, 0xA0),
    *range(0xD800, 0xE000),
]
_DELETE_CONTROLS = dict.fromkeys(_CONTROL_CODES)

# Bidi controls reorder what the agent sees (a subject can display as the reverse of what it
# is); zero-width characters make two different names look identical. In a one-line field
# neither carries meaning worth keeping.
_INVISIBLE_CODES = [0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), 0x2060]
_INVISIBLE_CODES += [*range(0x2066, 0x206A), 0xFEFF]
_INVISIBLE = re.compile("[" + "".join(map(chr, _INVISIBLE_CODES)) + "]+")
_DELETE_INVISIBLE = dict.fromkeys(_INVISIBLE_CODES)

# Removing matches one by one costs ~0.1-0.3 us each, so a hostile string that alternates
# text and junk for 10 MB would take seconds. After this many matches the rest is finished
# with str.translate, which is linear in length whatever the density (for sequences it then
# drops only their control characters: still safe, merely leaves parameter litter behind).
_MATCH_LIMIT = 100_000


def clean_text(s: str) -> str:
    """Return ``s`` without terminal escape sequences or control characters.

    Keeps ``\\n`` and ``\\t``; ``\\r\\n`` and lone ``\\r`` become ``\\n``. All printable
    Unicode is kept, including bidi controls (see ``clean_line`` for one-line fields).
    """
    # One scan tells whether there is any work at all; clean text (the common case) is
    # returned as is.
    if not _CONTROL.search(s):
        return s
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if any(c in s for c in _INTRODUCERS):
        s = _remove(_SEQUENCE_RUN, s, _DELETE_CONTROLS)
    return _remove(_CONTROL_RUN, s, _DELETE_CONTROLS)


def clean_line(s: str) -> str:
    """Return ``s`` fit for a one-line field such as a subject or a display name.

    ``clean_text`` plus: no newlines or tabs, whitespace runs collapsed to one space, no
    leading or trailing space, and no bidi controls or zero-width characters.
    """
    s = clean_text(s)
    if not s.isascii() and _INVISIBLE.search(s):
        s = _remove(_INVISIBLE, s, _DELETE_INVISIBLE)
    # str.split() splits on runs of Unicode whitespace and drops the ends, in C.
    return " ".join(s.split())


def _remove(pattern: re.Pattern[str], s: str, fallback: dict[int, None]) -> str:
    """Delete every match of ``pattern``, in bounded time however dense the matches are."""
    pieces = pattern.split(s, maxsplit=_MATCH_LIMIT)
    if len(pieces) > _MATCH_LIMIT:
        pieces[-1] = pieces[-1].translate(fallback)
    return "".join(pieces)
