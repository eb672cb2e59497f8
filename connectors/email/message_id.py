"""The email connector mints its replies' Message-IDs; the store keeps each with its claim.

Where, when, why it is crash-safe (issues 13 and 14):
- Minted here, by the connector that sends the mail, in the domain of the ACCOUNT's
  `from_address` (the address the mail is from; an agent's own address is nobody's business
  outside, and a Message-ID in a domain other than the sender's reads as spam).
- Persisted at the reply's first claim: `EmailOutbox` passes a fresh id to
  `Store.outbox_claim_with_id`, which marks the item `sending` and stores the id (outbox and
  message) in ONE transaction, and only then is the mail composed with the id the store
  returns and handed to SMTP. A crash before that commit leaves the item unclaimed and no id
  anywhere (the next pass mints another, and nothing was sent under the first); a crash after
  it leaves the item `sending` with its id stored, whatever SMTP got.
- Reused by every later attempt: a claim keeps the id an earlier claim stored (a retry after a
  refusal, the one resend after a crash), and the probe of the Sent folder that comes first
  (`EmailOutbox.already_sent`) composes from the stored reply, so it looks for the id that may
  have gone out, and a resend carries that same id: never a second copy under another id.
- Before its claim a reply has only the store's local key (storage/message_ids.py): nothing
  outside can refer to it yet. From the claim on, the message's `remote_id`/`thread_ref` is
  the Message-ID, so a customer answering it threads into its conversation and its copy
  coming back from the Sent folder is recognised as the reply we have.
"""

from __future__ import annotations

from email.utils import make_msgid

from connectors.email.mapping import own_address

FALLBACK_DOMAIN = "localhost"  # a from_address without a domain is refused by the settings


def mint(from_address: str) -> str:
    """A fresh Message-ID in the domain of the account's `from_address`."""
    domain = own_address(from_address).rpartition("@")[2]
    return make_msgid(domain=domain or FALLBACK_DOMAIN)
