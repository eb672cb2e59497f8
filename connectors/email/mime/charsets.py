"""Bytes to text: the declared charset, and when it lies, damage kept local (one U+FFFD
per bad sequence) or a guess for text that is plainly not Latin."""

from __future__ import annotations

import codecs
import functools
import re

from connectors.email.mime.model import _Notes

# Names mailers use that Python doesn't know, or knows as a narrower charset than the one
# actually meant (WHATWG practice: "iso-8859-1" mail is really windows-1252, and so on).
_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "x-mac-roman": "mac-roman",
    "x-user-defined": "cp1252",
    "unicode-1-1-utf-7": "utf-7",
}
_SUPERSETS = {
    "ascii": "utf-8",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "big5": "cp950",
}
# "No idea" labels: treated as if nothing were declared.
_UNDECLARED = frozenset(("unknown-8bit", "x-unknown", "unknown", "8bit", "default", ""))
# Text codecs no mail uses that would let a sender pick odd decoding (punycode is also
# quadratic in Python: a cheap way to burn a worker's CPU).
_REFUSED = frozenset(("idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined"))
_LATIN = frozenset(("cp1252", "cp1254"))


@functools.lru_cache(maxsize=512)
def _codec(charset: str) -> str | None:
    """Python codec for a declared charset, or None if unknown or refused."""
    try:
        info = codecs.lookup(_CHARSET_ALIASES.get(charset, charset))
    except (LookupError, ValueError):  # ValueError: NUL in the name
        return None
    if not info._is_text_encoding or info.name in _REFUSED:
        return None  # base64, zlib, rot13...: codecs, but not charsets
    return _SUPERSETS.get(info.name, info.name)


def _decode_bytes(data: bytes, declared: str | None, where: str, notes: _Notes) -> str:
    """Decode with the declared charset, falling back (and saying so) when it lies.

    Damage costs locally: text that is UTF-8 but for a few bad bytes keeps its UTF-8 and
    shows one U+FFFD per bad sequence; only text that is not UTF-8 at all is read as a
    legacy charset.
    """
    label = (declared or "").strip().strip("\"'").lower()
    if label in _UNDECLARED:
        return _decode_undeclared(data, where, notes)
    codec = _codec(label) if len(label) <= 64 else None
    if codec is None:
        return _decode_unknown(data, label, where, notes)
    try:
        text = data.decode(codec)
    except UnicodeError:
        return _decode_fallback(data, codec, label, where, notes)
    if codec in _LATIN and not data.isascii():
        return _prefer_utf8(data, text, label, where, notes)
    return text


_HIGH_BYTES = bytes(range(0x80, 0x100))
_REPLACEMENT_UTF8 = "\ufffd".encode()


def _damaged_utf8(data: bytes) -> tuple[str, int] | None:
    """(text, bad sequences) if ``data`` is UTF-8 with a few bad bytes, else None.

    Each bad sequence becomes one U+FFFD (Python's "replace" follows WHATWG). It counts as
    UTF-8 when its valid multibyte characters are at least as many as its bad sequences:
    latin-1 or cp1251 text read as UTF-8 is nearly all bad sequences, hardly ever a valid
    one ("caf\\xe9" alone stays latin-1).
    """
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)
    ascii_count = len(data.translate(None, _HIGH_BYTES))
    valid = len(text) - ascii_count - bad  # non-ASCII characters decoded cleanly
    return (text, bad) if valid >= bad > 0 else None


def _legacy(data: bytes, where: str, notes: _Notes, why: str) -> str:
    """Text that is not UTF-8: windows-1252, unless it plainly is another script."""
    text = data.decode("cp1252", "replace")
    guess = None if _looks_latin(text) else _guess_charset(data)
    if guess is None:
        notes.add(f"{where}: {why}: decoded as windows-1252")
        return text
    notes.add(f"{where}: {why}: decoded as {guess} (guessed)")
    return data.decode(guess, "replace")


