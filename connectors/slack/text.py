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
from collections.abc import Callable, Sequence
from typing import Any

from connectors.slack.emoji import SKIN_TONES, glyph
from storage.models import AttachmentIn
from storage.sanitize import clean_line, clean_text

Lookup = Callable[[str], str | None]

_TOKEN = re.compile(r"<([^<>\n]*)>")
_EMOJI = re.compile(r":([a-z0-9_+'-]+):(?::skin-tone-([2-6]):)?")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: "&amp;lt;" is "&lt;"
_BROADCASTS = frozenset({"here", "channel", "everyone"})


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
    found = glyph(match.group(1))
    if found is None:
        return match.group(0)
    tone = match.group(2)
    return found + SKIN_TONES[tone] if tone else found


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
    if name == "subteam":  # <!subteam^S1|@support>; without a label, the group's id
        return label or f"@{command.partition('^')[2] or name}"
    return label or f"@{name}"


def _link(url: str, label: str) -> str:
    if url.startswith("mailto:"):
        address = url.removeprefix("mailto:")
        return address if label in ("", address) else f"{label} ({address})"
    if not label or label == url:
        return url
    return f"{label} ({url})"


# A file deleted after it was shared, or hidden by the workspace's plan, is listed with only
# its id and this mode: there is nothing to show or download.
# https://api.slack.com/types/file ("mode": "tombstone"; "hidden_by_limit" on free plans)
GONE_FILE_MODES = frozenset({"tombstone", "hidden_by_limit"})


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
        if isinstance(f, dict) and f.get("mode") not in GONE_FILE_MODES
    )


def _int(value: object) -> int:
    try:
        return max(0, int(str(value)))
    except ValueError:
        return 0


def message_text(msg: dict[str, Any], user_name: Lookup, channel_name: Lookup) -> str:
    """What a person reading the message in Slack sees, as plain text.

    `text`, or the blocks when a post has no text; then each legacy attachment: a forwarded or
    shared message with who wrote it and where, an integration's card (pretext, title, text,
    fields), its fallback when it has nothing else. https://api.slack.com/reference/messaging/attachments
    """
    body = render(str(msg.get("text") or ""), user_name, channel_name)
    if not body.strip():
        body = blocks_text(msg.get("blocks"), user_name, channel_name)
    parts = [body] if body.strip() else []
    for item in msg.get("attachments") or ():
        if isinstance(item, dict):
            shown = _attachment_text(item, user_name, channel_name)
            if shown:
                parts.append(shown)
    return clean_text("\n\n".join(parts))


def _attachment_text(item: dict[str, Any], user_name: Lookup, channel_name: Lookup) -> str:
    def mrkdwn(key: str) -> str:
        value = item.get(key)
        return render(str(value), user_name, channel_name).strip() if value else ""

    text = mrkdwn("text")
    if item.get("is_share") or item.get("is_msg_unfurl"):
        if not text:
            shared = [b.get("message", {}).get("blocks") for b in item.get("message_blocks") or ()]
            text = "\n".join(blocks_text(b, user_name, channel_name) for b in shared if b)
        return f"{_shared_from(item, user_name, channel_name)}\n{_quoted(text)}".rstrip()
    lines = [mrkdwn("pretext"), mrkdwn("author_name"), _title(item), text]
    for field in item.get("fields") or ():
        if isinstance(field, dict) and (field.get("title") or field.get("value")):
            title = clean_line(str(field.get("title") or ""))
            value = render(str(field.get("value") or ""), user_name, channel_name).strip()
            lines.append(f"{title}: {value}" if title else value)
    lines.append(mrkdwn("footer"))
    shown = "\n".join(line for line in lines if line)
    return shown or mrkdwn("fallback")


def _shared_from(item: dict[str, Any], user_name: Lookup, channel_name: Lookup) -> str:
    author_id = item.get("author_id")
    named = user_name(str(author_id)) if author_id else None
    author = clean_line(named or str(item.get("author_name") or item.get("author_subname") or ""))
    channel_id = item.get("channel_id")
    where = channel_name(str(channel_id)) if channel_id else None
    where = clean_line(where or str(item.get("channel_name") or ""))
    source = f" from {author}" if author else ""
    source += f" in #{where}" if where else ""
    return f"Forwarded message{source}:"


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _title(item: dict[str, Any]) -> str:
    title = clean_line(unescape(str(item.get("title") or "")))
    link = clean_line(str(item.get("title_link") or ""))
    if title and link:
        return f"{title} ({link})"
    return title


def blocks_text(blocks: object, user_name: Lookup, channel_name: Lookup) -> str:
    """The readable text of Block Kit blocks: rich text (what people type), sections,
    headers, context. https://api.slack.com/reference/block-kit/blocks"""
    if not isinstance(blocks, list):
        return ""
    out = [_block(b, user_name, channel_name) for b in blocks if isinstance(b, dict)]
    return "\n".join(part for part in out if part)


