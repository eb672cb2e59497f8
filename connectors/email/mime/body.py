"""The body walker: text parts, the first HTML part, attachments, forwarded messages shown
inline, bounce summaries and notices for encrypted mail."""

from __future__ import annotations

import email
import email.errors
import email.parser
import email.utils
import re
from typing import TypeAlias

from connectors.email.mime.attachments import (
    _attachment,
    _attachment_name,
    _disposition,
    _filename,
    _safe_filename,
    _where,
)
from connectors.email.mime.charsets import _decode_bytes
from connectors.email.mime.forwarded import refold_headers
from connectors.email.mime.headers import _decode_header, _read_headers
from connectors.email.mime.html import _html_to_text
from connectors.email.mime.model import (
    HEADER_LIMIT,
    HTML_LIMIT,
    MAX_DEPTH,
    MAX_PARTS,
    TEXT_LIMIT,
    Address,
    Attachment,
    _Body,
    _Head,
    _internal_error,
    _Notes,
)
from connectors.email.mime.structure import (
    _boundary_bytes,
    _parse_entity,
    _Part,
    _raw_header,
    _split_multipart,
    _transfer_decode,
)
from storage.sanitize import clean_line, clean_text

_BODY_TYPES = frozenset(("text/plain", "text/html"))
# Header-block defects compat32 reports that the agent should know about.
_DEFECT_NOTES: tuple[tuple[type[email.errors.MessageDefect], str], ...] = (
    (email.errors.MissingHeaderBodySeparatorDefect, "malformed header lines read as body"),
    (email.errors.FirstHeaderLineIsContinuationDefect, "malformed first header line"),
)
# A boundary line followed by a part header: used to recover from a wrong declared boundary.
_BOUNDARY_LINE = re.compile(rb"^--([^\s-][^\r\n]{0,69}?)[ \t]*\r?\n(?i:content-)", re.MULTILINE)

_Task: TypeAlias = (
    "tuple[_Part, str, int, bool]"  # part, path ("" = root, else "1.2"), depth, want text
)