_LONG_WORD = re.compile(r"\w{4,}")
# What the guesser may answer: the legacy charsets mail actually uses. Left free, it names
# cp1006 or hp_roman8 for short texts.
_GUESSABLE = [
    *("cp1252", "cp1250", "cp1251", "koi8_r", "koi8_u", "cp1253", "cp1254", "cp1255"),
    *("cp1256", "cp1257", "cp874", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr"),
]
GUESS_SAMPLE = 8_192  # bytes the charset guesser looks at
GUESS_MIN_CHARS = 16  # fewer non-ASCII characters than this: windows-1252, no guess


def _looks_latin(text: str) -> bool:
    """Whether windows-1252 text reads like a Latin script, judged on its first 8k chars.

    Few non-ASCII characters at all: assumed Latin (a guess needs more to go on).
    Latin text has few non-ASCII letters, and they sit inside mostly-ASCII words ("Grüße");
    Cyrillic or CJK bytes read as windows-1252 give words made of accented letters and
    symbols ("Çäðàâñòâóéòå").
    """
    sample = text[:GUESS_SAMPLE]
    letters = sum(1 for c in sample if c.isalpha())
    high = sum(1 for c in sample if c > "\x7f")
    if high < GUESS_MIN_CHARS:  # too little to tell a script by
        return True
    if high * 10 > letters * 3:
        return False
    words = [w for w in _LONG_WORD.findall(sample) if not w.isascii()]
    odd = sum(1 for w in words if 2 * sum(1 for c in w if c > "\x7f") > len(w))
    return odd * 5 < len(words) or not words


def _guess_charset(data: bytes) -> str | None:
    """charset-normalizer's guess among the legacy mail charsets, or None."""
    import charset_normalizer  # imported late: only undeclared non-UTF-8 text needs it

    best = charset_normalizer.from_bytes(data[:GUESS_SAMPLE], cp_isolation=_GUESSABLE).best()
    return None if best is None else str(best.encoding)


def _utf8_or_legacy(data: bytes, where: str, notes: _Notes, why: str, *, guess: bool = True) -> str:
    """Damaged UTF-8 with its bad bytes replaced, else a legacy charset (guessed if asked)."""
    damaged = _damaged_utf8(data)
    if damaged is not None:
        text, bad = damaged
        notes.add(f"{where}: damaged UTF-8 text: {bad} bad byte sequence(s) replaced")
        return text
    if not guess:  # too short to guess from (a header): windows-1252
        notes.add(f"{where}: {why}: decoded as windows-1252")
        return data.decode("cp1252", "replace")
    return _legacy(data, where, notes, why)


def _decode_undeclared(data: bytes, where: str, notes: _Notes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _utf8_or_legacy(data, where, notes, "no charset declared and not UTF-8")


def _decode_unknown(data: bytes, label: str, where: str, notes: _Notes) -> str:
    if data.isascii():  # the charset can't matter
        return data.decode("ascii")
    try:
        text = data.decode("utf-8")
        notes.add(f"unknown charset {label[:40]} in {where}: decoded as UTF-8")
        return text
    except UnicodeDecodeError:
        why = f"unknown charset {label[:40]} and not UTF-8"
        return _utf8_or_legacy(data, where, notes, why)


def _decode_fallback(data: bytes, codec: str, label: str, where: str, notes: _Notes) -> str:
    label = label[:40]
    if codec == "utf-8":
        # Either a few damaged bytes in UTF-8 text, or the classic lie: "utf-8" (or
        # "us-ascii") on a windows-1252 / latin-1 body.
        return _utf8_or_legacy(data, where, notes, f"declared {label} but is not")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _undo_double_encoding(text, codec, label, where, notes)
    # A multibyte charset with a few bad bytes: keep the charset, mark the damage locally.
    notes.add(f"{where}: damaged {label} text: bad bytes replaced")
    return data.decode(codec, "replace")


def _undo_double_encoding(text: str, codec: str, label: str, where: str, notes: _Notes) -> str:
    """UTF-8 text in a part labelled otherwise; maybe the labelled bytes encoded twice.

    A gateway that read big5 bytes as latin-1 and wrote them out as UTF-8 leaves text such
    as "³nÅé": encoded back to latin-1, those bytes are the big5 the label promised.
    """
    if max(text, default="\0") <= "\xff" and not text.isascii():
        try:
            repaired = text.encode("latin-1").decode(codec)
        except UnicodeError:
            pass
        else:
            notes.add(f"{where}: {label} text encoded twice (as UTF-8): repaired")
            return repaired
    notes.add(f"{where}: declared {label} but is UTF-8: decoded as UTF-8")
    return text


def _prefer_utf8(data: bytes, text: str, label: str, where: str, notes: _Notes) -> str:
    # Latin-1 labels never fail to decode, so a UTF-8 body labelled latin-1 would show as
    # mojibake ("Ã©"). Real latin-1 text is almost never valid UTF-8, so trust UTF-8.
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        return text
    notes.add(f"{where}: declared {label[:40]} but is UTF-8: decoded as UTF-8")
    return utf8
