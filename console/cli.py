"""The `frontdesk` command. Its commands and flags are a contract other tools rely on."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from console import logs
from console.config import FrontdeskConfig, default_config_path
from console.opening import (
    CONSOLE_CHECK,
    EXIT_CONFIG,
    load_config_or_exit,
    open_store,
)
from storage import search
from storage.db import ReadError, StoreError
from storage.queue import View
from storage.store import Store

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The TOML file (default: $FRONTDESK_CONFIG, then ~/.config/frontdesk/config.toml).",
)


class _Frontdesk(click.Group):
    """Store faults met by any command (damaged, read-only, unreadable file) are one line on
    stderr and exit 1, never a traceback.

    The scripting commands (list, show, export and the agent actions) load on first use: the
    console's start-up does not pay for importing them (~60 ms of a ~0.2 s `import`)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _scripting_commands().get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_scripting_commands()})

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StoreError as exc:
            click.echo(f"frontdesk: {exc}", err=True)
            sys.exit(1)
        except ReadError as exc:
            click.echo(
                f"frontdesk: the store cannot be read: {exc}: run `frontdesk doctor`", err=True
            )
            sys.exit(1)


@click.group(cls=_Frontdesk, invoke_without_command=True)
@config_option
@click.option(
    "--log-level",
    type=click.Choice(logs.LEVELS),
    default="info",
    show_default=True,
    help="How much to write to the log file (in the XDG state dir, never the terminal).",
)
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_level: str) -> None:
    """Frontdesk: one keyboard-driven queue for support email and Slack."""
    logs.setup(log_level)
    if ctx.invoked_subcommand is not None:
        return
    config = load_config_or_exit(config_path)
    from connectors.email.mapping import own_address  # the MIME parser: loads with the console
    from connectors.email.settings import ImapAccountSettings
    from console.app import FrontdeskApp  # Textual loads only when the console opens
    from console.screens.queue import standard_views

    with open_store(config.storage.path, config, check=CONSOLE_CHECK) as store:
        _sync_canned_replies(store, config)
        views = [*standard_views(config.agent.email), *_saved_views(config)]
        FrontdeskApp(
            store,
            me=config.agent.email,
            agent_name=config.agent.name,
            agents=[(a.name, a.email) for a in config.agents],
            views=views,
            macros=[m.macro() for m in config.macros],
            keys=config.keys,
            knowledge_folder=config.knowledge.folder,
            own_addresses=[
                own_address(a.from_address)
                for a in config.accounts
                if isinstance(a, ImapAccountSettings)
            ],
            advance=config.console.advance,
            send_delay=config.console.send_delay,
        ).run()


def _saved_views(config: FrontdeskConfig) -> list[View]:
    views = []
    for index, saved in enumerate(config.views):
        try:
            view = search.parse(saved.query, me=config.agent.email)
        except search.SearchError as exc:
            click.echo(f"frontdesk: views[{index}].query: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        views.append(replace(view, name=saved.name))
    return views


def _sync_canned_replies(store: Store, config: FrontdeskConfig) -> None:
    for reply in config.canned_replies:
        store.upsert_canned_reply(
            reply.name, reply.body, shortcut=reply.shortcut, folder=reply.folder, source="config"
        )


@main.command()
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to keep the demo store (default: a fresh temporary file).",
)
def demo(db_path: Path | None) -> None:
    """Open the console on a generated inbox; new customer messages keep arriving."""
    import tempfile

    from console.demo import DEMO_POLICY, DemoInbox, demo_app, start_demo

    with tempfile.TemporaryDirectory(prefix="frontdesk-demo-") as tmp:
        path = db_path or Path(tmp) / "demo.db"
        with open_store(path) as store:
            store.policy = DEMO_POLICY
            start_demo(store, time.time(), arrivals=int(time.time()))
            # The demo channel (replies out, customers in) works over a second connection,
            # as `frontdesk sync` would.
            with open_store(path) as feed_store:
                feed_store.policy = DEMO_POLICY
                feed = DemoInbox(feed_store, arrivals=int(time.time()))
                demo_app(store, feed, time.time).run()