class _BodyReader:
    """Walks the MIME tree once, collecting text, the first HTML part and attachments."""

    def __init__(self, notes: _Notes, prefix: str = "", parts: int = 1, level: int = 0) -> None:
        self.notes = notes
        self.level = level  # forwarded messages this one is inside
        self.prefix = prefix  # IMAP section of the message/rfc822 part being read, or ""
        self.texts: list[str] = []
        self.text_len = 0
        self.truncated = False
        self.html: str | None = None
        self.html_used = False
        self.attachments: list[Attachment] = []
        self.summaries: list[str] = []  # delivery-status summaries, shown before the text
        self.parts = parts  # entities parsed so far, the root included

    def walk(self, root: _Part, depth: int = 0) -> None:
        # An explicit stack, not recursion: nesting depth is chosen by the sender.
        stack: list[_Task] = [(root, "", depth, True)]
        while stack:
            part, path, depth, want_text = stack.pop()
            self._read_guarded(part, path, depth, want_text, stack)

    def _read_guarded(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        try:
            self._read_part(part, path, depth, want, stack)
        except Exception as exc:  # last resort: one unreadable part must not lose the rest
            self.notes.add(_internal_error(self._where(path), exc))
        self._note_defects(part, path)

    def _read_part(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        ctype = part.get_content_type()
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart":
            self._split_children(part, ctype, path, depth, want, stack)
        elif maintype == "message":
            self._add_message_part(part, ctype, path, depth, want)
        elif ctype in _BODY_TYPES and not _is_attachment(part, is_root=not path):
            self._add_body_part(part, ctype, path, want)
        else:
            self._add_attachment(part, path)
            if want and ctype in _PKCS7_TYPES:
                self._append_text(_smime_notice(part))
            elif want and ctype == "text/rfc822-headers":  # a bounce returning headers only
                returned = _parse_entity(self._payload_bytes(part, path))
                head = _read_headers(returned, _Notes())
                self._append_text(_quoted_message("Returned message headers", returned, head, ""))

    def _where(self, path: str) -> str:
        """A part as the agent's problem notes name it; inside a forward, by IMAP section."""
        if not self.prefix:
            return _where(path)
        return f"part {self.prefix}.{path}" if path else f"forwarded message (part {self.prefix})"

    def _section(self, path: str) -> str:
        """IMAP section of a part ("2.1"); a single-part message's body is section 1."""
        if self.prefix:
            return f"{self.prefix}.{path or 1}"
        return path or "1"

    def _split_children(
        self, part: _Part, ctype: str, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        if depth >= MAX_DEPTH:
            self.notes.add(f"multipart nesting deeper than {MAX_DEPTH} levels: inner parts skipped")
            return
        boundary = _boundary_bytes(part)
        split = _split_multipart(part.raw_body, boundary) if boundary else None
        if split is None:
            self._recover_multipart(part, path, depth, want, stack)
            return
        texts, closed = split
        if ctype == "multipart/encrypted":
            self.notes.add("encrypted message: the content cannot be shown")
            if want:  # its parts are a version stamp and a blob: nothing to read
                self._append_text(_encrypted_notice(part))
                want = False
        if not closed:
            self.notes.add(f"{self._where(path)}: closing MIME boundary missing (cut off?)")
        self._push_children(texts, ctype, path, depth, want, stack)

    def _push_children(
        self, texts: list[bytes], ctype: str, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        # One budget for the whole tree: 50 levels of 1,000 parts each must not mean 50,000.
        room = MAX_PARTS - self.parts
        if len(texts) > room:
            self.notes.add(f"more than {MAX_PARTS} MIME parts: the rest skipped")
            texts = texts[: max(room, 0)]
        self.parts += len(texts)
        children = [_parse_entity(text) for text in texts]
        for child in children:
            child.parent_type = ctype
        if ctype == "multipart/digest":  # RFC 2046 §5.1.5: parts default to messages
            for child in children:
                child.set_default_type("message/rfc822")
        chosen = _preferred_alternative(children) if ctype == "multipart/alternative" else None
        # Pushed in reverse so they pop in document order.
        for index in range(len(children) - 1, -1, -1):
            child_want = want and (chosen is None or index == chosen)
            child_path = f"{path}.{index + 1}" if path else str(index + 1)
            stack.append((children[index], child_path, depth + 1, child_want))

    def _recover_multipart(
        self, part: _Part, path: str, depth: int, want: bool, stack: list[_Task]
    ) -> None:
        """A multipart whose boundary is missing or wrong: look for the one actually used."""
        found = _BOUNDARY_LINE.search(part.raw_body, 0, 65_536)
        split = _split_multipart(part.raw_body, found.group(1)) if found else None
        if split is not None:
            self.notes.add(
                f"{self._where(path)}: declared MIME boundary not found: parts recovered"
            )
            self._push_children(split[0], part.get_content_type(), path, depth, want, stack)
        elif want:
            self.notes.add(
                f"{self._where(path)}: MIME boundary missing or wrong: shown as raw text"
            )
            self._append_text(_decode_bytes(part.raw_body, None, self._where(path), self.notes))

    def _add_body_part(self, part: _Part, ctype: str, path: str, want: bool) -> None:
        is_html = ctype == "text/html"
        # A plain alternative we didn't choose adds nothing; an HTML one is kept as `html`.
        if not want and not (is_html and self.html is None):
            return
        text = self._decode_text(part, path, is_html)
        if not is_html:
            self._append_text(self._hide_armor(_unflow_if_flowed(part, text)))
            return
        if self.html is None:
            self.html = self._cap_html(text)
        if want:
            self.html_used = True
            self._append_text(_html_to_text(text, self.notes))

    def _hide_armor(self, text: str) -> str:
        """Inline PGP: each armored encrypted block becomes the notice (its base64 is noise
        to the agent; the raw message keeps it)."""
        if "-----BEGIN PGP MESSAGE-----" not in text:
            return text
        hidden, count = _PGP_ARMOR.subn(ENCRYPTED_PGP, text)
        if count:
            self.notes.add("encrypted message: the content cannot be shown")
        return hidden

    def _cap_html(self, text: str) -> str:
        if len(text) > HTML_LIMIT:
            self.notes.add(f"HTML body longer than {HTML_LIMIT:,} characters: stored truncated")
            text = text[:HTML_LIMIT]
        return clean_text(text)

    def _decode_text(self, part: _Part, path: str, is_html: bool) -> str:
        data = self._payload_bytes(part, path)
        charset = part.get_content_charset()
        if charset is None and is_html:
            charset = _sniff_meta_charset(data)
        return _decode_bytes(data, charset, self._where(path), self.notes)

    def _payload_bytes(self, part: _Part, path: str) -> bytes:
        return _transfer_decode(part, self._where(path), self.notes)

    def _append_text(self, text: str) -> None:
        if self.truncated:
            return
        room = TEXT_LIMIT - self.text_len
        if len(text) > room:
            self.notes.add(f"body truncated at {TEXT_LIMIT // 1_000_000} M characters")
            text, self.truncated = text[:room], True
        self.texts.append(text)
        self.text_len += len(text)

    def _add_attachment(self, part: _Part, path: str) -> None:
        size = len(self._payload_bytes(part, path))
        name = _attachment_name(part, path, self.notes)
        self.attachments.append(_attachment(part, self._section(path), name, size))

    def _add_message_part(self, part: _Part, ctype: str, path: str, depth: int, want: bool) -> None:
        data = self._payload_bytes(part, path)  # the attached message (or report) as received
        if ctype in _DSN_TYPES:
            self._add_attachment(part, path)
            if want:
                self._add_delivery_status(part, path, data)
            return
        self._add_message_attachment(part, path, data)
        if want and ctype in _EMBEDDED_TYPES:
            self._add_embedded(data, path, depth, _embedded_label(part))

    def _add_delivery_status(self, part: _Part, path: str, data: bytes) -> None:
        """One line per recipient, first in the text: it is what a bounce is about. A report
        naming no recipient is some MTA's prose under the report's type: shown as text."""
        summary = _delivery_summary(data)
        if summary is not None:
            self.summaries.append(summary)
            return
        charset = part.get_content_charset()
        self._append_text(_decode_bytes(data, charset, self._where(path), self.notes))

    def _add_message_attachment(self, part: _Part, path: str, data: bytes) -> None:
        name = _filename(part, path, self.notes)
        if not name:
            inner = _parse_entity(data[:HEADER_LIMIT])
            subject = _raw_header(inner, "subject")
            name = (_safe_filename(subject or "", path, self.notes) or "message") + ".eml"
        self.attachments.append(_attachment(part, self._section(path), name, len(data)))

    def _add_embedded(self, data: bytes, path: str, depth: int, label: str) -> None:
        """A forwarded (or returned) message, shown as a quoted block with its own headers."""
        # Each level re-quotes the text inside it: the levels shown inline are few.
        if depth + 1 >= MAX_DEPTH or self.level >= MAX_EMBEDDED:
            self.notes.add(f"forwarded messages nested deeper than {self.level}: listed only")
            return
        inner = _parse_entity(data)
        if _lost_separator(inner):  # often a copy whose header lines lost their folding
            refolded = refold_headers(data)
            if refolded is not None:
                self.notes.add(f"{self._where(path)}: header lines without folding repaired")
                inner = _parse_entity(refolded)
        head = _read_headers(inner, _Notes())  # its header quirks are not this message's
        section = self._section(path)
        reader = _BodyReader(self.notes, section, self.parts, self.level + 1)
        reader.walk(inner, depth + 1)
        self.parts = reader.parts
        body = reader.result()
        self.attachments.extend(body.attachments)
        self._append_text(_quoted_message(label, inner, head, body.text))

    def _note_defects(self, part: _Part, path: str) -> None:
        for defect in part.defects:
            for kind, note in _DEFECT_NOTES:
                if isinstance(defect, kind):
                    self.notes.add(f"{self._where(path)}: {note}")

    def result(self) -> _Body:
        texts = self.summaries + self.texts
        text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
        if not text.strip() and self.html and not self.html_used:
            # The plain alternative was empty: the HTML is the message.
            text = _html_to_text(self.html, self.notes)
        # Blank lines around the text carry nothing; inside it they are kept.
        text = clean_text(text).rstrip().lstrip("\n")
        return _Body(text, self.html, tuple(self.attachments))


_EMBEDDED_TYPES = frozenset(("message/rfc822", "message/global"))
_DSN_TYPES = frozenset(("message/delivery-status", "message/global-delivery-status"))
# An armored block from its first line to its last (or to the end, if cut off).
_PGP_ARMOR = re.compile(
    r"^-----BEGIN PGP MESSAGE-----[ \t\r]*$.*?(?:^-----END PGP MESSAGE-----[ \t\r]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_PKCS7_TYPES = frozenset(("application/pkcs7-mime", "application/x-pkcs7-mime"))
ENCRYPTED_PGP = "[encrypted message (PGP): the content cannot be shown]"
ENCRYPTED_SMIME = "[encrypted message (S/MIME): the content cannot be shown]"
SIGNED_SMIME = "[signed message (S/MIME): the content is inside the signature, not shown]"
MAX_EMBEDDED = 5  # forwarded messages within forwarded messages shown inline
MAX_DSN_RECIPIENTS = 20  # recipients listed in a delivery-status summary


def _encrypted_notice(part: _Part) -> str:
    protocol = str(part.get_param("protocol", "")).lower()
    return ENCRYPTED_SMIME if "pkcs7" in protocol else ENCRYPTED_PGP


def _smime_notice(part: _Part) -> str:
    kind = str(part.get_param("smime-type", "")).lower()
    return SIGNED_SMIME if kind in ("signed-data", "certs-only") else ENCRYPTED_SMIME


def _embedded_label(part: _Part) -> str:
    if part.parent_type == "multipart/report":
        return "Returned message"  # the message a bounce sends back
    if part.parent_type == "multipart/digest":
        return "Digest message"
    return "Forwarded message"


def _quoted_message(label: str, part: _Part, head: _Head, text: str) -> str:
    """A "---------- Forwarded message ----------" line, then headers and text quoted."""
    lines: list[str] = []
    sender = _shown_sender(part, head)
    if sender:
        lines.append(f"From: {sender}")
    if head.date is not None:
        lines.append(f"Date: {email.utils.format_datetime(head.date)}")
    if head.subject:
        lines.append(f"Subject: {head.subject}")
    if head.to:
        shown = ", ".join(_format_address(a) for a in head.to[:10])
        lines.append(f"To: {shown}" + (", ..." if len(head.to) > 10 else ""))
    if text:
        lines.extend([""] * bool(lines) + text.split("\n"))  # a blank only after headers
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"---------- {label} ----------\n{quoted}"


def _shown_sender(part: _Part, head: _Head) -> str:
    """The sender as parsed; a From: that holds no address ("Someone Else") as written."""
    if head.sender is not None and "@" in head.sender.email:
        return _format_address(head.sender)
    raw = _raw_header(part, "from")
    return clean_line(_decode_header(raw, "From", _Notes()))[:300].strip() if raw else ""


def _format_address(address: Address) -> str:
    return f"{address.name} <{address.email}>" if address.name else address.email


_DSN_BLOCK_BREAK = re.compile(r"\r?\n[ \t]*\r?\n")
_DSN_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")


def _delivery_summary(data: bytes) -> str | None:
    """RFC 3464 delivery status as one line per recipient: address, action, status, reason;
    None if no recipient is listed."""
    text = data[:HEADER_LIMIT].decode("utf-8", "replace")  # the fields are ASCII (or UTF-8)
    rows: list[str] = []
    for block in _DSN_BLOCK_BREAK.split(text.strip()):
        row = _dsn_row(_dsn_fields(block))
        if row:
            rows.append(row)
    if not rows:
        return None
    more = len(rows) - MAX_DSN_RECIPIENTS
    shown = rows[:MAX_DSN_RECIPIENTS] + ([f"... and {more} more recipients"] if more > 0 else [])
    return "Delivery status report:\n" + "\n".join(f"- {row}" for row in shown)


def _dsn_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and last:  # a folded continuation line
            fields[last] += " " + line.strip()
            continue
        match = _DSN_FIELD.match(line)
        if match:
            last = match.group(1).lower()
            fields.setdefault(last, match.group(2).strip())
    return fields


def _dsn_row(fields: dict[str, str]) -> str | None:
    recipient = fields.get("final-recipient") or fields.get("original-recipient")
    action = fields.get("action")
    if not recipient or not action:
        return None
    address = recipient.split(";", 1)[-1].strip().removeprefix("<").removesuffix(">")
    row = f"{address.strip()}: {action.lower()}"
    if fields.get("status"):
        row += f", status {fields['status']}"
    diagnostic = fields.get("diagnostic-code", "").split(";", 1)[-1].strip()
    return f"{row} ({diagnostic[:300]})" if diagnostic else row


def _unflow_if_flowed(part: _Part, text: str) -> str:
    """RFC 3676: join the soft-broken lines of format=flowed text (the terminal wraps)."""
    # Past 50k lines the per-line loop would cost real time, and reflowing a giant body
    # buys nothing; it is shown as sent.
    if str(part.get_param("format", "")).lower() != "flowed" or text.count("\n") > 50_000:
        return text
    delsp = str(part.get_param("delsp", "")).lower() == "yes"
    out: list[str] = []
    paragraph: list[str] = []
    depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        line_depth, content, soft = _flowed_line(line, delsp)
        if paragraph and line_depth != depth:  # a quote level change ends a paragraph
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
        paragraph.append(content)
        depth = line_depth
        if not soft:
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        out.append(_quoted(depth, "".join(paragraph)))
    return "\n".join(out)


def _flowed_line(line: str, delsp: bool) -> tuple[int, str, bool]:
    """(quote depth, content without stuffing, whether the line continues on the next)."""
    content = line.lstrip(">")
    depth = len(line) - len(content)
    if content.startswith(" "):  # space-stuffing (or the space after the quote marks)
        content = content[1:]
    soft = content.endswith(" ") and content != "-- "
    if soft and delsp:
        content = content[:-1]
    return depth, content, soft


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text


def _lost_separator(part: _Part) -> bool:
    kind = email.errors.MissingHeaderBodySeparatorDefect
    return any(isinstance(defect, kind) for defect in part.defects)


def _read_body(msg: _Part, notes: _Notes) -> _Body:
    reader = _BodyReader(notes)
    reader.walk(msg)
    return reader.result()


def _preferred_alternative(children: list[_Part]) -> int:
    """Index of the alternative to read: plain text, else a nested multipart, else HTML."""
    kinds = [c.get_content_type() for c in children]
    for wanted in ("text/plain", "multipart/", "text/html"):
        for index, kind in enumerate(kinds):
            if kind.startswith(wanted) and not _is_attachment(children[index], is_root=False):
                return index
    return len(children) - 1  # RFC 2046: the last alternative is the richest


def _is_attachment(part: _Part, *, is_root: bool) -> bool:
    disposition = _disposition(part)
    if disposition == "attachment":
        return True
    if disposition == "inline" or is_root:  # a single-part message is its own body
        return False
    return bool(part.get_param("filename", None, "content-disposition") or part.get_param("name"))


_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([\w.:-]{1,40})", re.I)


def _sniff_meta_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace") if match else None
