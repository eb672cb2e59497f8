"""Small builders for messages as connectors hand them to the store."""

from __future__ import annotations

from storage.models import Channel, Direction, IdentityRef, InboundMessage

AGENT = IdentityRef("email", "support@frontdesk.test", "Sam Agent")


def customer(address: str = "alice@example.com", name: str = "Alice Liddell") -> IdentityRef:
    return IdentityRef("email", address, name)


def email(
    account_id: int,
    remote_id: str,
    sent_at: float,
    *,
    who: IdentityRef | None = None,
    direction: Direction = "in",
    subject: str = "Help with my order",
    text: str = "Hello, my order has not arrived.",
    parents: tuple[str, ...] = (),
    channel: Channel = "email",
    group_window: float = 0.0,
) -> InboundMessage:
    person = who or customer()
    return InboundMessage(
        account_id=account_id,
        remote_id=remote_id,
        channel=channel,
        direction=direction,
        author=person if direction == "in" else AGENT,
        customer=person,
        sent_at=sent_at,
        subject=subject,
        text=text,
        thread_ref=remote_id,
        parent_refs=parents,
        group_key=subject.lower(),
        group_window=group_window,
    )
