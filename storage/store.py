"""The store: one SQLite connection, the inbox policy and a clock, behind plain methods.

The store owns the transactions and nothing else: every method is one transaction (or one
read) over a module that takes the connection and holds the SQL (storage/outbox.py,
actions.py, contacts.py, accounts.py, remote.py, library.py, inbound.py ...); the methods the
connectors call (outbox, delivery, channel sync) are in storage/store_channels.py. Callers above
storage (the console, the connectors) go through these methods, never the connection: this
face is where another backend plugs in.

Reads are synchronous and fast (indexed, paged): the console's `render_line` may call them.
Writes are short IMMEDIATE transactions. Async callers use `storage.aio.AsyncStore`; worker
threads open their own connection with `reader()` (or `writer()`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from storage import (
    accounts,
    actions,
    checkins,
    contacts,
    conversation,
    followups,
    held_replies,
    inbound,
    knowledge,
    library,
    nps,
    outbox,
    presence,
    queue,
    records,
    reporting,
    search,
    survey_flow,
    surveys,
    sync_status,
    thread_edits,
    undo,
)
from storage.db import connect, require_intact, transaction
from storage.inbound import Checkpoint
from storage.ingest import resolve_identity
from storage.library import DraftMode
from storage.metric_types import Dimension, Period
from storage.models import (
    CannedReply,
    ConversationDetail,
    IdentityRef,
    InboundMessage,
    IngestResult,
    Message,
    QueueRow,
    Rating,
)
from storage.policy import InboxPolicy, SimplePolicy, SlaPolicy
from storage.queue import Cursor, View
from storage.records import Record
from storage.state import record_event
from storage.store_channels import ChannelMethods
from storage.surveys import SurveyPolicy

__all__ = ["Clock", "DraftMode", "Store"]

Clock = Callable[[], float]


class Store(ChannelMethods):
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

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def reader(self) -> Store:
        """The same file read-only, on a connection of its own: for a worker thread (close
        it, e.g. `with store.reader() as reader:`). Works on a read-only store too."""
        return Store(self.path, policy=self.policy, clock=self.clock, readonly=True)

    def writer(self) -> Store:
        """The same file on a writable connection of its own: for a worker thread that writes."""
        return Store(self.path, policy=self.policy, clock=self.clock)

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap way to notice new data."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def require_intact(self, budget: float | None = None) -> None:
        """Raise `StoreDamaged` if the file fails the quick check (see storage/db.py)."""
        require_intact(self.conn, budget)

    # accounts and checkpoints -------------------------------------------------------------

    def ensure_account(self, name: str, kind: str) -> int:
        with transaction(self.conn):
            return accounts.ensure_account(self.conn, name, kind, self.clock())

    def account_name(self, account_id: int) -> str:
        return accounts.account_name(self.conn, account_id)

    def checkpoint(self, account_id: int, scope: str) -> dict[str, object] | None:
        return accounts.checkpoint(self.conn, account_id, scope)

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

    def stats(self) -> dict[str, object]:
        return accounts.stats(self.conn)

    # contacts -----------------------------------------------------------------------------

    def add_identity(self, contact_id: int, ref: IdentityRef) -> None:
        """Attach an address to a known contact (e.g. their Slack user to their email)."""
        with transaction(self.conn):
            contacts.add_identity(self.conn, contact_id, ref)

    def ensure_contact(self, ref: IdentityRef) -> int:
        with transaction(self.conn):
            return resolve_identity(self.conn, ref, self.policy, self.clock())[1]

    def contact_of(self, ref: IdentityRef) -> int | None:
        return contacts.contact_of(self.conn, ref)

    def merge_contacts(self, source_id: int, target_id: int, actor: str = "sync") -> None:
        """Fold contact `source` into `target` (one person seen on two channels).

        Reversible: identities keep `original_contact_id`, `source` stays with `merged_into`
        set, and each moved conversation gets a `contact_merged` event naming both.
        """
        with transaction(self.conn):
            contacts.merge_contacts(self.conn, source_id, target_id, actor, self.clock())

    def link_email(self, slack: IdentityRef, email: str) -> None:
        """Make a Slack user and `email:<email>` one contact, in one transaction."""
        with transaction(self.conn):
            contacts.link_email(self.conn, slack, email, self.policy, self.clock())

    # ingest (storage/inbound.py) ------------------------------------------------------------

    def ingest(
        self, messages: Sequence[InboundMessage], *, checkpoint: Checkpoint | None = None
    ) -> list[IngestResult]:
        """Store messages (idempotent on account + remote id) and the checkpoint, atomically."""
        with transaction(self.conn):
            return inbound.ingest(self.conn, messages, checkpoint, self.policy, self.clock())

    def ingest_mail(
        self, messages: Sequence[InboundMessage], *, checkpoint: Checkpoint | None = None
    ) -> list[IngestResult]:
        """`ingest`, with survey answers taken out first (in the same transaction): an answer
        is recorded and files nothing; a mail with a token that cannot count is ingested as
        usual and the reason noted on its conversation (`survey_answer_ignored`)."""
        with transaction(self.conn):
            return inbound.ingest_mail(self.conn, messages, checkpoint, self.policy, self.clock())

    def ingest_history(
        self, messages: Sequence[InboundMessage], *, checkpoint: Checkpoint, horizon: float
    ) -> list[IngestResult]:
        """`ingest` during a first sync: the conversations these messages reached that are
        history (storage/history.py) are closed in the same transaction, so a crash never
        leaves them open."""
        now = self.clock()
        with transaction(self.conn):
            return inbound.ingest_history(
                self.conn, messages, checkpoint, horizon, self.policy, now
            )

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

    def check_search(self, view: View) -> None:
        """Raise `search.SearchError` if the store cannot run the view's query."""
        search.check(self.conn, view)

    def detail(self, conversation_id: int) -> ConversationDetail:
        return conversation.get_detail(self.conn, conversation_id)

    def has_conversation(self, conversation_id: int) -> bool:
        return conversation.has_conversation(self.conn, conversation_id)

    def last_message_id(self, conversation_id: int) -> int:
        """Newest message of the conversation (collision detection compares against it)."""
        return conversation.last_message_id(self.conn, conversation_id)

    def messages_after(self, conversation_id: int, message_id: int) -> list[Message]:
        """What arrived (from anyone but notes) since the agent started replying."""
        return conversation.messages_after(self.conn, conversation_id, message_id)

    def listed(self, view: View, limit: int | None) -> Iterator[Record]:
        """The view's conversations in its order, as records without messages."""
        return records.listed(self.conn, view, limit)

    def records(self, ids: Sequence[int], *, messages: bool) -> list[Record]:
        return records.records(self.conn, ids, messages=messages)

    def ids_by_id(self, view: View) -> Iterator[list[int]]:
        """The view's conversation ids in id order, a batch at a time (for an export)."""
        return records.ids_by_id(self.conn, view)

    def report(
        self, period: Period, by: Dimension, policy: SlaPolicy, now: float
    ) -> reporting.ReportData:
        """Everything a report shows (storage/reporting.py)."""
        return reporting.gather(self.conn, period, by, policy, now)

    def search_knowledge(self, query: str) -> list[knowledge.Article]:
        return knowledge.search(self.conn, query)

    def sync_knowledge(self, folder: Path) -> list[str]:
        """Index the folder's new and changed articles, drop removed ones; the problems."""
        return knowledge.sync_folder(self.conn, folder)

    # agent actions (storage/actions.py) -----------------------------------------------------

    def close_conversation(
        self, conversation_id: int, actor: str, *, survey: bool = True
    ) -> list[str]:
        """Close; `survey=False` for a close that resolved nothing (a history import)."""
        wanted = self.survey_policy if survey else None
        with transaction(self.conn):
            return actions.close(
                self.conn, conversation_id, actor, self.policy, wanted, self.clock()
            )

    def reopen(self, conversation_id: int, actor: str) -> list[str]:
        """Reopen; a survey of the close not sent yet is withdrawn (nothing is resolved)."""
        with transaction(self.conn):
            return actions.reopen(self.conn, conversation_id, actor, self.policy, self.clock())

    def snooze(
        self,
        conversation_id: int,
        actor: str,
        until: float,
        *,
        wake_on_reply: bool = True,
        note: str | None = None,
    ) -> list[str]:
        now = self.clock()
        with transaction(self.conn):
            return actions.snooze(
                self.conn,
                conversation_id,
                actor,
                until,
                wake_on_reply=wake_on_reply,
                note=note,
                policy=self.policy,
                now=now,
            )

    def wake_due(self) -> list[int]:
        """Wake every snoozed conversation whose time has come; return their ids."""
        with transaction(self.conn):
            return actions.wake_due(self.conn, self.policy, self.clock())

    def mark_read(self, conversation_id: int) -> None:
        with transaction(self.conn):
            actions.mark_read(self.conn, conversation_id)

    def assign(self, conversation_id: int, actor: str, assignee: str | None) -> None:
        with transaction(self.conn):
            actions.assign(self.conn, conversation_id, actor, assignee, self.clock())

    def tag(self, conversation_ids: Iterable[int], actor: str, name: str, on: bool = True) -> None:
        with transaction(self.conn):
            actions.tag(self.conn, conversation_ids, actor, name, on, self.clock())

    def add_note(self, conversation_id: int, author: str, text: str) -> int:
        """An internal note: in the thread, never sent, changes no status."""
        with transaction(self.conn):
            return actions.add_note(self.conn, conversation_id, author, text, self.clock())

    def raise_checkins(self) -> list[int]:
        """Raise every check-in due now (storage/checkins.py); the new conversations."""
        every = checkins.intervals(self.policy)
        with transaction(self.conn):
            return checkins.create_due(self.conn, every, self.clock())

    # tags, canned replies, drafts (storage/library.py) --------------------------------------

    def ensure_tag(self, name: str, color: str = "cyan") -> int:
        with transaction(self.conn):
            return library.ensure_tag(self.conn, name, color)

    def tags(self) -> list[tuple[str, str]]:
        return library.tags(self.conn)

    def common_tags(self, conversation_ids: Sequence[int]) -> set[str]:
        """The tags every one of these conversations has (the tag picker's check marks)."""
        return library.common_tags(self.conn, conversation_ids)

    def canned_replies(self) -> list[CannedReply]:
        return library.canned_replies(self.conn)

    def upsert_canned_reply(
        self, name: str, body: str, *, shortcut: str | None, folder: str, source: str
    ) -> None:
        now = self.clock()
        with transaction(self.conn):
            library.upsert_canned_reply(
                self.conn, name, body, shortcut=shortcut, folder=folder, source=source, now=now
            )

    def save_draft(
        self, conversation_id: int, body: str, *, agent: str, mode: DraftMode = "reply"
    ) -> None:
        """Keep (or, when blank, drop) `agent`'s draft of one mode in one conversation."""
        now = self.clock()
        with transaction(self.conn):
            library.save_draft(self.conn, conversation_id, body, agent=agent, mode=mode, now=now)

    def draft(self, conversation_id: int, *, agent: str, mode: DraftMode = "reply") -> str:
        """`agent`'s saved draft of this mode ('' when none): never another agent's."""
        return library.draft(self.conn, conversation_id, agent=agent, mode=mode)

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

    # customer satisfaction surveys (storage/surveys.py, survey_flow.py, nps.py) -------------

    survey_policy: SurveyPolicy | None = None  # set by the console from `[surveys]`; None: none

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
            return survey_flow.after_close(
                self.conn, conversation_id, actor, self.survey_policy, now
            )

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
        with transaction(self.conn):
            pending = followups.cancellable(self.conn, batch)
            outbox.cancel_batch(self.conn, batch, actor, self.clock())
            undo.restore(self.conn, followups.only(snapshot, pending), actor, self.clock())
            return len(pending), followups.not_cancelled(self.conn, batch)

    def send_held_as_dm(self, message_id: int, actor: str) -> bool:
        """The agent's choice for a Slack reply held because its question was deleted: send
        it to the customer as a direct message (storage/held_replies.py). False if not held."""
        now = self.clock()
        with transaction(self.conn):
            conversation_id = held_replies.send_as_dm(self.conn, message_id, now)
            if conversation_id is None:
                return False
            record_event(self.conn, conversation_id, now, actor, "reply_as_dm", {})
        return True

    def customer_slack_user(self, conversation_id: int) -> str | None:
        """The Slack user who asked in this conversation (a held reply's DM goes to them)."""
        return held_replies.customer_slack_user(self.conn, conversation_id)
