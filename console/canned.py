"""Canned replies: Jinja2 templates rendered safely, and within limits, for one customer.

Sandboxed (a reply body is admin or agent text, but it must not reach Python internals) and
StrictUndefined (an unknown variable is an error that names it, never an empty string sent to a
customer). A template cannot hang or exhaust the console either: `render` gives up after
MAX_SECONDS (a trace on the template's own code, so loops of any nesting stop), refuses any
output over MAX_OUTPUT characters and any operation that would build a value that large
(`'a' * 10**9`, `range(10**9)`, `'x' ~ x` doubling, `|indent(10**9)`, `'%999999999s'`, huge
powers), and turns every error (`1/0`, a type error, recursion) into a TemplateProblem naming
the reply: the caller shows it, nothing is raised into the UI. `check` renders against SAMPLE
and also looks at branches the sample does not take, for unknown variables and attributes.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from functools import cache
from types import FrameType
from typing import TYPE_CHECKING, Any

from storage.models import ConversationDetail

if TYPE_CHECKING:  # Jinja2 is imported on the first render: not on the path to the first frame
    from jinja2.sandbox import SandboxedEnvironment

MAX_OUTPUT = 100_000  # characters: a reply, or any string/list built on the way
MAX_SECONDS = 0.5  # of rendering, per reply
MAX_POWER_BITS = 4096  # `a ** b` may not build a number much larger than this
_LONG_NUMBER = re.compile(r"\d{6,}")  # a width or precision in a format string: too wide


class TemplateProblem(ValueError):
    """Why a reply cannot be rendered: names the reply, and the variable, line or limit."""


class _Limit(Exception):
    """A template went over one of the limits; the message says which."""


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


# `{{ survey }}`: where the tier's survey question and rating links go. The composer shows this
# mark; sending puts the links in its place (console/actions.py, storage/surveys.py) or, with
# no survey to give, removes it and notes why on the conversation.
SURVEY_MARK = "[survey: the rating question and links go here when sent]"

# `{{ cursor }}`: where the composer leaves the cursor after inserting the reply. Only the
# composer asks for the mark (`variables(..., cursor=True)`); everywhere else (follow-ups, the
# CLI) it renders as nothing, so the mark can never reach a customer.
CURSOR_MARK = "\u2038"  # ‸ the caret insertion point: visible in the picker's preview

# Placeholder values to try a template with before it is saved or accepted by check-config.
SAMPLE: dict[str, object] = {
    "contact": Person("Alex Sample", "Alex", "alex@example.com"),
    "agent": Person("Sam Agent", "Sam", "sam@example.com"),
    "conversation": ConversationVars(1, "Sample subject", "email"),
    "survey": SURVEY_MARK,
    "cursor": CURSOR_MARK,
}
_ATTRIBUTES = {"contact": Person, "agent": Person, "conversation": ConversationVars}


def variables(
    detail: ConversationDetail, agent_name: str, agent_email: str, *, cursor: bool = False
) -> dict[str, object]:
    """What a template can name, for this conversation; `cursor` marks `{{ cursor }}`."""
    contact = detail.contact
    email = next((i.address for i in contact.identities if i.kind == "email"), "")
    conv = detail.conversation
    return {
        "contact": Person(contact.name, _first(contact.name), email),
        "agent": Person(agent_name, _first(agent_name), agent_email),
        "conversation": ConversationVars(conv.id, conv.subject, conv.channel),
        "survey": SURVEY_MARK,
        "cursor": CURSOR_MARK if cursor else "",
    }


def _first(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


def _too_big(value: object) -> bool:
    return isinstance(value, (str, list, tuple, bytes)) and len(value) > MAX_OUTPUT


def _check_args(args: Iterable[object], *, spec: bool = False) -> None:
    """Refuse sizes no reply needs: an int over MAX_OUTPUT, a format width of 6+ digits."""
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_OUTPUT:
            raise _Limit(f"the number {arg} is over the limit of {MAX_OUTPUT}")
        if spec and isinstance(arg, str) and _LONG_NUMBER.search(arg):
            raise _Limit("a format width or precision over the limit")


def _limited_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps jinja_pass_arg: the filter still gets its context
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_args([*args, *kwargs.values()], spec=func.__name__.endswith("format"))
        result = func(*args, **kwargs)
        if _too_big(result):
            raise _Limit(f"a value over {MAX_OUTPUT} characters")
        return result

    return wrapper


def _limited_join(items: Iterable[Any]) -> str:
    result = "".join(str(item) for item in items)
    if len(result) > MAX_OUTPUT:
        raise _Limit(f"a value over {MAX_OUTPUT} characters")
    return result


@cache
def _env() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined, nodes
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.sandbox import SandboxedEnvironment

    class _Generator(CodeGenerator):
        """`a ~ b` joins through the environment, which caps the result."""

        def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
            self.write("environment.limited_join((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class _Limited(SandboxedEnvironment):
        code_generator_class = _Generator
        intercepted_binops = frozenset({"*", "**", "%", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and _power_too_big(left, right):
                raise _Limit(f"{left} ** {right} is over the limit")
            if operator == "*":
                _check_repeat(left, right)
            if operator == "%" and isinstance(left, str):
                _check_args([left], spec=True)
            result = self.binop_table[operator](left, right)
            if _too_big(result):
                raise _Limit(f"a value over {MAX_OUTPUT} characters")
            return result

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            spec = getattr(__obj, "__name__", "") in ("format", "format_map")
            _check_args([*args, *kwargs.values()])
            if spec:  # the sandbox wraps str.format: the string is the wrapped method's self
                method = getattr(__obj, "__wrapped__", __obj)
                _check_args([getattr(method, "__self__", "")], spec=True)
            result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
            if _too_big(result):
                raise _Limit(f"a value over {MAX_OUTPUT} characters")
            return result

    env = _Limited(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters = {name: _limited_filter(f) for name, f in env.filters.items()}
    env.limited_join = _limited_join  # type: ignore[attr-defined]
    return env


def _power_too_big(left: Any, right: Any) -> bool:
    """Integer powers only: a float power overflows quickly, and that is a caught error."""
    if not isinstance(left, int) or not isinstance(right, int) or abs(left) <= 1:
        return False
    return right * abs(left).bit_length() > MAX_POWER_BITS


def _check_repeat(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        repeatable = isinstance(seq, (str, list, tuple)) and isinstance(times, int)
        if repeatable and len(seq) * times > MAX_OUTPUT:
            raise _Limit(f"repeating that {times} times is over {MAX_OUTPUT} characters")


def render(name: str, body: str, values: dict[str, object]) -> str:
    """The reply for these values, or TemplateProblem: never any other exception."""
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    try:
        template = _env().from_string(body)
        return _generate(template.generate(values)).strip("\n")
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"canned reply {name!r}, line {exc.lineno}: {exc.message}") from exc
    except UndefinedError as exc:
        raise TemplateProblem(f"canned reply {name!r}: {_undefined(exc, body)}") from exc
    except (SecurityError, _Limit) as exc:
        raise TemplateProblem(f"canned reply {name!r}: not allowed: {exc}") from exc
    except RecursionError as exc:
        raise TemplateProblem(f"canned reply {name!r}: calls itself without end") from exc
    except MemoryError as exc:
        raise TemplateProblem(f"canned reply {name!r}: too large to render") from exc
    except Exception as exc:  # 1/0, a type error: the template's fault, shown not raised
        raise TemplateProblem(
            f"canned reply {name!r}: {type(exc).__name__}: {str(exc)[:200]}"
        ) from exc


def _generate(chunks: Iterable[str]) -> str:
    """Consume the render with the time limit traced in and the output size capped."""
    deadline = time.monotonic() + MAX_SECONDS

    def local(frame: FrameType, event: str, arg: object) -> Any:
        if time.monotonic() > deadline:
            raise _Limit(f"took over {MAX_SECONDS:g} s to render")
        return local

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        if time.monotonic() > deadline:
            raise _Limit(f"took over {MAX_SECONDS:g} s to render")
        return local if frame.f_code.co_filename == "<template>" else None

    out: list[str] = []
    size = 0
    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _Limit(f"the reply is over {MAX_OUTPUT} characters")
            out.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(out)


def check(name: str, body: str) -> None:
    """Raise TemplateProblem if the template fails for SAMPLE or names an unknown variable
    or attribute anywhere (also in branches the sample does not take)."""
    from jinja2 import TemplateSyntaxError, meta, nodes

    try:
        tree = _env().parse(body)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"canned reply {name!r}, line {exc.lineno}: {exc.message}") from exc
    for unknown in sorted(meta.find_undeclared_variables(tree) - set(SAMPLE)):
        raise TemplateProblem(
            f"canned reply {name!r}: {{{{ {unknown} }}}} is not a known variable (known: {KNOWN})"
        )
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in _ATTRIBUTES:
            known = {f.name for f in fields(_ATTRIBUTES[node.node.name])}
            if node.attr not in known:
                raise TemplateProblem(
                    f"canned reply {name!r}, line {node.lineno}: {{{{ {node.node.name}."
                    f"{node.attr} }}}} is not a known variable (known: {KNOWN})"
                )
    render(name, body, dict(SAMPLE))


def _undefined(exc: Exception, body: str) -> str:
    """Jinja says "'X object' has no attribute 'y'" or "'y' is undefined": name the variable."""
    message = getattr(exc, "message", None) or ""
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
    "conversation.subject, conversation.channel, conversation.id, survey, cursor"
)
_NO_ATTRIBUTE = re.compile(r"has no attribute '(\w+)'")
_UNDEFINED = re.compile(r"'(\w+)' is undefined")
