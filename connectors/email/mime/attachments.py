"""Attachments: what a part is called (Content-Disposition filename, Content-Type name, RFC
2231 and RFC 2047 decoded, made safe to save) and the record the store keeps of it."""

from __future__ import annotations

import email.utils
import mimetypes

from connectors.email.mime.charsets import _decode_bytes
from connectors.email.mime.headers import _decode_header, _raw_8bit
from connectors.email.mime.model import _MAX_ID_LENGTH, Attachment, _Notes
from connectors.email.mime.structure import _Part, _raw_header
from storage.sanitize import clean_line


def _where(path: str) -> str:
    return f"part {path}" if path else "message body"


def _disposition(part: _Part) -> str:
    value = _raw_header(part, "content-disposition")
    return value.split(";", 1)[0].strip().lower() if value is not None else ""


def _attachment(part: _Part, section: str, name: str, size: int) -> Attachment:
    raw_id = _raw_header(part, "content-id") or ""
    content_id = clean_line(raw_id).strip("<> ")[:_MAX_ID_LENGTH]
    return Attachment(
        filename=name,
        content_type=clean_line(part.get_content_type())[:255],
        size=size,
        content_id=content_id or None,
        inline=_disposition(part) == "inline",
        part=section,
    )


def _filename(part: _Part, path: str, notes: _Notes) -> str:
    """The file name from Content-Disposition (filename) or Content-Type (name), decoded."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = _raw_header(part, header)
        if value is None or param not in value.lower():
            continue
        try:
            raw = _param_text(part, value, header, param, _where(path), notes)
        except (ValueError, IndexError, TypeError, LookupError, UnicodeError):
            notes.add(f"{_where(path)}: malformed file name")
            return ""
        if raw:
            return _safe_filename(raw, path, notes)
    return ""


def _param_text(
    part: _Part, value: str, header: str, param: str, where: str, notes: _Notes
) -> str | None:
    """One parameter of a header, raw 8-bit bytes and RFC 2231 (name*=) decoded by our rules.

    compat32 replaces raw 8-bit bytes with U+FFFD before parsing parameters, and decodes RFC
    2231 bytes with the declared charset or nothing; so the value is decoded first, then
    parsed, then the RFC 2231 bytes decoded like any text.
    """
    holder = part
    if not value.isascii():
        holder = _Part()
        holder[header] = _raw_8bit(value, f"{header} of {where}", notes)
    got = holder.get_param(param, None, header)
    if got is None or isinstance(got, str):
        return email.utils.collapse_rfc2231_value(got).strip() if got else got
    charset, _language, text = got  # RFC 2231: the bytes arrive as a latin-1 str
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # raw 8-bit text inside an RFC 2231 value, already decoded
        return text.strip()
    return _decode_bytes(data, charset, f"file name in {where}", notes).strip()


def _attachment_name(part: _Part, path: str, notes: _Notes) -> str:
    name = _filename(part, path, notes)
    if name:
        return name
    extension = mimetypes.guess_extension(part.get_content_type(), strict=False) or ""
    return f"part-{path or '1'}{extension}"


def _safe_filename(raw: str, path: str, notes: _Notes) -> str:
    # Many mailers put RFC 2047 words in filename="..." although RFC 2231 is the rule.
    name = clean_line(_decode_header(raw, f"filename of {_where(path)}", notes))
    # A name is only a name: "../../.bashrc" must not steer a later "save attachment".
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "" if name in ("", ".", "..") else name[:255]
