"""The store: one SQLite connection, the inbox policy and a clock, behind plain methods.

Reads are synchronous and fast (indexed, paged): the console's `render_line` may call them.
Writes are short IMMEDIATE transactions. Async callers use `storage.aio.AsyncStore`.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

from storage import (
    conversation,
    delivery,
    nps,
    presence,
    queue,
    rules,
    surveys,
    sync_status,
    thread_edits,
    undo,
)
from storage.db import connect, transaction
from storage.ingest import ingest_one, resolve_identity
from storage.models import (
    CannedReply,
    ConversationDetail,
    IdentityRef,
    InboundMessage,
    IngestResult,
    Message,
    OutboxItem,
    QueueRow,
    Rating,
)
from storage.policy import InboxPolicy, SimplePolicy
from storage.queue import Cursor, View
from storage.reply_context import ReplyContext, get_reply_context
from storage.rules import ConvState
from storage.state import load_state, record_event, save_state
from storage.surveys import SurveyPolicy

DraftMode = Literal["reply", "note"]

Clock = Callable[[], float]


class Store:
    def __init__(
        self,
        path: str | Path,
        *,
        policy: InboxPolicy | None = None,
        clock: Clock = time.time,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.conn = connect(self.path, readonly=readonly)
        self.policy: InboxPolicy = policy or SimplePolicy()
        self.clock = clock

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap way to notice new data."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # accounts and checkpoints -------------------------------------------------------------

    def ensure_account(self, name: str, kind: str) -> int:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO accounts (name, kind, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO NOTHING",
                (name, kind, self.clock()),
            )
        row = self.conn.execute("SELECT id FROM accounts WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def checkpoint(self, account_id: int, scope: str) -> dict[str, object] | None:
        row = self.conn.execute(
            "SELECT state FROM sync_state WHERE account_id = ? AND scope = ?", (account_id, scope)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_sync_status(
        self,
        account_id: int,
        state: sync_status.SyncState,
        detail: str = "",
        retry_in: float | None = None,
    ) -> None:
        """What sync is doing for the account; the detail is scrubbed of token-like text."""
        now = self.clock()
        retry_at = None if retry_in is None else now + retry_in
        sync_status.write(self.conn, account_id, state, detail, retry_at, now)

    def sync_statuses(self) -> list[sync_status.SyncStatus]:
        return sync_status.read_all(self.conn)

    def _save_checkpoint(self, account_id: int, scope: str, state: dict[str, object]) -> None:
        self.conn.execute(
            "INSERT INTO sync_state (account_id, scope, state, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(account_id, scope) DO UPDATE SET state = excluded.state,"
            " updated_at = excluded.updated_at",
            (account_id, scope, json.dumps(state), self.clock()),
        )

    # contacts -----------------------------------------------------------------------------

    def add_identity(self, contact_id: int, ref: IdentityRef) -> None:
        """Attach an address to a known contact (e.g. their Slack user to their email)."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO identities (contact_id, kind, address, display_name,"
                " original_contact_id) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(kind, address) DO UPDATE SET contact_id = excluded.contact_id",
                (contact_id, ref.kind, ref.address, ref.display_name, contact_id),
            )

    def ensure_contact(self, ref: IdentityRef) -> int:
        with transaction(self.conn):
            return resolve_identity(self.conn, ref, self.policy, self.clock())[1]

    def contact_of(self, ref: IdentityRef) -> int | None:
        row = self.conn.execute(
            "SELECT contact_id FROM identities WHERE kind = ? AND address = ?",
            (ref.kind, ref.address),
        ).fetchone()
        return None if row is None else int(row[0])

    # ingest -------------------------------------------------------------------------------

    def ingest(
        self,
        messages: Sequence[InboundMessage],
        *,
        checkpoint: tuple[int, str, dict[str, object]] | None = None,
    ) -> list[IngestResult]:
        """Store messages (idempotent on account + remote id) and the checkpoint, atomically."""
        now = self.clock()
        with transaction(self.conn):
            results = [ingest_one(self.conn, m, self.policy, now) for m in messages]
            if checkpoint is not None:
                self._save_checkpoint(*checkpoint)
        return results

    # reads --------------------------------------------------------------------------------

    def page(
        self,
        view: View,
        *,
        after: Cursor | None = None,
        before: Cursor | None = None,
        limit: int = 50,
    ) -> list[QueueRow]:
        return queue.page(self.conn, view, after=after, before=before, limit=limit)

    def page_at(self, view: View, offset: int, limit: int = 50) -> list[QueueRow]:
        return queue.page_at(self.conn, view, offset, limit)

    def count(self, view: View) -> int:
        return queue.count(self.conn, view)

    def detail(self, conversation_id: int) -> ConversationDetail:
        return conversation.get_detail(self.conn, conversation_id)

    def stats(self) -> dict[str, object]:
        accounts = self.conn.execute(
            "SELECT a.name, a.kind,"
            " (SELECT count(*) FROM conversations c WHERE c.account_id = a.id),"
            " (SELECT count(*) FROM messages m WHERE m.account_id = a.id)"
            " FROM accounts a ORDER BY a.id"
        ).fetchall()
        return {
            "conversations": self._scalar("SELECT count(*) FROM conversations"),
            "messages": self._scalar("SELECT count(*) FROM messages"),
            "accounts": [
                {"name": r[0], "kind": r[1], "conversations": r[2], "messages": r[3]}
                for r in accounts
            ],
        }

    def _scalar(self, sql: str, params: Sequence[object] = ()) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0])

    # agent actions ------------------------------------------------------------------------

    def _change(
        self,
        conversation_id: int,
        actor: str,
        change: Callable[[ConvState], list[str]],
        detail: dict[str, object] | None = None,
    ) -> list[str]:
        """Apply a rule to one conversation and record what it did, in one transaction."""
        now = self.clock()
        with transaction(self.conn):
            state = load_state(self.conn, conversation_id)
            events = change(state)
            save_state(self.conn, conversation_id, state)
            for kind in events:
                record_event(self.conn, conversation_id, now, actor, kind, detail)
        return events

    def close_conversation(
        self, conversation_id: int, actor: str, *, survey: bool = True
    ) -> list[str]:
        """Close; `survey=False` for a close that resolved nothing (a history import)."""
        events = self._change(
            conversation_id, actor, lambda s: rules.close_conversation(s, self.clock(), self.policy)
        )
        if "closed" in events and survey:
            self.survey_after_close(conversation_id, actor)
        return events

    def reopen(self, conversation_id: int, actor: str) -> list[str]:
        """Reopen; a survey of the close not sent yet is withdrawn (nothing is resolved)."""
        with transaction(self.conn):
            events = self._change(conversation_id, actor, lambda s: rules.reopen(s, self.policy))
            if "reopened" in events:
                self._withdraw_surveys(conversation_id, actor, "reopened")
        return events

    def _withdraw_surveys(self, conversation_id: int, actor: str, why: str) -> None:
        taken = surveys.withdraw(self.conn, conversation_id)
        if taken.withdrawn:
            detail: dict[str, object] = {"count": taken.withdrawn, "why": why}
            record_event(
                self.conn, conversation_id, self.clock(), actor, "survey_withdrawn", detail
            )

    def snooze(
        self,
        conversation_id: int,
        actor: str,
        until: float,
        *,
        wake_on_reply: bool = True,
        note: str | None = None,
    ) -> list[str]:
        if until <= self.clock():
            raise ValueError("the snooze time is in the past")
        return self._change(
            conversation_id,
            actor,
            lambda s: rules.snooze(
                s, until, self.policy, wake_on_reply=wake_on_reply, note=note, at=self.clock()
            ),
            {"until": until, "wake_on_reply": wake_on_reply, "note": note},
        )

    def wake_due(self) -> list[int]:
        """Wake every snoozed conversation whose time has come; return their ids."""
        now = self.clock()
        due = [
            int(r[0])
            for r in self.conn.execute(
                "SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= ?",
                (now,),
            )
        ]
        for conversation_id in due:
            self._change(conversation_id, "snooze", lambda s: rules.wake(s, now, self.policy))
        return due

    def mark_read(self, conversation_id: int) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE conversations SET unread = 0 WHERE id = ? AND unread = 1",
                (conversation_id,),
            )

    def assign(self, conversation_id: int, actor: str, assignee: str | None) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE conversations SET assignee = ? WHERE id = ?", (assignee, conversation_id)
            )
            record_event(
                self.conn, conversation_id, self.clock(), actor, "assigned", {"to": assignee}
            )

    def ensure_tag(self, name: str, color: str = "cyan") -> int:
        self.conn.execute(
            "INSERT INTO tags (name, color) VALUES (?, ?) ON CONFLICT(name) DO NOTHING",
            (name, color),
        )
        return self._scalar("SELECT id FROM tags WHERE name = ?", (name,))

    def tag(self, conversation_ids: Iterable[int], actor: str, name: str, on: bool = True) -> None:
        with transaction(self.conn):
            tag_id = self.ensure_tag(name)
            for conversation_id in conversation_ids:
                self._set_tag(conversation_id, tag_id, on)
                kind = "tagged" if on else "untagged"
                record_event(self.conn, conversation_id, self.clock(), actor, kind, {"tag": name})

    def _set_tag(self, conversation_id: int, tag_id: int, on: bool) -> None:
        if on:
            self.conn.execute(
                "INSERT OR IGNORE INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?)",
                (conversation_id, tag_id),
            )
        else:
            self.conn.execute(
                "DELETE FROM conversation_tags WHERE conversation_id = ? AND tag_id = ?",
                (conversation_id, tag_id),
            )

    def add_note(self, conversation_id: int, author: str, text: str) -> int:
        """An internal note: in the thread, never sent, changes no status."""
        now = self.clock()
        with transaction(self.conn):
            account_id = self._scalar(
                "SELECT account_id FROM conversations WHERE id = ?", (conversation_id,)
            )
            cursor = self.conn.execute(
                "INSERT INTO messages (conversation_id, account_id, remote_id, direction,"
                " author_name, sent_at, text, thread_reason, created_at)"
                " VALUES (?, ?, ?, 'note', ?, ?, ?, 'internal note', ?)",
                (
                    conversation_id,
                    account_id,
                    f"note:{now}:{conversation_id}",
                    author,
                    now,
                    text,
                    now,
                ),
            )
            record_event(self.conn, conversation_id, now, author, "note", {})
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # outbox -------------------------------------------------------------------------------

    def queue_reply(
        self,
        conversation_id: int,
        author: str,
        text: str,
        *,
        remote_id: str,
        close: bool = False,
        headers: dict[str, object] | None = None,
        batch: str | None = None,
        send_delay: float = 0.0,
        survey_at: str | None = None,
    ) -> int:
        """Store an agent reply and its outbox item; the runner delivers it later.

        `send_delay`: seconds before it is due (undo send: `take_back` until then).
        `survey_at`: where in `text` a survey's question and links go (storage/surveys.py)."""
        now = self.clock()
        with transaction(self.conn):
            conv = conversation.get_conversation(self.conn, conversation_id)
            survey = None
            if survey_at and survey_at in text:
                survey = surveys.in_reply(
                    self.conn, conversation_id, text, survey_at, self.survey_policy, now
                )
                text = survey.text
            cursor = self.conn.execute(
                "INSERT INTO messages (conversation_id, account_id, remote_id, thread_ref,"
                " direction, author_name, sent_at, subject, text, headers, thread_reason,"
                " delivery, created_at)"
                " VALUES (?, ?, ?, ?, 'out', ?, ?, ?, ?, ?, 'agent reply', 'queued', ?)",
                (
                    conversation_id,
                    conv.account_id,
                    remote_id,
                    remote_id,
                    author,
                    now,
                    conv.subject,
                    text,
                    json.dumps(headers or {}),
                    now,
                ),
            )
            message_id = cursor.lastrowid
            state = load_state(self.conn, conversation_id)
            self.conn.execute(
                "INSERT INTO outbox (conversation_id, account_id, message_id, body,"
                " next_attempt_at, created_by, created_at, batch, state_before)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    conv.account_id,
                    message_id,
                    text,
                    now + max(0.0, send_delay),
                    author,
                    now,
                    batch,
                    json.dumps(dataclasses.asdict(state)),
                ),
            )
            events = ["replied", *rules.agent_replied(state, now, self.policy, close=close)]
            save_state(self.conn, conversation_id, state)
            detail: dict[str, object] = {"batch": batch} if batch else {}
            for kind in events:
                record_event(self.conn, conversation_id, now, author, kind, detail)
            assert message_id is not None
            if survey is not None:
                self._survey_in_reply(conversation_id, message_id, author, now, survey)
        if close:
            self.survey_after_close(conversation_id, author)
        return message_id

    def _survey_in_reply(
        self,
        conversation_id: int,
        message_id: int,
        author: str,
        now: float,
        survey: surveys.InReply,
    ) -> None:
        if survey.planned is not None:
            surveys.record(self.conn, survey.planned, survey.token, message_id, now)
            detail: dict[str, object] = {"kind": survey.planned.survey.scale, "in_reply": True}
            record_event(self.conn, conversation_id, now, author, "survey_sent", detail)
        elif survey.why_not is not None:
            detail = {"reason": survey.why_not, "in_reply": True}
            record_event(self.conn, conversation_id, now, author, "survey_skipped", detail)

    def take_back(self, message_id: int, actor: str) -> str | None:
        """Undo send: cancel a queued reply that has not started going out (or one held, e.g.
        its Slack question was deleted), put the conversation back as it was before it, and
        return its text for the composer. None when it is too late (being sent, sent)."""
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT id, conversation_id, body, state_before FROM outbox WHERE message_id = ?"
                " AND status = 'queued' AND (attempts = 0 OR outcome = 'held')"
                " AND (outcome IS NULL OR outcome = 'held')",
                (message_id,),
            ).fetchone()
            if row is None:
                return None
            outbox_id, conversation_id, body, before = row
            self.conn.execute(
                "UPDATE outbox SET status = 'cancelled', outcome = NULL WHERE id = ?", (outbox_id,)
            )
            self.conn.execute(
                "UPDATE messages SET delivery = 'cancelled' WHERE id = ?", (message_id,)
            )
            self.conn.execute(  # its survey links (a canned `{{ survey }}`) never went out
                "DELETE FROM surveys WHERE message_id = ? AND state = 'sent'", (message_id,)
            )
            if before:
                save_state(self.conn, conversation_id, ConvState(**json.loads(before)))
            record_event(self.conn, conversation_id, self.clock(), actor, "reply_taken_back", {})
        return str(body)

    def post_held_in_channel(self, message_id: int, actor: str) -> bool:
        """The agent's choice for a Slack reply held because its question was deleted: post
        it as a new message in the channel. False if the reply is not held."""
        now = self.clock()
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE outbox SET outcome = NULL, top_level = 1, last_error = NULL,"
                " next_attempt_at = ? WHERE message_id = ? AND outcome = 'held'"
                " AND status = 'queued'",
                (now, message_id),
            )
            if cursor.rowcount != 1:
                return False
            conversation_id = self._scalar(
                "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
            )
            record_event(self.conn, conversation_id, now, actor, "reply_to_channel", {})
        return True

    def takeable_reply(self, conversation_id: int) -> tuple[int, float] | None:
        """(message id, when it goes out) of the conversation's newest reply still waiting
        out its send delay: what "Undo send" takes back."""
        row = self.conn.execute(
            "SELECT message_id, next_attempt_at FROM outbox WHERE conversation_id = ?"
            " AND status = 'queued' AND attempts = 0 AND outcome IS NULL AND next_attempt_at > ?"
            " ORDER BY id DESC LIMIT 1",
            (conversation_id, self.clock()),
        ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))

    def cancel_batch(self, batch: str, actor: str) -> int:
        """Cancel a follow-up batch's replies that have not started sending; return how many."""
        now = self.clock()
        with transaction(self.conn):
            rows = self.conn.execute(
                "SELECT id, conversation_id, message_id FROM outbox"
                " WHERE batch = ? AND status IN ('queued', 'failed')",
                (batch,),
            ).fetchall()
            for outbox_id, conversation_id, message_id in rows:
                self.conn.execute(
                    "UPDATE outbox SET status = 'cancelled' WHERE id = ?", (outbox_id,)
                )
                self.conn.execute(
                    "UPDATE messages SET delivery = 'cancelled' WHERE id = ?", (message_id,)
                )
                self.conn.execute(  # the survey links it carried never went out
                    "DELETE FROM surveys WHERE message_id = ? AND state = 'sent'", (message_id,)
                )
                record_event(self.conn, conversation_id, now, actor, "cancelled", {"batch": batch})
        return len(rows)

    def batch_status(self, batch: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT status, count(*) FROM outbox WHERE batch = ? GROUP BY status", (batch,)
        )
        return {r[0]: r[1] for r in rows}

    def due_outbox(self, account_id: int | None = None) -> list[OutboxItem]:
        """Items to send now: queued or failed, due, and neither uncertain nor held."""
        sql = (
            "SELECT * FROM outbox WHERE status IN ('queued', 'failed') AND next_attempt_at <= ?"
            " AND outcome IS NULL"
        )
        params: list[object] = [self.clock()]
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        rows = self.conn.execute(sql + " ORDER BY id", params).fetchall()
        return [_outbox_item(r) for r in rows]

    def outbox_due_now(self, account_id: int) -> bool:
        """Whether anything is due to send for the account (a cheap indexed look)."""
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE status IN ('queued', 'failed') AND next_attempt_at <= ?"
            " AND outcome IS NULL AND account_id = ? LIMIT 1",
            (self.clock(), account_id),
        ).fetchone()
        return row is not None

    def outbox_item(self, outbox_id: int) -> OutboxItem:
        row = self.conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if row is None:
            raise KeyError(f"no outbox item {outbox_id}")
        return _outbox_item(row)

    def outbox_sent(self, outbox_id: int, *, sent_copy: str | None = None) -> None:
        """The server accepted it; `sent_copy='pending'` when a Sent-folder copy is owed."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                " outcome = NULL, claimed_by = NULL, sent_copy = ? WHERE id = ?",
                (self.clock(), sent_copy, outbox_id),
            )
            self.conn.execute(
                "UPDATE messages SET delivery = 'sent'"
                " WHERE id = (SELECT message_id FROM outbox WHERE id = ?)",
                (outbox_id,),
            )

    def outbox_failed(self, outbox_id: int, error: str, retry_at: float) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE outbox SET status = 'failed', last_error = ?, next_attempt_at = ?,"
                " attempts = attempts + 1, outcome = NULL, claimed_by = NULL WHERE id = ?",
                (error, retry_at, outbox_id),
            )
            # The thread shows it: a failed reply must not read "queued" (retried, then sent).
            self.conn.execute(
                "UPDATE messages SET delivery = 'failed'"
                " WHERE id = (SELECT message_id FROM outbox WHERE id = ?)",
                (outbox_id,),
            )

    # delivery lease and outcomes (storage/delivery.py) -------------------------------------

    def take_lease(self, account_id: int, holder: str, ttl: float) -> str:
        """Take or renew the account's delivery lease; return its holder (us if we got it)."""
        with transaction(self.conn):
            return delivery.take_lease(self.conn, account_id, holder, ttl, self.clock())

    def release_lease(self, account_id: int, holder: str) -> None:
        with transaction(self.conn):
            delivery.release_lease(self.conn, account_id, holder)

    def outbox_uncertain(self, outbox_id: int, reason: str) -> None:
        """The server may have the reply (connection lost after DATA, Slack fatal_error...):
        no retry until a probe of the Sent folder or thread says whether it went out."""
        with transaction(self.conn):
            delivery.mark_uncertain(self.conn, outbox_id, reason)

    def outbox_resending(self, outbox_id: int) -> None:
        """A probe found nothing: the one resend an uncertain reply gets is being spent. The
        conversation records it: the customer may get the reply twice, and the agent knows."""
        with transaction(self.conn):
            delivery.count_resend(self.conn, outbox_id)
            conversation_id = self._scalar(
                "SELECT conversation_id FROM outbox WHERE id = ?", (outbox_id,)
            )
            detail: dict[str, object] = {"outbox_id": outbox_id}
            record_event(self.conn, conversation_id, self.clock(), "sync", "reply_resent", detail)

    def outbox_held(self, outbox_id: int, reason: str) -> bool:
        """Keep a reply from going out as is (`reason` is shown to the agent)."""
        with transaction(self.conn):
            return delivery.mark_held(self.conn, outbox_id, reason)

    def outbox_copy(self, outbox_id: int, state: str | None, error: str | None = None) -> None:
        """Record the Sent-folder copy: 'pending', 'failed' (retried later) or None (done)."""
        with transaction(self.conn):
            delivery.set_copy(self.conn, outbox_id, state, error)

    def outbox_copies_due(self, account_id: int) -> list[int]:
        return delivery.copies_due(self.conn, account_id)

    def outbox_problems(
        self, account_id: int | None = None, *, conversation_id: int | None = None
    ) -> list[delivery.OutboxProblem]:
        """Replies failed, uncertain or held, and sent ones missing their Sent copy (what the
        console shows on a conversation and `sync --once` reports)."""
        return delivery.problems(self.conn, account_id, conversation_id)

    # tags, canned replies -----------------------------------------------------------------

    def tags(self) -> list[tuple[str, str]]:
        rows = self.conn.execute("SELECT name, color FROM tags ORDER BY name")
        return [(r[0], r[1]) for r in rows]

    def common_tags(self, conversation_ids: Sequence[int]) -> set[str]:
        """The tags every one of these conversations has (the tag picker's check marks)."""
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT t.name FROM conversation_tags x JOIN tags t ON t.id = x.tag_id"
            f" WHERE x.conversation_id IN ({marks}) GROUP BY t.id HAVING count(*) = ?",
            [*ids, len(ids)],
        )
        return {r[0] for r in rows}

    def canned_replies(self) -> list[CannedReply]:
        rows = self.conn.execute(
            "SELECT id, name, shortcut, folder, body, source FROM canned_replies"
            " ORDER BY folder, name"
        )
        return [CannedReply(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    # undo and presence --------------------------------------------------------------------

    def snapshot(self, label: str, conversation_ids: Iterable[int]) -> undo.Snapshot:
        return undo.take(self.conn, label, conversation_ids)

    def restore(self, snapshot: undo.Snapshot, actor: str) -> None:
        with transaction(self.conn):
            undo.restore(self.conn, snapshot, actor, self.clock())

    def heartbeat(self, agent: str, conversation_id: int, state: presence.PresenceState) -> None:
        with transaction(self.conn):
            presence.heartbeat(self.conn, agent, conversation_id, state, self.clock())

    def leave(self, agent: str, conversation_id: int | None = None) -> None:
        with transaction(self.conn):
            presence.leave(self.conn, agent, conversation_id)

    def others_present(self, conversation_id: int, agent: str) -> list[presence.Presence]:
        return presence.others(self.conn, conversation_id, agent, self.clock())

    def last_message_id(self, conversation_id: int) -> int:
        """Newest message of the conversation (collision detection compares against it)."""
        return self._scalar(
            "SELECT coalesce(max(id), 0) FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        )

    def messages_after(self, conversation_id: int, message_id: int) -> list[Message]:
        """What arrived (from anyone but notes) since the agent started replying."""
        return [
            m
            for m in conversation.get_messages(self.conn, conversation_id)
            if m.id > message_id and m.direction != "note"
        ]

    # drafts -------------------------------------------------------------------------------

    def save_draft(
        self, conversation_id: int, body: str, *, agent: str, mode: DraftMode = "reply"
    ) -> None:
        """Keep (or, when blank, drop) `agent`'s draft of one mode in one conversation."""
        with transaction(self.conn):
            if body.strip():
                self.conn.execute(
                    "INSERT INTO agent_drafts (agent, conversation_id, mode, body, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(agent, conversation_id, mode)"
                    " DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                    (agent, conversation_id, mode, body, self.clock()),
                )
            else:
                self.conn.execute(
                    "DELETE FROM agent_drafts WHERE agent = ? AND conversation_id = ? AND mode = ?",
                    (agent, conversation_id, mode),
                )

    def upsert_canned_reply(
        self, name: str, body: str, *, shortcut: str | None, folder: str, source: str
    ) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO canned_replies (name, shortcut, folder, body, source, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET"
                " shortcut = excluded.shortcut, folder = excluded.folder, body = excluded.body,"
                " source = excluded.source, updated_at = excluded.updated_at"
                # Every console start re-applies the config's replies: unchanged ones are left
                # alone, so nothing is written and no other console is woken for nothing.
                " WHERE (shortcut, folder, body, source) IS NOT"
                " (excluded.shortcut, excluded.folder, excluded.body, excluded.source)",
                (name, shortcut, folder, body, source, self.clock()),
            )

    def draft(self, conversation_id: int, *, agent: str, mode: DraftMode = "reply") -> str:
        """`agent`'s saved draft of this mode ('' when none): never another agent's."""
        row = self.conn.execute(
            "SELECT body FROM agent_drafts WHERE agent = ? AND conversation_id = ? AND mode = ?",
            (agent, conversation_id, mode),
        ).fetchone()
        return "" if row is None else str(row[0])

    # channel sync: edits, deletions, echoes of our own replies (the Slack connector) --------

    def known_remote_ids(self, account_id: int, remote_ids: Sequence[str]) -> set[str]:
        """The subset of `remote_ids` already stored for the account."""
        found: set[str] = set()
        for start in range(0, len(remote_ids), 500):  # SQLite caps bound parameters
            chunk = remote_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT remote_id FROM messages WHERE account_id = ? AND remote_id IN ({marks})",
                (account_id, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    def update_message_text(
        self, account_id: int, remote_id: str, text: str, edited_at: float | None
    ) -> bool:
        """Replace a message's text after an edit at the source; False if it is not stored,
        or if a newer edit is (an old edit redelivered late never overwrites a newer one)."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE messages SET text = ?, edited_at = coalesce(?, edited_at)"
                " WHERE account_id = ? AND remote_id = ?"
                " AND (? IS NULL OR edited_at IS NULL OR edited_at <= ?)",
                (text, edited_at, account_id, remote_id, edited_at, edited_at),
            )
        return cursor.rowcount > 0

    def mark_deleted(self, account_id: int, remote_id: str) -> bool:
        """Flag a message deleted at the source (kept, so the thread still reads); False if
        it is not stored."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE messages SET deleted = 1 WHERE account_id = ? AND remote_id = ?",
                (account_id, remote_id),
            )
        return cursor.rowcount > 0

    def thread_root(self, conversation_id: int) -> str | None:
        """The remote id of the conversation's first message from the channel (not ours)."""
        row = self.conn.execute(
            "SELECT remote_id FROM messages WHERE conversation_id = ? AND delivery IS NULL"
            " AND direction != 'note' ORDER BY sent_at, id LIMIT 1",
            (conversation_id,),
        ).fetchone()
        return None if row is None else str(row[0])

    def reply_context(self, message_id: int) -> ReplyContext:
        """A queued reply with the thread before it and the contact: what an email needs."""
        return get_reply_context(self.conn, message_id)

    def outbox_sending(
        self, outbox_id: int, *, resuming: bool = False, holder: str | None = None
    ) -> bool:
        """Claim an item before handing it to the server: if we crash now, the item stays
        `sending`, and whoever picks it up must check whether it went out.

        The claim is atomic: of two runners (or a runner and a cancel), one wins; False means
        someone else has it (or it was cancelled) and it must not be sent. With `holder`, the
        claim needs that holder's live delivery lease, and an item left `sending` by another
        holder is taken (`resuming`) only once that holder's lease expired.
        """
        with transaction(self.conn):
            return delivery.claim(self.conn, outbox_id, holder, resuming, self.clock())

    def unfinished_outbox(self, account_id: int, holder: str | None = None) -> list[OutboxItem]:
        """Items left `sending` (a crash, a lost answer, `uncertain`): they may or may not have
        gone out. With `holder`: only those whose claimant's lease is gone (or ours)."""
        rows = delivery.unfinished(self.conn, account_id, holder, self.clock())
        return [_outbox_item(r) for r in rows]

    def outbox_sent_as(
        self, outbox_id: int, account_id: int, remote_id: str, message_id: int | None = None
    ) -> bool:
        """Mark an item sent and give its message the id the server assigned (idempotent).

        The channel's echo of the reply then dedupes against it. False when the item is not
        this account's (or not for `message_id`): the caller treats the echo as foreign.
        """
        with transaction(self.conn):
            row = self.conn.execute(
                "SELECT message_id FROM outbox WHERE id = ? AND account_id = ?",
                (outbox_id, account_id),
            ).fetchone()
            if row is None or message_id not in (None, row[0]):
                return False
            self._drop_copy(account_id, remote_id, keep=int(row[0]))
            self.conn.execute(
                "UPDATE outbox SET status = 'sent', sent_at = coalesce(sent_at, ?),"
                " attempts = attempts + (status != 'sent'), outcome = NULL, claimed_by = NULL"
                " WHERE id = ?",
                (self.clock(), outbox_id),
            )
            self.conn.execute(
                "UPDATE messages SET remote_id = ?, thread_ref = ?, delivery = 'sent' WHERE id = ?",
                (remote_id, remote_id, row[0]),
            )
        return True

    def _drop_copy(self, account_id: int, remote_id: str, keep: int) -> None:
        # An echo stored before we learnt it was ours is a second copy of the reply.
        self.conn.execute(
            "DELETE FROM messages WHERE account_id = ? AND remote_id = ? AND id != ?",
            (account_id, remote_id, keep),
        )

    # threading corrections (the console's X and M) ----------------------------------------

    def split_conversation(self, message_id: int, actor: str) -> thread_edits.Edit:
        """Move a message and the later ones to a new conversation (see thread_edits)."""
        with transaction(self.conn):
            return thread_edits.split(
                self.conn, message_id, actor=actor, at=self.clock(), policy=self.policy
            )

    def merge_conversations(self, source: int, target: int, actor: str) -> thread_edits.Edit:
        """Move `source`'s messages into `target` (same contact and account only)."""
        with transaction(self.conn):
            return thread_edits.merge(
                self.conn, source, target, actor=actor, at=self.clock(), policy=self.policy
            )

    def undo_thread_edit(self, edit: thread_edits.Edit, actor: str) -> None:
        with transaction(self.conn):
            thread_edits.undo_edit(self.conn, edit, actor=actor, at=self.clock())

    def merge_contacts(self, source_id: int, target_id: int, actor: str = "sync") -> None:
        """Fold contact `source` into `target` (one person seen on two channels).

        Reversible: identities keep `original_contact_id`, `source` stays with `merged_into`
        set, and each moved conversation gets a `contact_merged` event naming both.
        """
        if source_id == target_id:
            return
        now = self.clock()
        with transaction(self.conn):
            moved = [
                int(r[0])
                for r in self.conn.execute(
                    "SELECT id FROM conversations WHERE contact_id = ?", (source_id,)
                )
            ]
            self.conn.execute(
                "UPDATE conversations SET contact_id = ? WHERE contact_id = ?",
                (target_id, source_id),
            )
            self.conn.execute(
                "UPDATE identities SET contact_id = ? WHERE contact_id = ?", (target_id, source_id)
            )
            self.conn.execute(
                "UPDATE contacts SET merged_into = ? WHERE id = ?", (target_id, source_id)
            )
            detail: dict[str, object] = {"from": source_id, "into": target_id}
            for conversation_id in moved:
                record_event(self.conn, conversation_id, now, actor, "contact_merged", detail)

    # first sync and attachments (connectors/email/sync.py, storage/history.py) -------------

    def ingest_history(
        self,
        messages: Sequence[InboundMessage],
        *,
        checkpoint: tuple[int, str, dict[str, object]],
        horizon: float,
    ) -> list[IngestResult]:
        """`ingest` during a first sync: the conversations these messages reached that are
        history (storage/history.py) are closed in the same transaction, so a crash never
        leaves them open."""
        from storage.history import HISTORY_ACTOR, settled

        with transaction(self.conn):
            results = self.ingest_mail(messages, checkpoint=checkpoint)
            touched = [r.conversation_id for r in results if r.created]
            for conversation_id in settled(self.conn, touched, horizon):
                self.close_conversation(conversation_id, HISTORY_ACTOR, survey=False)
        return results

    # customer satisfaction surveys (storage/surveys.py) -------------------------------------

    survey_policy: SurveyPolicy | None = (
        None  # set by the console from `[surveys]`; None: none sent
    )

    def use_surveys(self, policy: SurveyPolicy | None) -> None:
        self.survey_policy = policy

    def survey_after_close(self, conversation_id: int, actor: str) -> str | None:
        """Queue the survey a close calls for (through the outbox); returns its token.

        A survey withheld for a reason worth knowing (spam, `no-survey`, cooldown) leaves a
        `survey_skipped` event saying why; a tier without surveys leaves nothing."""
        if self.survey_policy is None:
            return None
        now = self.clock()
        with transaction(self.conn):
            status = self.conn.execute(
                "SELECT status FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if status is None or status[0] != "closed":
                return None
            planned = surveys.plan(self.conn, conversation_id, self.survey_policy, now)
            if planned is None:
                return None
            if isinstance(planned, str):
                detail: dict[str, object] = {"reason": planned}
                record_event(self.conn, conversation_id, now, actor, "survey_skipped", detail)
                return None
            token = surveys.queue(self.conn, planned, actor, now)
            detail = {"kind": planned.survey.scale}
            record_event(self.conn, conversation_id, now, actor, "survey_sent", detail)
        return token

    def ingest_mail(
        self,
        messages: Sequence[InboundMessage],
        *,
        checkpoint: tuple[int, str, dict[str, object]] | None = None,
    ) -> list[IngestResult]:
        """`ingest`, with survey answers taken out first (in the same transaction): an answer
        is recorded and files nothing; a mail with a token that cannot count is ingested as
        usual and the reason noted on its conversation (`survey_answer_ignored`)."""
        now = self.clock()
        results: list[IngestResult] = []
        with transaction(self.conn):
            for message in messages:
                answer = surveys.take_answer(self.conn, message, now)
                if answer.outcome in ("recorded", "duplicate"):
                    if answer.outcome == "recorded" and answer.survey_conversation is not None:
                        self._note_answer(answer.survey_conversation, message, now)
                    continue
                result = ingest_one(self.conn, message, self.policy, now)
                results.append(result)
                if message.direction == "in" and result.created:  # a new message
                    self._withdraw_if_open(result.conversation_id)
                if answer.outcome == "ignored":
                    detail: dict[str, object] = {
                        "reason": answer.reason,
                        "survey_conversation": answer.survey_conversation,
                    }
                    record_event(
                        self.conn,
                        result.conversation_id,
                        now,
                        "sync",
                        "survey_answer_ignored",
                        detail,
                    )
            if checkpoint is not None:
                self._save_checkpoint(*checkpoint)
        return results

    def _withdraw_if_open(self, conversation_id: int) -> None:
        """The customer wrote again before their survey went out: it is withdrawn."""
        row = self.conn.execute(
            "SELECT status FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is not None and row[0] != "closed":
            self._withdraw_surveys(conversation_id, "customer", "the customer wrote again")

    def _note_answer(self, conversation_id: int, message: InboundMessage, now: float) -> None:
        rating = surveys.latest_rating(self.conn, conversation_id)
        detail: dict[str, object] = (
            {}
            if rating is None
            else {"kind": rating.kind, "rating": rating.rating, "of": rating.scale_max}
        )
        record_event(self.conn, conversation_id, now, "customer", "survey_answered", detail)
        if rating is not None:  # an NPS detractor: back in their agent's queue
            nps.after_answer(self.conn, conversation_id, rating, self.policy, now)

    def ask_nps(
        self,
        nps_policy: nps.NpsPolicy,
        policy: SurveyPolicy,
        intro: Callable[[str, str], str | None] | None = None,
    ) -> list[int]:
        """Send the NPS surveys due now (storage/nps.py); returns their conversations."""
        return nps.send_due(self.conn, nps_policy, policy, self.clock(), intro)

    def latest_rating(self, conversation_id: int) -> Rating | None:
        return surveys.latest_rating(self.conn, conversation_id)

    def cancel_follow_up(self, batch: str, snapshot: undo.Snapshot, actor: str) -> tuple[int, int]:
        """Cancel a follow-up batch's replies not yet going out and put their conversations
        back exactly as `snapshot` had them (storage/followups.py). Returns (cancelled, going
        or gone)."""
        from storage import followups  # here, not at the top: store.py is being split

        with transaction(self.conn):
            pending = followups.cancellable(self.conn, batch)
            self.cancel_batch(batch, actor)
            undo.restore(self.conn, followups.only(snapshot, pending), actor, self.clock())
            return len(pending), followups.not_cancelled(self.conn, batch)

    def send_held_as_dm(self, message_id: int, actor: str) -> bool:
        """The agent's choice for a Slack reply held because its question was deleted: send
        it to the customer as a direct message (storage/held_replies.py). False if not held."""
        from storage import held_replies  # here, not at the top: store.py is being split

        now = self.clock()
        with transaction(self.conn):
            conversation_id = held_replies.send_as_dm(self.conn, message_id, now)
            if conversation_id is None:
                return False
            record_event(self.conn, conversation_id, now, actor, "reply_as_dm", {})
        return True

    def customer_slack_user(self, conversation_id: int) -> str | None:
        """The Slack user who asked in this conversation (a held reply's DM goes to them)."""
        from storage import held_replies

        return held_replies.customer_slack_user(self.conn, conversation_id)


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(**{k: row[k] for k in OutboxItem.__slots__})
