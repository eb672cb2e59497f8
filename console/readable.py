"""`frontdesk list` and `show` without --json: plain lines for a person at a terminal.

Every text from outside (names, subjects, message bodies) goes through storage.sanitize first,
so a customer's escape sequences never act on the terminal. Scripts use --json instead.
"""

from __future__ import annotations

from typing import Any

from storage.records import Record
from storage.sanitize import clean_line, clean_text


def summary(record: Record) -> str:
    """One conversation on one line: id, status, channel, contact, subject, tags, assignee."""
    conv: Any = record
    tags = f"  [{', '.join(clean_line(t) for t in conv['tags'])}]" if conv["tags"] else ""
    assignee = f"  -> {clean_line(conv['assignee'])}" if conv["assignee"] else ""
    return (
        f"#{conv['id']:<7} {conv['status']:<8} {conv['channel']:<6}"
        f" {clean_line(conv['contact']['name'])[:24]:<24} {clean_line(conv['subject'])}"
        f"{tags}{assignee}"
    )


def thread(record: Record) -> str:
    """The conversation's summary, then each message under a header line."""
    conv: Any = record
    who = ", ".join(clean_line(i) for i in conv["contact"]["identities"])
    lines = [summary(record), f"  contact: {who}", ""]
    for message in conv["messages"]:
        author = message["author"]
        address = f" <{clean_line(author['address'])}>" if author["address"] else ""
        delivery = f" · {message['delivery']}" if message["delivery"] else ""
        lines.append(
            f"--- {message['sent_at']} {message['direction']}"
            f" {clean_line(author['name'])}{address}{delivery}"
        )
        lines.extend([clean_text(message["text"]).rstrip("\n"), ""])
    return "\n".join(lines) + "\n"
