"""Canned replies: Jinja2 templates rendered safely for one customer.

Sandboxed (a reply body is admin or agent text, but it must not reach Python internals) and
StrictUndefined (an unknown variable is an error that names it, never an empty string sent to a
customer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from storage.models import ConversationDetail

if TYPE_CHECKING:  # Jinja2 is imported on the first render: not on the path to the first frame
    from jinja2 import UndefinedError
    from jinja2.sandbox import SandboxedEnvironment


@cache
def _env() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


class TemplateProblem(ValueError):
    """Why a reply cannot be rendered: names the reply, and the variable or line."""


@dataclass(frozen=True)
class Person:
    name: str
    first_name: str
    email: str


@dataclass(frozen=True)
class ConversationVars:
    id: int
    subject: str
    channel: str


def variables(detail: ConversationDetail, agent_name: str, agent_email: str) -> dict[str, object]:
    contact = detail.contact
    email = next((i.address for i in contact.identities if i.kind == "email"), "")
    conv = detail.conversation
    return {
        "contact": Person(contact.name, _first(contact.name), email),
        "agent": Person(agent_name, _first(agent_name), agent_email),
        "conversation": ConversationVars(conv.id, conv.subject, conv.channel),
    }


def _first(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


def render(name: str, body: str, values: dict[str, object]) -> str:
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    try:
        return _env().from_string(body).render(values).strip("\n")
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"canned reply {name!r}, line {exc.lineno}: {exc.message}") from exc
    except UndefinedError as exc:
        raise TemplateProblem(f"canned reply {name!r}: {_undefined(exc, body)}") from exc
    except SecurityError as exc:
        raise TemplateProblem(f"canned reply {name!r}: not allowed: {exc}") from exc


def _undefined(exc: UndefinedError, body: str) -> str:
    """Jinja says "'X object' has no attribute 'y'" or "'y' is undefined": name the variable."""
    message = exc.message or ""
    variable = message
    attribute = _NO_ATTRIBUTE.search(message)
    if attribute:
        used = re.search(rf"(\w+)\.{re.escape(attribute.group(1))}\b", body)
        variable = f"{used.group(1) if used else '?'}.{attribute.group(1)}"
    elif match := _UNDEFINED.search(message):
        variable = match.group(1)
    return f"{{{{ {variable} }}}} is not a known variable (known: {KNOWN})"


KNOWN = (
    "contact.first_name, contact.name, contact.email, agent.name, agent.first_name, "
    "conversation.subject, conversation.channel, conversation.id"
)
_NO_ATTRIBUTE = re.compile(r"has no attribute '(\w+)'")
_UNDEFINED = re.compile(r"'(\w+)' is undefined")
