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
_STRING = r"(?:\x1b[\]P X^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
# Every other escape: ESC, optional intermediates, one final byte (ESC c resets the
# terminal, ESC ( 0 switches to line-drawing glyphs, ESC 7/8 save and restore the cursor...).
_ESC_OTHER = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCE = re.compile(f"{_CSI}|{_STRING}|{_ESC_OTHER}")

# What survives the sequences and still must go: C0 except TAB and LF (CR is handled before),
# DEL, C1 and surrogates. A surrogate in a Python str is always unpaired and can't be encoded
# for output, so it would crash the renderer rather than attack the terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# One cheap scan tells us whether the input needs any work at all (the common case: no).
_NEEDS_WORK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# Bidi controls reorder what the agent sees (a subject can display as the reverse of what it
# is); zero-width characters make two different names look identical. In a one-line field
# neither carries meaning worth keeping.
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_WHITESPACE_RUN = re.compile(r"\s+")


def clean_text(s: str) -> str:
    """Return ``s`` without terminal escape sequences or control characters.

    Keeps ``\\n`` and ``\\t``; ``\\r\\n`` and lone ``\\r`` become ``\\n``. All printable
    Unicode is kept, including bidi controls (see ``clean_line`` for one-line fields).
    """
    if not _NEEDS_WORK.search(s):
        return s
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in s or _has_c1_introducer(s):
        s = _SEQUENCE.sub("", s)
    return _CONTROL.sub("", s)


def clean_line(s: str) -> str:
    """Return ``s`` fit for a one-line field such as a subject or a display name.

    ``clean_text`` plus: no newlines or tabs, whitespace runs collapsed to one space, no
    leading or trailing space, and no bidi controls or zero-width characters.
    """
    s = _INVISIBLE.sub("", clean_text(s))
    return _WHITESPACE_RUN.sub(" ", s).strip()


def _has_c1_introducer(s: str) -> bool:
    # str.find is far cheaper than running the sequence regex over a large clean text.
    return any(c in s for c in "\x90\x98\x9b\x9d\x9e\x9f")
