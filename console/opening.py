"""Opening what every command needs: the validated config (or one line and exit 2) and the
store (or one line and exit 1), for the `frontdesk` group and the scripting commands alike.

Below both: `console.cli` registers `console.scripting`, and both open through here."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from console.config import ConfigError, FrontdeskConfig, default_config_path, load_config
from storage.db import StoreError
from storage.store import Store

EXIT_CONFIG = 2
CONSOLE_CHECK = 0.25  # seconds of integrity check before the console opens (sync: all of it)
# quick_check runs each table in one SQLite step that the progress handler cannot interrupt,
# so a time budget does not bound it: the 1M-conversation store (2.3 GB) took 3.3 s with its
# pages cached and 35 s from disk with a "2 s" budget (issue 18). A bounded check therefore runs
# only on a file it can finish in time at this conservative rate; a larger store opens without
# it (`frontdesk sync` still checks all of it before writing, `frontdesk doctor` on demand).
CHECK_BYTES_PER_SECOND = 100 << 20


def load_config_or_exit(config_path: Path | None) -> FrontdeskConfig:
    """The validated config, or a clear message on stderr and exit 2: never a traceback."""
    path = config_path or default_config_path()
    try:
        config = load_config(path)
    except ConfigError as exc:
        click.echo(f"frontdesk: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    warn_if_readable(path, config)
    return config


def warn_if_readable(path: Path, config: FrontdeskConfig) -> None:
    """The file says where every secret lives: others on the machine should not read it."""
    mode = path.stat().st_mode
    if config.accounts and mode & (stat.S_IRGRP | stat.S_IROTH):
        click.echo(
            f"frontdesk: warning: {path} is readable by other users"
            f" (mode {stat.S_IMODE(mode):o}) and names where your secrets come from:"
            f" chmod 600 {path}",
            err=True,
        )


@contextmanager
def open_store(
    path: Path, config: FrontdeskConfig | None = None, *, check: float | None = None
) -> Iterator[Store]:
    """The store, or one line and exit 1. With `check`, a damaged file is refused before any
    write (quick_check: 0 means always, to the end; else seconds, when the file fits them)."""
    try:
        store = Store(path.expanduser(), policy=config.policy() if config else None)
    except StoreError as exc:
        click.echo(f"frontdesk: {exc}", err=True)
        sys.exit(1)
    try:
        if check is not None and _checkable(path.expanduser(), check):
            store.require_intact(budget=check or None)
    except StoreError as exc:
        store.close()
        click.echo(f"frontdesk: {exc}", err=True)
        sys.exit(1)
    if config is not None and config.surveys.enabled:
        _use_surveys(store, config)
    try:
        yield store
    finally:
        store.close()


def _checkable(path: Path, budget: float) -> bool:
    """Whether quick_check can read the whole file within `budget` seconds (0: no limit)."""
    try:
        size = path.stat().st_size
    except OSError:
        return True  # let the check (or the open) say what is wrong
    return not budget or size <= budget * CHECK_BYTES_PER_SECOND


def _use_surveys(store: Store, config: FrontdeskConfig) -> None:
    """`[surveys]`: closing a conversation queues a survey; answers go to the account's address."""
    from console.surveys import survey_policy  # the MIME parser: not on the console's path

    store.use_surveys(survey_policy(store, config))
