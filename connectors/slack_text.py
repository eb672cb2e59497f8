"""Slack's message markup as plain, readable, terminal-safe text.

Slack escapes `&`, `<` and `>` in what people type and writes its own markup between angle
brackets: `<@U123>` mentions, `<#C1|name>` channels, `<https://x|label>` links, `<!here>`.
We cut the text into those tokens *before* unescaping, so text a person typed as "<@U1>"
(sent to us as "&lt;@U1&gt;") stays text and never becomes a mention.

Everything here is attacker-controlled: a token's label is whatever the sender wrote. A user
mention always shows the name we resolved (never its label, which could say "admin"), and a
link always shows its real target next to its label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from storage.models import AttachmentIn
from storage.sanitize import clean_line, clean_text

Lookup = Callable[[str], str | None]

_TOKEN = re.compile(r"<([^<>\n]*)>")
_EMOJI = re.compile(r":([a-z0-9_+'-]+):(?::skin-tone-([2-6]):)?")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: "&amp;lt;" is "&lt;"
_BROADCASTS = frozenset({"here", "channel", "everyone"})

# The codes people use most in support chats; unknown codes are left as typed.
EMOJI: Mapping[str, str] = {
    "smile": "😄",
    "smiley": "😃",
    "grinning": "😀",
    "laughing": "😆",
    "joy": "😂",
    "sweat_smile": "😅",
    "blush": "😊",
    "slightly_smiling_face": "🙂",
    "wink": "😉",
    "heart_eyes": "😍",
    "thinking_face": "🤔",
    "neutral_face": "😐",
    "confused": "😕",
    "slightly_frowning_face": "🙁",
    "disappointed": "😞",
    "cry": "😢",
    "sob": "😭",
    "rage": "😡",
    "see_no_evil": "🙈",
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "ok_hand": "👌",
    "clap": "👏",
    "wave": "👋",
    "pray": "🙏",
    "raised_hands": "🙌",
    "muscle": "💪",
    "point_right": "👉",
    "eyes": "👀",
    "heart": "❤️",
    "tada": "🎉",
    "fire": "🔥",
    "rocket": "🚀",
    "sparkles": "✨",
    "star": "⭐",
    "100": "💯",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "x": "❌",
    "warning": "⚠️",
    "question": "❓",
    "exclamation": "❗",
    "bug": "🐛",
    "bulb": "💡",
    "zap": "⚡",
    "boom": "💥",
    "hourglass": "⌛",
    "memo": "📝",
    "email": "📧",
    "phone": "📞",
    "calendar": "📅",
    "package": "📦",
    "lock": "🔒",
    "key": "🔑",
    "credit_card": "💳",
    "coffee": "☕",
}
_SKIN_TONES = {str(n): chr(0x1F3FB + n - 2) for n in range(2, 7)}


def render(text: str, user_name: Lookup, channel_name: Lookup = lambda _: None) -> str:
    """Slack markup as the plain text a person reading Slack would see; terminal-safe."""
    pieces = _TOKEN.split(text)
    # split() alternates: plain text at even indexes, token bodies at odd ones.
    out = [
        _token(piece, user_name, channel_name) if i % 2 else _plain(piece)
        for i, piece in enumerate(pieces)
    ]
    return clean_text("".join(out))


def unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def escape(text: str) -> str:
    """Plain text as Slack expects it in `text` (only these three are escaped)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    text = unescape(text)
    return _EMOJI.sub(_emoji, text) if ":" in text else text


def _emoji(match: re.Match[str]) -> str:
    glyph = EMOJI.get(match.group(1))
    if glyph is None:
        return match.group(0)
    tone = match.group(2)
    return glyph + _SKIN_TONES[tone] if tone else glyph


def _token(body: str, user_name: Lookup, channel_name: Lookup) -> str:
    target, _, label = body.partition("|")
    label = clean_line(unescape(label))
    if target.startswith("@"):
        user_id = target[1:]
        return f"@{clean_line(user_name(user_id) or user_id)}"
    if target.startswith("#"):
        channel_id = target[1:]
        return f"#{clean_line(channel_name(channel_id) or label or channel_id)}"
    if target.startswith("!"):
        return _special(target[1:], label)
    return _link(unescape(target), label)


def _special(command: str, label: str) -> str:
    name = command.partition("^")[0]
    if name in _BROADCASTS:
        return f"@{name}"
    if name == "date":  # <!date^1392734382^{date} at {time}|Feb 18, 2014 at 6:39 AM>
        return label or "(a date)"
    return label or f"@{name}"  # <!subteam^S1|@support>


def _link(url: str, label: str) -> str:
    if url.startswith("mailto:"):
        address = url.removeprefix("mailto:")
        return address if label in ("", address) else f"{label} ({address})"
    if not label or label == url:
        return url
    return f"{label} ({url})"


def attachments(files: Sequence[dict[str, Any]]) -> tuple[AttachmentIn, ...]:
    """Files shared with a message, as the store lists them (the bytes stay on Slack)."""
    return tuple(
        AttachmentIn(
            filename=clean_line(str(f.get("name") or f.get("title") or "file")),
            content_type=clean_line(str(f.get("mimetype") or "application/octet-stream")),
            size=_int(f.get("size")),
            remote_ref=str(f["id"]) if f.get("id") else None,
        )
        for f in files
        if isinstance(f, dict)
    )


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def message_text(msg: dict[str, Any], user_name: Lookup, channel_name: Lookup) -> str:
    """What a person reading the message in Slack sees, as plain text."""
    return render(str(msg.get("text") or ""), user_name, channel_name)