def _block(block: dict[str, Any], user_name: Lookup, channel_name: Lookup) -> str:
    kind = block.get("type")
    if kind == "rich_text":
        return "\n".join(_rich(e, user_name, channel_name) for e in block.get("elements") or ())
    if kind in ("section", "header"):
        texts = [block.get("text"), *(block.get("fields") or ())]
        return "\n".join(_text_object(t, user_name, channel_name) for t in texts if t)
    if kind == "context":
        parts = [_text_object(e, user_name, channel_name) for e in block.get("elements") or ()]
        return " ".join(p for p in parts if p)
    return ""


def _text_object(obj: object, user_name: Lookup, channel_name: Lookup) -> str:
    if not isinstance(obj, dict) or obj.get("type") not in ("mrkdwn", "plain_text"):
        return ""
    text = str(obj.get("text") or "")
    return render(text, user_name, channel_name) if obj["type"] == "mrkdwn" else clean_text(text)


def _rich(element: object, user_name: Lookup, channel_name: Lookup) -> str:
    """A rich_text container (section, quote, preformatted, list) as lines of text."""
    if not isinstance(element, dict):
        return ""
    inner = "".join(_leaf(e, user_name, channel_name) for e in element.get("elements") or ())
    kind = element.get("type")
    if kind == "rich_text_quote":
        return _quoted(inner)
    if kind == "rich_text_list":
        items = [_rich(e, user_name, channel_name) for e in element.get("elements") or ()]
        return "\n".join(f"• {item}" for item in items)
    return inner


def _unicode(code: object) -> str:
    """A rich-text emoji's `unicode` ("1f44d", "1f469-200d-1f4bb") as its characters."""
    try:
        return "".join(chr(int(part, 16)) for part in str(code or "").split("-") if part)
    except ValueError:
        return ""


def _leaf(leaf: object, user_name: Lookup, channel_name: Lookup) -> str:
    if not isinstance(leaf, dict):
        return ""
    kind = leaf.get("type")
    if kind == "text":
        return str(leaf.get("text") or "")
    if kind == "link":
        return _link(str(leaf.get("url") or ""), clean_line(str(leaf.get("text") or "")))
    if kind == "user":
        user_id = str(leaf.get("user_id") or "")
        return f"@{clean_line(user_name(user_id) or user_id)}"
    if kind == "channel":
        channel_id = str(leaf.get("channel_id") or "")
        return f"#{clean_line(channel_name(channel_id) or channel_id)}"
    if kind == "emoji":
        name = str(leaf.get("name") or "")
        return glyph(name) or _unicode(leaf.get("unicode")) or f":{name}:"
    if kind == "broadcast":
        return f"@{leaf.get('range') or 'here'}"
    if kind == "usergroup":
        return f"@{leaf.get('usergroup_id') or 'group'}"
    if kind in ("rich_text_section", "rich_text_preformatted", "rich_text_quote"):
        return _rich(leaf, user_name, channel_name)
    return ""


# Slack truncates `text` past 40,000 characters and recommends at most 4,000 per message
# (https://api.slack.com/methods/chat.postMessage#truncating).
POST_LIMIT = 4_000
REPLY_LIMIT = 40_000


class ReplyTooLong(ValueError):
    """A reply Slack would cut: refused whole, never posted in part."""


def split_reply(text: str, limit: int = POST_LIMIT, refuse_over: int = REPLY_LIMIT) -> list[str]:
    """A reply as the posts to make, in order, each at most `limit` characters once escaped
    for Slack: cut between paragraphs, else between lines, else between words, else anywhere.
    Joined with blank lines the parts read as the reply. Raises ReplyTooLong past
    `refuse_over` escaped characters."""
    text = text.strip()
    if len(escape(text)) > refuse_over:
        raise ReplyTooLong(
            f"the reply is {len(escape(text)):,} characters; Slack takes at most {refuse_over:,}"
        )
    if len(escape(text)) <= limit:
        return [text] if text else []
    return _pack(_pieces(text, "\n\n", limit), "\n\n", limit)


_FINER = {"\n\n": "\n", "\n": " ", " ": ""}


def _pieces(text: str, separator: str, limit: int) -> list[str]:
    """`text` cut at `separator` into pieces that each fit, cut finer where one does not."""
    out: list[str] = []
    for piece in text.split(separator):
        piece = piece.strip()
        if not piece:
            continue
        if len(escape(piece)) <= limit:
            out.append(piece)
        elif _FINER[separator]:
            finer = _FINER[separator]
            out += _pack(_pieces(piece, finer, limit), finer, limit)
        else:  # one word longer than a post: cut it anywhere
            out += _pack(list(piece), "", limit)
    return out


def _pack(pieces: list[str], joiner: str, limit: int) -> list[str]:
    """Consecutive pieces joined while they fit (escaping is per character, so lengths add)."""
    packed: list[str] = []
    sizes: list[int] = []
    for piece in pieces:
        size = len(escape(piece))
        if packed and sizes[-1] + len(joiner) + size <= limit:
            packed[-1] += joiner + piece
            sizes[-1] += len(joiner) + size
        else:
            packed.append(piece)
            sizes.append(size)
    return packed