@main.command()
@config_option
@click.option("--once", is_flag=True, help="One full pass, then exit (non-zero if any failed).")
def sync(config_path: Path | None, once: bool) -> None:
    """Run every connector without a UI: ingest, deliver the outbox, wake snoozes."""
    from console.runner import run_sync

    config = load_config_or_exit(config_path)
    with open_store(config.storage.path, config, check=0) as store:
        try:
            failures = run_sync(store, config, once=once)
        except StoreError as exc:  # disk full, read-only file: the user's to fix, no traceback
            click.echo(f"frontdesk sync: {exc}", err=True)
            sys.exit(1)
    for line in failures:
        click.echo(f"frontdesk sync: {line}", err=True)
    sys.exit(1 if failures else 0)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the only format for now).")
def stats(config_path: Path | None, as_json: bool) -> None:
    """Counts of conversations and messages, per account."""
    config = load_config_or_exit(config_path)
    with open_store(config.storage.path, config) as store:
        numbers = store.stats()
    if as_json:
        click.echo(json.dumps(numbers))
        return
    click.echo(f"{numbers['conversations']} conversations, {numbers['messages']} messages")
    for account in numbers["accounts"]:  # type: ignore[attr-defined]
        click.echo(
            f"  {account['name']} ({account['kind']}): {account['conversations']}"
            f" conversations, {account['messages']} messages"
        )


@main.command()
@config_option
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="Start: a duration back from --until (24h, 7d, 4w) or a date (2026-06-01).",
)
@click.option("--until", default=None, help="End: a date (inclusive) or date-time; default now.")
@click.option(
    "--by",
    type=click.Choice(["tier", "channel", "agent", "tag"]),
    default=None,
    help="Slice the numbers (default: totals only).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(
    config_path: Path | None, since: str, until: str | None, by: str | None, fmt: str
) -> None:
    """Response and resolution times, FCR, volume, SLA breaches, backlog, check-ins due,
    and customer satisfaction (CSAT, CES, survey answers)."""
    from console import report as reporting

    config = load_config_or_exit(config_path)
    now = time.time()
    try:
        period = reporting.period(since, until, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    with open_store(config.storage.path, config) as store:
        data = store.report(period, reporting.dimension(by), config.policy(), now)
    click.echo(reporting.render(data, fmt), nl=False)


@main.command("check-config")
@config_option
@click.option(
    "--secrets",
    is_flag=True,
    help="Also read every secret (runs the *_cmd commands) and connect: IMAP login and"
    " folders, SMTP EHLO/STARTTLS/AUTH, Slack auth.test (and missing scopes).",
)
def check_config(config_path: Path | None, secrets: bool) -> None:
    """Validate the configuration; exit 0, or 2 with the reason."""
    from console.config import read_config_text
    from console.config_check import deep_problems

    path = config_path or default_config_path()
    config = load_config_or_exit(path)
    problems = deep_problems(path, read_config_text(path), config)
    if secrets:
        from console.connect_check import secret_problems

        problems += secret_problems(config, path)
    if problems:
        click.echo("\n".join(f"frontdesk: {p}" for p in problems), err=True)
        sys.exit(EXIT_CONFIG)
    connected = "; secrets read and every account connected" if secrets else ""
    click.echo(f"{path}: OK ({len(config.accounts)} accounts{connected})")


def _scripting_commands() -> dict[str, click.Command]:
    """list, show, export and the agent actions (console/scripting.py), by name."""
    from console import scripting

    return {command.name: command for command in scripting.COMMANDS if command.name}


@main.command()
@config_option
def doctor(config_path: Path | None) -> None:
    """Check the store: integrity, journal, schema, file modes, outbox, sync heartbeat.

    Exit 0 healthy, 1 needs attention, 3 damaged; never writes to the store."""
    from console.doctor import diagnose, verdict

    config = load_config_or_exit(config_path)
    findings = diagnose(config.storage.path.expanduser())
    for finding in findings:
        click.echo(f"{finding.level:>4}  {finding.text}")
    code, line = verdict(findings)
    click.echo(line)
    sys.exit(code)
