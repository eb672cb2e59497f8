"""The store's methods for the connectors, mixed into `Store` (storage/store.py): the outbox,
delivery, and keeping messages in step with their channel. Each is one transaction (or read)
over storage/outbox.py, delivery.py or remote.py. Kept apart only so the store's face reads
in two files of a manageable size; nothing else uses this class.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from storage import actions, contacts, delivery, message_ids, outbox, remote, survey_flow
from storage.db import transaction
from storage.models import IdentityRef, OutboxItem
from storage.policy import InboxPolicy
from storage.reply_context import ReplyContext, get_reply_context
from storage.surveys import SurveyPolicy


class ChannelMethods:
    conn: sqlite3.Connection
    clock: Callable[[], float]
    policy: InboxPolicy
    survey_policy: SurveyPolicy | None

    # outbox (storage/outbox.py) ---------------------------------------------------------------

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
            message_id = outbox.queue_reply(
                self.conn,
                conversation_id,
                author,
                text,
                remote_id=remote_id,
                close=close,
                headers=headers,
                batch=batch,
                send_delay=send_delay,
                survey_at=survey_at,
                policy=self.policy,
                survey_policy=self.survey_policy,
                now=now,
            )
            if close:
                survey_flow.after_close(self.conn, conversation_id, author, self.survey_policy, now)
        return message_id

    def take_back(self, message_id: int, actor: str) -> str | None:
        """Undo send: cancel a queued reply that has not started going out (or one held, e.g.
        its Slack question was deleted), put the conversation back as it was before it, and
        return its text for the composer. None when it is too late (being sent, sent)."""
        with transaction(self.conn):
            return outbox.take_back(self.conn, message_id, actor, self.clock())

    def post_held_in_channel(self, message_id: int, actor: str) -> bool:
        """The agent's choice for a Slack reply held because its question was deleted: post
        it as a new message in the channel. False if the reply is not held."""
        with transaction(self.conn):
            return outbox.post_held_in_channel(self.conn, message_id, actor, self.clock())

    def takeable_reply(self, conversation_id: int) -> tuple[int, float] | None:
        """(message id, when it goes out) of the conversation's newest reply still waiting
        out its send delay: what "Undo send" takes back."""
        return outbox.takeable_reply(self.conn, conversation_id, self.clock())

    def cancel_batch(self, batch: str, actor: str) -> int:
        """Cancel a follow-up batch's replies that have not started sending; return how many."""
        with transaction(self.conn):
            return outbox.cancel_batch(self.conn, batch, actor, self.clock())

    def batch_status(self, batch: str) -> dict[str, int]:
        return outbox.batch_status(self.conn, batch)

    def due_outbox(self, account_id: int | None = None) -> list[OutboxItem]:
        """Items to send now: queued or failed, due, and neither uncertain nor held."""
        return outbox.due(self.conn, self.clock(), account_id)

    def outbox_due_now(self, account_id: int) -> bool:
        """Whether anything is due to send for the account (a cheap indexed look)."""
        return outbox.due_now(self.conn, account_id, self.clock())

    def outbox_item(self, outbox_id: int) -> OutboxItem:
        return outbox.item(self.conn, outbox_id)

    def outbox_sent(self, outbox_id: int, *, sent_copy: str | None = None) -> None:
        """The server accepted it; `sent_copy='pending'` when a Sent-folder copy is owed."""
        with transaction(self.conn):
            outbox.sent(self.conn, outbox_id, sent_copy, self.clock())

    def outbox_failed(self, outbox_id: int, error: str, retry_at: float) -> None:
        with transaction(self.conn):
            outbox.failed(self.conn, outbox_id, error, retry_at)

    def outbox_sent_as(
        self, outbox_id: int, account_id: int, remote_id: str, message_id: int | None = None
    ) -> bool:
        """Mark an item sent and give its message the id the server assigned (idempotent).

        The channel's echo of the reply then dedupes against it. False when the item is not
        this account's (or not for `message_id`): the caller treats the echo as foreign.
        """
        now = self.clock()
        with transaction(self.conn):
            return outbox.sent_as(self.conn, outbox_id, account_id, remote_id, message_id, now)

    # delivery lease and outcomes (storage/delivery.py) -------------------------------------

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
        return outbox.unfinished(self.conn, account_id, holder, self.clock())

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
            outbox.resending(self.conn, outbox_id, self.clock())

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

    # channel sync: edits, deletions, echoes of our own replies (storage/remote.py) ----------

    def known_remote_ids(self, account_id: int, remote_ids: Sequence[str]) -> set[str]:
        """The subset of `remote_ids` already stored for the account."""
        return remote.known_remote_ids(self.conn, account_id, remote_ids)

    def update_message_text(
        self, account_id: int, remote_id: str, text: str, edited_at: float | None
    ) -> bool:
        """Replace a message's text after an edit at the source; False if it is not stored,
        or if a newer edit is (an old edit redelivered late never overwrites a newer one)."""
        with transaction(self.conn):
            return remote.update_message_text(self.conn, account_id, remote_id, text, edited_at)

    def mark_deleted(self, account_id: int, remote_id: str) -> bool:
        """Flag a message deleted at the source (kept, so the thread still reads); False if
        it is not stored."""
        with transaction(self.conn):
            return remote.mark_deleted(self.conn, account_id, remote_id)

    def thread_root(self, conversation_id: int) -> str | None:
        """The remote id of the conversation's first message from the channel (not ours)."""
        return remote.thread_root(self.conn, conversation_id)

    def reply_context(self, message_id: int) -> ReplyContext:
        """A queued reply with the thread before it and the contact: what an email needs."""
        return get_reply_context(self.conn, message_id)

    def update_if_newer(self, account_id: int, remote_id: str, text: str, edited_at: float) -> bool:
        """A Slack edit, unless the stored text is already from this edit or a later one (a
        redelivered event or a stale page never undoes a newer edit)."""
        with transaction(self.conn):
            return remote.update_if_newer(self.conn, account_id, remote_id, text, edited_at)

    def open_threads(self, account_id: int, channel_id: str) -> dict[str, set[str]]:
        """The Slack messages (by thread root ts: the ts of every message stored in that
        thread, not deleted) of the channel's conversations that are not closed."""
        return remote.open_threads(self.conn, account_id, channel_id)

    def close_older(self, account_id: int, channel_id: str, horizon: float, actor: str) -> None:
        """Close the channel's conversations whose last message is older than `horizon` (a
        newly visible channel's past is history, not work), in one transaction."""
        now = self.clock()
        with transaction(self.conn):
            for conversation_id in remote.older_in_channel(
                self.conn, account_id, channel_id, horizon
            ):
                actions.close(
                    self.conn, conversation_id, actor, self.policy, self.survey_policy, now
                )

    # the email Message-ID, stored with the claim (storage/message_ids.py) ------------------

    def outbox_claim_with_id(
        self,
        outbox_id: int,
        minted: str,
        *,
        resuming: bool = False,
        holder: str | None = None,
    ) -> str | None:
        """`outbox_sending` and, in the same transaction, the reply's email Message-ID:
        `minted` unless an earlier claim gave it one. Returns the id the reply carries from
        now on, or None when the item could not be claimed (nothing stored)."""
        with transaction(self.conn):
            if not delivery.claim(self.conn, outbox_id, holder, resuming, self.clock()):
                return None
            return message_ids.assign(self.conn, outbox_id, minted)

    # names a channel could not give at first (storage/contacts.py) --------------------------

    def unnamed_identities(self, kind: str, prefix: str, account_id: int, limit: int) -> list[str]:
        return contacts.unnamed_identities(self.conn, kind, prefix, account_id, limit)

    def learn_name(self, ref: IdentityRef, placeholder: str) -> bool:
        """The identity stored as `placeholder` gets its name (contact, messages too)."""
        with transaction(self.conn):
            return contacts.learn_name(self.conn, ref, placeholder)
