"""Who else is looking at or answering a conversation (collision detection).

Consoles write a heartbeat every few seconds; an entry older than PRESENCE_TTL is gone.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

PresenceState = Literal["viewing", "replying"]
PRESENCE_TTL = 45.0  # three missed refreshes of a console (every 15 s)


@dataclass(frozen=True)
class Presence:
    agent: str
    state: PresenceState
    heartbeat_at: float


def heartbeat(
    conn: sqlite3.Connection, agent: str, conversation_id: int, state: PresenceState, at: float
) -> None:
    conn.execute(
        "INSERT INTO presence (agent, conversation_id, state, heartbeat_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(agent, conversation_id) DO UPDATE SET state = excluded.state,"
        " heartbeat_at = excluded.heartbeat_at",
        (agent, conversation_id, state, at),
    )


def leave(conn: sqlite3.Connection, agent: str, conversation_id: int | None = None) -> None:
    if conversation_id is None:
        conn.execute("DELETE FROM presence WHERE agent = ?", (agent,))
    else:
        conn.execute(
            "DELETE FROM presence WHERE agent = ? AND conversation_id = ?", (agent, conversation_id)
        )


def others(
    conn: sqlite3.Connection, conversation_id: int, agent: str, now: float
) -> list[Presence]:
    rows = conn.execute(
        "SELECT agent, state, heartbeat_at FROM presence WHERE conversation_id = ?"
        " AND agent != ? AND heartbeat_at >= ? ORDER BY agent",
        (conversation_id, agent, now - PRESENCE_TTL),
    )
    return [Presence(r[0], r[1], r[2]) for r in rows]
