"""The email headers stored with a message (`messages.headers`, JSON), in one typed shape.

Written by the mapping of a fetched mail (connectors/email/mapping.py) and, for a reply, by
whoever queued it (the composer's chosen recipients, a survey's token); read back by the reply
writer (connectors/email/smtp.py) and the composer's recipient proposal (console/recipients.py).
Both sides go through `StoredHeaders`, so what is stored is exactly what a reply reads.

The JSON is unchanged from the stores already written: addresses are `[name, address]` lists,
ids strings, and the message's place on the server `folder`/`uidvalidity`/`uid`. Reading is
lenient (stored data outlives code): a value of the wrong shape reads as absent, an address
without "@" is dropped, addresses are lowercased. `to` is None when the key is absent: a reply
queued without chosen recipients, whom the reply writer then works out (reply-all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Pair = tuple[str, str]  # (display name, address)


@dataclass(frozen=True, slots=True)
class StoredHeaders:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply_to: tuple[Pair, ...] = ()
    to: tuple[Pair, ...] | None = None  # None: not stored (see the module docstring)
    cc: tuple[Pair, ...] = ()
    bcc: tuple[Pair, ...] = ()  # a reply's, from the composer: envelope only
    survey: str | None = None  # a survey's token (storage/surveys.py): quote nothing
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None

    @classmethod
    def from_json(cls, value: object) -> StoredHeaders:
        """The headers as stored (a decoded JSON object); anything malformed reads as absent."""
        if not isinstance(value, Mapping):
            return cls()
        to = value.get("to")
        return cls(
            message_id=_text(value.get("message_id")),
            in_reply_to=_text(value.get("in_reply_to")),
            references=_texts(value.get("references")),
            reply_to=pairs(value.get("reply_to")),
            to=pairs(to) if isinstance(to, list) else None,
            cc=pairs(value.get("cc")),
            bcc=pairs(value.get("bcc")),
            survey=_text(value.get("survey")),
            folder=_text(value.get("folder")),
            uidvalidity=_number(value.get("uidvalidity")),
            uid=_number(value.get("uid")),
        )

    def to_json(self) -> dict[str, object]:
        """The JSON object to store: what a fetched mail always has, the rest when set."""
        stored: dict[str, object] = {
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "reply_to": _lists(self.reply_to),
            "to": _lists(self.to or ()),
            "cc": _lists(self.cc),
            "folder": self.folder,
            "uidvalidity": self.uidvalidity,
            "uid": self.uid,
        }
        if self.bcc:
            stored["bcc"] = _lists(self.bcc)
        if self.survey is not None:
            stored["survey"] = self.survey
        return stored


def pairs(value: object) -> tuple[Pair, ...]:
    """Stored `[name, address]` lists as (name, lowercased address); others are dropped."""
    if not isinstance(value, list):
        return ()
    return tuple(
        (str(item[0]), str(item[1]).lower())
        for item in value
        if isinstance(item, list) and len(item) == 2 and "@" in str(item[1])
    )


def _lists(found: Sequence[Pair]) -> list[list[str]]:
    return [[name, address] for name, address in found]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
