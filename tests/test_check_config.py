"""`frontdesk check-config` turns every config the console or sync would trip on into exit 2,
one line per problem naming the file, the line, the key and the fix; never a traceback.

Each case marks its offending line with `# <-`: the expected line number is where that mark
is, counted in the text the test wrote (the oracle is the file, not the checker's locator).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FRONTDESK = [sys.executable, "-m", "console"]
AGENT = '[agent]\nname = "Sam Rivera"\nemail = "sam@desk.test"\n\n'
AGENTS = '[[agents]]\nname = "Kim Lee"\nemail = "kim@desk.test"\n\n'
REPLY = '[[canned_replies]]\nname = "Thanks"\nbody = "Hi {{ contact.first_name }}"\n\n'


def imap(extra: str = "", *, port: str = "993", sender: str = "") -> str:
    sender = f'"{sender}"  # <-' if sender else '"Support <help@desk.test>"'
    return (
        '[[accounts]]\nname = "mail"\nkind = "imap"\nimap_host = "imap.desk.test"\n'
        f'imap_port = {port}\nusername = "help@desk.test"\npassword_env = "P"\n'
        f'smtp_host = "smtp.desk.test"\nfrom_address = {sender}\n{extra}\n'
    )


def slack(url: str) -> str:
    return (
        '[[accounts]]\nname = "chat"\nkind = "slack"\nbot_token_env = "T"\n'
        f'api_url = "{url}"  # <-\n\n'
    )


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    key: str  # the key path the line must name
    fix: str  # words of the fix the line must give


CASES = [
    Case("unknown binding id", '[keys]\n"action.nope" = "x"  # <-\n', "keys.action.nope",
         "correct the id"),
    Case("clash with a macro key",
         '[keys]\n"action.close" = "f7"  # <-\n\n[[macros]]\nname = "m"\nkey = "f7"\n'
         'steps = [{ tag = "x" }]\n', "keys.action.close", "another key"),
    Case("invalid key name", '[keys]\n"action.close" = "...banana"  # <-\n',
         "keys.action.close", '"ctrl+e"'),
    Case("invalid macro key", '[[macros]]\nname = "m"\nkey = "ctrl+banana"  # <-\n'
         'steps = [{ tag = "x" }]\n', "macros[0].key", '"ctrl+e"'),
    Case("macro names a missing canned reply",
         REPLY + '[[macros]]\nname = "m"\nkey = "f8"\nsteps = [{ canned = "Thank you" }]  # <-\n',
         "macros[0].steps[0].canned", "'Thanks'"),
    Case("macro assigns to an unknown agent",
         '[[macros]]\nname = "m"\nkey = "f8"\nsteps = [{ assign = "bob@desk.test" }]  # <-\n',
         "macros[0].steps[0].assign", "kim@desk.test"),
    Case("template syntax error",
         '[[canned_replies]]\nname = "Broken"\nbody = "Hi {{ contact.name"  # <-\n',
         "canned_replies[0].body", "fix the template"),
    Case("template unknown variable in an untaken branch",
         '[[canned_replies]]\nname = "Odd"\n'
         "body = \"{% if false %}{{ contact.nickname }}{% endif %}Hi\"  # <-\n",
         "canned_replies[0].body", "contact.nickname"),
    Case("template that fails on the sample",
         '[[canned_replies]]\nname = "Div"\nbody = "{{ 1/0 }}"  # <-\n',
         "canned_replies[0].body", "ZeroDivisionError"),
    Case("saved view with an invalid query",
         '[[views]]\nname = "Mine"\nquery = "subjekt:refund"  # <-\n', "views[0].query",
         "subject:"),
    Case("missing CA file", imap('imap_cafile = "/nonexistent/ca.pem"  # <-'),
         "accounts[0].imap_cafile", "fix the path"),
    Case("bad from_address", imap(sender="Support"),
         "accounts[0].from_address", "Support <support@example.com>"),
    Case("a port written as true", imap(port="true  # <-"), "accounts[0].imap_port",
         "without quotes"),
    Case("http Slack api_url", slack("http://slack.example.com/api/"), "accounts[0].api_url",
         "https://"),
    Case("two default tiers",
         "[tiers.basic]\ndefault = true\n\n[tiers.gold]\ndefault = true  # <-\n",
         "tiers.gold.default", "keep default = true on one"),
    Case("missing name in the first account",
         '[[accounts]]  # <-\nkind = "slack"\nbot_token_env = "T"\n\n'
         '[[accounts]]\nname = "second"\nkind = "slack"\nbot_token_env = "U"\n',
         "accounts[0].name", "add it"),
]  # fmt: skip


def run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRONTDESK, "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_STATE_HOME": str(path.parent / "state")},
        check=False,
    )


def write(tmp_path: Path, body: str, *, agent: bool = True) -> Path:
    path = tmp_path / "config.toml"
    head = f'[storage]\npath = "{tmp_path / "store.db"}"\n\n' + (AGENT + AGENTS if agent else "")
    path.write_text(head + body, encoding="utf-8")
    path.chmod(0o600)
    return path


def marked_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.rstrip().endswith("# <-"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_broken_config_exits_2_with_file_line_key_and_fix(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case.text)
    done = run(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    line = f"{path}:{marked_line(path)}: {case.key}"
    hits = [ln for ln in done.stderr.splitlines() if line in ln]
    assert hits, f"no line starting {line!r} in:\n{done.stderr}"
    assert case.fix in hits[0], hits[0]


def test_no_agent_table_is_refused(tmp_path: Path) -> None:
    done = run(write(tmp_path, REPLY, agent=False))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "agent: no [agent] table — add [agent] with the name and email" in done.stderr


def test_a_sound_config_with_all_of_it_passes(tmp_path: Path) -> None:
    text = (
        REPLY
        + imap('imap_cafile = "' + str(tmp_path / "ca.pem") + '"')
        + slack("http://127.0.0.1:8999/api/")
        + '[keys]\n"action.close" = "f9"\n\n'
        + '[[macros]]\nname = "m"\nkey = "f8"\n'
        + 'steps = [{ canned = "Thanks" }, { assign = "kim@desk.test" }, { assign = "me" }]\n\n'
        + '[[views]]\nname = "Mine"\nquery = "tag:billing -is:closed"\n'
    )
    (tmp_path / "ca.pem").write_text("not checked for content here\n", encoding="utf-8")
    done = run(write(tmp_path, text))
    assert done.returncode == 0, done.stderr
    assert "OK (2 accounts)" in done.stdout


MACRO_SAVED = (
    '[[macros]]\nname = "m"\nkey = "f8"\nsteps = [{ canned = "Saved in the app" }]  # <-\n'
)


def test_a_macro_may_name_a_reply_saved_in_the_store(tmp_path: Path) -> None:
    """Replies agents saved in the console live in the store: check-config reads it
    (read-only) and accepts a macro naming one; the store file is left as it was."""
    from storage.store import Store

    with Store(tmp_path / "store.db") as store:
        store.upsert_canned_reply(
            "Saved in the app", "Hi", shortcut=None, folder="", source="agent"
        )
    before = (tmp_path / "store.db").read_bytes()
    done = run(write(tmp_path, REPLY + MACRO_SAVED))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "store.db").read_bytes() == before


def test_an_unreadable_store_is_left_to_doctor(tmp_path: Path) -> None:
    """A store file that is not SQLite: its saved replies are unknown, so the macro's reply
    is missing (one line, exit 2), and the check itself never fails on the file."""
    (tmp_path / "store.db").write_bytes(b"not a database at all" * 100)
    path = write(tmp_path, REPLY + MACRO_SAVED)
    done = run(path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{path}:{marked_line(path)}: macros[0].steps[0].canned" in done.stderr
