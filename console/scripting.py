"""The command-line face of the store: every read and every agent action, for scripts.

Reads print JSON (storage/records.py has the shape, a contract): `list [QUERY] [--view NAME]
[--limit N]` an array without messages, `show ID` one conversation with its messages,
`export [QUERY]` JSON Lines, streamed in id batches (constant memory), with a progress line on
stderr only when stderr is a terminal. QUERY is the console's search grammar (storage/search.py).

Actions go through the same code as the console (console/actions.py: `send_reply` is ctrl+s in
the composer, `Actions` the queue's keys), so they write the same rows and record the same
events, under the acting agent's name: the config's `[agent]`, or `--as EMAIL` for another
configured agent. Each prints one line per conversation it changed.

Bad input (an unknown ID, a bad query, a conversation whose account is no longer configured,
an empty text, an unknown agent) is one line on stderr, exit 1, and nothing written: every
argument is checked before the first write.
"""

from __future__ import annotations

import email.utils
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn, TextIO

import click

from console import jsonout, readable
from console.actions import Actions, send_reply
from console.config import AgentSettings, FrontdeskConfig
from console.opening import load_config_or_exit, open_store
from storage import queue, records, search
from storage.queue import View
from storage.store import Store

EXIT_BAD_INPUT = 1
# Every conversation, any status: the most recently active first.
EVERYTHING = View("all", "1", key="last_message_at", order="desc")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The TOML file (default: $FRONTDESK_CONFIG, then ~/.config/frontdesk/config.toml).",
)
as_option = click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="Act as this configured agent (default: the config's [agent]).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (default: lines for a person to read)."
)


def fail(message: str) -> NoReturn:
    """One line on stderr naming what and why; exit non-zero."""
    command = click.get_current_context(silent=True)
    name = command.info_name if command else None
    click.echo(f"frontdesk {name}: {message}" if name else f"frontdesk: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


@dataclass(frozen=True)
class Session:
    config: FrontdeskConfig
    store: Store
    agent: AgentSettings

    @property
    def actions(self) -> Actions:
        return Actions(self.store, self.agent.name, self.agent.email)


@contextmanager
def session(config_path: Path | None, as_email: str | None = None) -> Iterator[Session]:
    """The config, the acting agent and the store; a missing store is an error, not created."""
    config = load_config_or_exit(config_path)
    agent = acting_agent(config, as_email)
    path = config.storage.path.expanduser()
    if not path.exists():
        fail(f"no store at {path}: `frontdesk sync` creates it")
    with open_store(path, config) as store:
        yield Session(config, store, agent)


def acting_agent(config: FrontdeskConfig, as_email: str | None) -> AgentSettings:
    if as_email is None:
        return config.agent
    for agent in (config.agent, *config.agents):
        if agent.email.casefold() == as_email.strip().casefold():
            return agent
    fail(f"--as {as_email}: not an agent in the config ({_agent_list(config)})")


def _agent_list(config: FrontdeskConfig) -> str:
    emails = dict.fromkeys(a.email for a in (config.agent, *config.agents))
    return "agents: " + ", ".join(emails)


# ---------------------------------------------------------------------------- arguments


def conversation_ids(store: Store, values: Sequence[str]) -> list[int]:
    """Each value as a conversation id that exists; fail on the first that is not."""
    ids: list[int] = []
    for value in values:
        text = value.strip().removeprefix("#")
        if not text.isdigit():
            fail(f"{value!r} is not a conversation ID (a number, as `list` prints it)")
        ids.append(int(text))
    for conversation_id in dict.fromkeys(ids):
        if not store.has_conversation(conversation_id):
            fail(f"no conversation {conversation_id}")
    return list(dict.fromkeys(ids))


def parse_query(s: Session, query: str) -> View:
    agents = [(a.name, a.email) for a in (s.config.agent, *s.config.agents)]
    try:
        view = search.parse(query, me=s.agent.email, agents=agents)
        s.store.check_search(view)
    except search.SearchError as exc:
        fail(f"bad query {query!r}: {exc}")
    return view


def named_view(s: Session, name: str) -> View:
    views = queue.standard_views(s.agent.email)
    for saved in s.config.views:
        views.append(replace(parse_query(s, saved.query), name=saved.name))
    for view in views:
        if view.name.casefold() == name.strip().casefold():
            return view
    fail(f"no view named {name!r} (views: {', '.join(v.name for v in views)})")


def selection(s: Session, query: str | None, view_name: str | None) -> View:
    """QUERY within the named view, either alone, or every conversation."""
    base = named_view(s, view_name) if view_name else None
    found = parse_query(s, query) if query else None
    if base and found:
        where = f"({base.where}) AND ({found.where})"
        return replace(base, where=where, params=(*base.params, *found.params))
    return base or found or EVERYTHING


def read_text(text: str | None, file: Path | None, dash: str | None) -> str:
    """The body from exactly one of --text, --file or `-` (stdin), stripped; never empty."""
    if dash not in (None, "-"):
        fail(f"unexpected argument {dash!r}: give the text with --text, --file or - (stdin)")
    given = [x for x in (text, file, dash) if x is not None]
    if len(given) != 1:
        fail("give the text once: --text TEXT, --file FILE or - (read stdin)")
    if file is not None:
        try:
            raw = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"--file {file}: cannot read it ({exc})")
    else:
        raw = sys.stdin.read() if dash == "-" else str(text)
    if not raw.strip():
        fail("the text is empty")
    return raw.strip()


