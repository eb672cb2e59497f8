"""Reading the config file before TOML sees it: the nesting guard's line numbers, what it skips
(comments, strings), its exact limit, and the whole message for each file that cannot be read.
Oracles by hand: the line of the first `[`/`{` that goes over MAX_NESTING (50).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.config import (
    MAX_NESTING,
    ConfigError,
    load_config,
    nesting_too_deep,
    read_config_text,
)

N = 50
OPEN, CLOSE = "[" * N, "]" * N


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"a = {OPEN}{CLOSE}", None),  # exactly the limit
        (f"a = {OPEN}[", 1),  # one over
        ("[" * (N + 1), 1),  # from the very first character
        (f"a = {'{x = ' * N}1{'}' * N}", None),  # inline tables count like arrays
        (f"a = {'{x = ' * N}[1]", 1),
        (f"a = []\nb = {OPEN}{CLOSE}", None),  # closed brackets give their depth back
        ("a = " + "[]" * (N + 5), None),
        (f"a = {OPEN}][[", 1),  # 50 open, 1 closed, 2 opened: 51
        ("a = ]]]\nb = " + OPEN + CLOSE, None),  # a stray close never lends depth
        (f"\n\n[[table]]\nx = 1\nb = {OPEN}[", 5),  # lines counted; [[table]] closes itself
        (f"# {OPEN}[ a comment\nb = {OPEN}{CLOSE}", None),
        (f"# comment\n# {OPEN}[\nb = {OPEN}[", 3),
        (f'x = "{OPEN}["\ny = 1', None),  # brackets in a basic string
        (f"x = '{OPEN}['\ny = {OPEN}[", 2),  # ... in a literal string
        (f'x = """\n{OPEN}[\n"""\ny = {OPEN}[', 4),  # ... in a multi-line string
        (f"x = '''\n\n'''\ny = {OPEN}[", 4),
        (f'x = "a\\"{OPEN}["\ny = {OPEN}[', 2),  # an escaped quote does not end it
        (f"# last line, no newline {OPEN}[", None),
    ],
)
def test_the_nesting_guard_names_the_line_that_goes_too_deep(text: str, line: int | None) -> None:
    assert MAX_NESTING == N
    assert nesting_too_deep(text) == line


def test_a_missing_config_says_where_to_copy_the_example(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        read_config_text(path)
    assert str(caught.value) == (
        f"{path}: no such file — copy config.example.toml there, or pass --config PATH"
    )


def test_a_path_through_a_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x = 1\n", encoding="utf-8")
    path = tmp_path / "file" / "config.toml"
    with pytest.raises(ConfigError) as caught:
        read_config_text(path)
    assert str(caught.value) == f"{path}: cannot be read: Not a directory"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.mkdir(), "a folder"),
        (lambda p: os.mkfifo(p), "a named pipe"),
    ],
)
def test_only_a_regular_file_is_read(tmp_path: Path, make: object, kind: str) -> None:
    path = tmp_path / "config.toml"
    make(path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as caught:
        read_config_text(path)
    assert str(caught.value) == (
        f"{path}: not a regular file ({kind}): point --config at the TOML file"
    )


def test_a_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config_text(Path("/dev/null"))
    assert str(caught.value) == (
        "/dev/null: not a regular file (a device): point --config at the TOML file"
    )


IMAP = """[[accounts]]
name = "mail"
kind = "imap"
imap_host = "localhost"
username = "u"
smtp_host = "localhost"
from_address = "Support <s@x.com>"
password_env = "P"
"""


def error_of(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_an_account_name_used_twice_names_the_second(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = IMAP + "\n" + IMAP.replace('"mail"', '"chat"') + "\n" + IMAP
    # The third account (index 2) repeats "mail": its name is on line 8 + 1 + 8 + 1 + 2 = 20.
    assert text.splitlines()[19] == 'name = "mail"'
    assert error_of(path, text) == (
        f"{path}:20: accounts[2].name: the name 'mail' is used twice"
        " — give each account its own name"
    )


def test_a_rule_naming_an_unknown_tier_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = (
        '[tiers.standard]\ndefault = true\n\n[tiers.advanced]\nfirst_response = "1h"\n\n'
        '[[tier_rules]]\ndomain = "x.com"\ntier = "advanced"\n\n'
        '[[tier_rules]]\ndomain = "y.com"\ntier = "gold"\n'
    )
    assert error_of(path, text) == (
        f"{path}:13: tier_rules[1].tier: unknown tier 'gold'"
        " — define [tiers.gold] or use one of advanced, standard"
    )


def test_two_default_tiers_name_the_second(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = '[tiers.gold]\ndefault = true\n\n[tiers.silver]\nfirst_response = "1h"\ndefault = true\n'
    assert error_of(path, text) == (
        f"{path}:6: tiers.silver.default: gold and silver are both the default tier"
        " — keep default = true on one"
    )