def addresses(option: str, values: Sequence[str]) -> list[str]:
    found = []
    for value in values:
        _, address = email.utils.parseaddr(value)
        if "@" not in address or address != value.strip():
            fail(f"{option} {value!r} is not an email address")
        found.append(address)
    return found


# ---------------------------------------------------------------------------- output


@contextmanager
def stdout_pipe() -> Iterator[TextIO]:
    """stdout for JSON; a reader that goes away (`| head`) ends the command quietly."""
    try:
        yield sys.stdout
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit must not fail
        sys.exit(EXIT_BAD_INPUT)


# ---------------------------------------------------------------------------- reads


@click.command("list")
@config_option
@click.argument("query", required=False)
@click.option("--view", "view_name", default=None, help="A console view (e.g. 'needs reply').")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N.")
@json_option
def list_command(
    config_path: Path | None,
    query: str | None,
    view_name: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Conversations matching QUERY (console search grammar); --json: a JSON array."""
    with session(config_path) as s, stdout_pipe() as out:
        found = s.store.listed(selection(s, query, view_name), limit)
        if as_json:
            jsonout.write_array(out, found)
        else:
            out.writelines(readable.summary(record) + "\n" for record in found)


@click.command("show")
@config_option
@click.argument("conversation")
@json_option
def show_command(config_path: Path | None, conversation: str, as_json: bool) -> None:
    """One conversation with its messages; --json: as JSON."""
    with session(config_path) as s, stdout_pipe() as out:
        [conversation_id] = conversation_ids(s.store, [conversation])
        [record] = s.store.records([conversation_id], messages=True)
        out.write(jsonout.dumps(record) + "\n" if as_json else readable.thread(record))


@click.command("export")
@config_option
@click.argument("query", required=False)
def export_command(config_path: Path | None, query: str | None) -> None:
    """Every conversation (or those matching QUERY) with messages, as JSON Lines."""
    with session(config_path) as s, stdout_pipe() as out:
        view = parse_query(s, query) if query else EVERYTHING
        progress = Progress(s.store.count(view) if sys.stderr.isatty() else None)
        for ids in s.store.ids_by_id(view):
            for record in s.store.records(ids, messages=True):
                jsonout.write_line(out, record)
            progress.advance(len(ids))
        progress.done()


class Progress:
    """`exported N/M` rewritten in place on a terminal's stderr; silent when total is None."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.count = 0
        self._shown = 0.0

    def advance(self, n: int) -> None:
        self.count += n
        if self.total is not None and time.monotonic() - self._shown > 0.2:
            self._shown = time.monotonic()
            sys.stderr.write(f"\rexported {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.total is not None:
            sys.stderr.write(f"\rexported {self.count}/{self.total}\n")


# ---------------------------------------------------------------------------- actions

text_options = [
    click.argument("dash", required=False, metavar="[-]"),
    click.option("--text", default=None, help="The text."),
    click.option(
        "--file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Read the text from this file (UTF-8).",
    ),
]


def with_text(command: click.decorators.FC) -> click.decorators.FC:
    for decorate in reversed(text_options):
        command = decorate(command)
    return command


@click.command("reply")
@config_option
@as_option
@click.argument("conversation")
@with_text
@click.option("--close", is_flag=True, help="Close the conversation as the reply is queued.")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Send to ADDR instead.")
@click.option("--cc", "cc", multiple=True, metavar="ADDR", help="Copy ADDR too.")
def reply_command(
    config_path: Path | None,
    as_email: str | None,
    conversation: str,
    dash: str | None,
    text: str | None,
    file: Path | None,
    close: bool,
    to: tuple[str, ...],
    cc: tuple[str, ...],
) -> None:
    """Queue a reply in the outbox, as ctrl+s in the console; `frontdesk sync` sends it."""
    with session(config_path, as_email) as s:
        [conversation_id] = conversation_ids(s.store, [conversation])
        body = read_text(text, file, dash)
        detail = s.store.detail(conversation_id).conversation
        account = _configured_account(s, detail.account_id)
        if (to or cc) and detail.channel != "email":
            fail(f"--to/--cc: conversation {conversation_id} is on {detail.channel}, not email")
        message_id = send_reply(
            s.store,
            conversation_id,
            agent_name=s.agent.name,
            agent_email=s.agent.email,
            text=body,
            close=close,
            to=addresses("--to", to),
            cc=addresses("--cc", cc),
        )
        closed = " and closed" if close else ""
        click.echo(f"#{conversation_id}: reply queued{closed} (message {message_id}, {account})")


def _configured_account(s: Session, account_id: int) -> str:
    """The account's name; fail when the config no longer has it (nothing could send)."""
    name = s.store.account_name(account_id)
    if name not in {a.name for a in s.config.accounts}:
        fail(f"account {name!r} is closed (not in the config): the reply could never be sent")
    return name


@click.command("note")
@config_option
@as_option
@click.argument("conversation")
@with_text
def note_command(
    config_path: Path | None,
    as_email: str | None,
    conversation: str,
    dash: str | None,
    text: str | None,
    file: Path | None,
) -> None:
    """Add an internal note: in the thread, never sent to anyone."""
    with session(config_path, as_email) as s:
        [conversation_id] = conversation_ids(s.store, [conversation])
        body = read_text(text, file, dash)
        message_id = s.store.add_note(conversation_id, s.agent.name, body)
        click.echo(f"#{conversation_id}: note added (message {message_id})")


@click.command("tag", context_settings={"ignore_unknown_options": True})
@config_option
@as_option
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED, metavar="ID... +TAG -TAG")
def tag_command(config_path: Path | None, as_email: str | None, words: tuple[str, ...]) -> None:
    """Add (+TAG) and remove (-TAG) tags on one or more conversations."""
    marked = [w for w in words if w.startswith(("+", "-"))]
    changes = [(w[1:].strip(), w.startswith("+")) for w in marked]
    if not changes or any(not name for name, _ in changes):
        fail("name the tags: +TAG adds one, -TAG removes one")
    with session(config_path, as_email) as s:
        ids = conversation_ids(s.store, [w for w in words if w not in marked])
        if not ids:
            fail("name the conversations: tag ID... +TAG -TAG")
        for name, on in changes:
            s.actions.tag(ids, name, on)
            click.echo(f"{_refs(ids)}: {'tagged' if on else 'untagged'} {name}")


@click.command("assign")
@config_option
@as_option
@click.argument("words", nargs=-1, required=True, metavar="ID... (EMAIL|me|none)")
def assign_command(config_path: Path | None, as_email: str | None, words: tuple[str, ...]) -> None:
    """Assign conversations to a configured agent, to yourself (me), or to nobody (none)."""
    if len(words) < 2:
        fail("give the conversations, then who: assign ID... (EMAIL|me|none)")
    with session(config_path, as_email) as s:
        ids = conversation_ids(s.store, words[:-1])
        who = _assignee(s, words[-1])
        s.actions.assign(ids, who)
        click.echo(f"{_refs(ids)}: assigned to {who or 'nobody'}")


def _assignee(s: Session, value: str) -> str | None:
    if value == "none":
        return None
    if value == "me":
        return s.agent.email
    for agent in (s.config.agent, *s.config.agents):
        if agent.email.casefold() == value.strip().casefold():
            return agent.email
    fail(f"{value}: not an agent in the config ({_agent_list(s.config)}; or me, none)")


@click.command("snooze")
@config_option
@as_option
@click.argument("words", nargs=-1, required=True, metavar="ID... WHEN")
@click.option("--keep-on-reply", is_flag=True, help="Stay snoozed when the customer writes.")
@click.option("--note", default=None, help="A note shown when it wakes.")
def snooze_command(
    config_path: Path | None,
    as_email: str | None,
    words: tuple[str, ...],
    keep_on_reply: bool,
    note: str | None,
) -> None:
    """Snooze until WHEN ("tomorrow 9am", "3d", "2026-12-01 10:00"), as in the console."""
    from console.snooze_time import WhenError, describe, parse_when

    if len(words) < 2:
        fail('give the conversations, then when: snooze ID... "tomorrow 9am"')
    with session(config_path, as_email) as s:
        ids = conversation_ids(s.store, words[:-1])
        try:
            until = parse_when(words[-1], time.time())
        except WhenError as exc:
            fail(str(exc))
        s.actions.snooze(ids, until, wake_on_reply=not keep_on_reply, note=note or None)
        click.echo(f"{_refs(ids)}: snoozed until {describe(until)} ({records.iso(until)})")


def _status_command(name: str, verb: str) -> click.Command:
    @click.command(name)
    @config_option
    @as_option
    @click.argument("conversations", nargs=-1, required=True, metavar="ID...")
    def command(
        config_path: Path | None, as_email: str | None, conversations: tuple[str, ...]
    ) -> None:
        with session(config_path, as_email) as s:
            ids = conversation_ids(s.store, conversations)
            getattr(s.actions, name)(ids)
            click.echo(f"{_refs(ids)}: {verb}")

    command.help = f"Mark conversations {verb}, as in the console."
    return command


def _refs(ids: Sequence[int]) -> str:
    return " ".join(f"#{i}" for i in ids)


COMMANDS: list[click.Command] = [
    list_command,
    show_command,
    export_command,
    reply_command,
    note_command,
    tag_command,
    assign_command,
    snooze_command,
    _status_command("close", "closed"),
    _status_command("reopen", "reopened"),
]
