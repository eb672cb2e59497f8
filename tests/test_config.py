"""The admin's TOML file: the example passes; mistakes name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError, load_config, parse_duration

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"

IMAP = """
[[accounts]]
name = "mail"
kind = "imap"
imap_host = "localhost"
username = "u"
smtp_host = "localhost"
from_address = "Support <s@x.com>"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert [a.kind for a in config.accounts] == ["imap", "slack"]
    assert config.default_tier() == "standard"
    assert config.policy().first_response["advanced"] == 3600


def test_plain_password_is_refused_with_the_way_out(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, IMAP + 'password = "hunter2"\n'))
    assert "accounts[0]" in message
    assert "password_cmd" in message and "password_env" in message
    assert "hunter2" not in message


def test_missing_secret_source_is_named(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, IMAP))
    assert "exactly one of password_cmd, password_env or password_keyring" in message


def test_unknown_key_names_its_line_and_the_fix(tmp_path: Path) -> None:
    text = IMAP + 'password_env = "P"\nimap_prot = 993\n'
    message = error_of(write(tmp_path, text))
    line = text.splitlines().index("imap_prot = 993") + 1
    assert f"config.toml:{line}: accounts[0].imap_prot: unknown key" in message
    assert "spelling" in message


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, IMAP + 'password_env = "P"\nimap_port = "nine"\n'))
    assert "accounts[0].imap_port" in message and "integer" in message


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "[agent\nname = 1"))
    assert "config.toml" in message and "not valid TOML" in message


def test_unsplittable_password_cmd_is_refused(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, IMAP + 'password_cmd = "pass show \'unterminated"\n'))
    assert "check its quotes" in message


def test_unknown_tier_in_a_rule(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[[tier_rules]]\ndomain = "x.com"\ntier = "gold"\n'))
    assert "tier_rules[0].tier" in message and "[tiers.gold]" in message


def test_slack_api_url_must_end_in_api(tmp_path: Path) -> None:
    text = '[[accounts]]\nname = "s"\nkind = "slack"\nbot_token_env = "T"\n'
    message = error_of(write(tmp_path, text + 'api_url = "http://127.0.0.1:1/"\n'))
    assert "/api/" in message


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("4h", 14400), ("1.5d", 129600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_says_how_to_write_one(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, '[tiers.vip]\nfirst_response = "soon"\n'))
    assert "tiers.vip.first_response" in message and '"30m"' in message


def test_knowledge_folder_must_exist(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, f'[knowledge]\nfolder = "{tmp_path / "nope"}"\n'))
    assert "knowledge.folder" in message and "not a folder" in message
    (tmp_path / "kb").mkdir()
    config = load_config(write(tmp_path, f'[knowledge]\nfolder = "{tmp_path / "kb"}"\n'))
    assert config.knowledge.folder == tmp_path / "kb"


def test_macro_steps_are_validated(tmp_path: Path) -> None:
    text = '[[macros]]\nname = "x"\nkey = "ctrl+e"\nsteps = [{ tag = "a", close = true }]\n'
    assert "exactly one of" in error_of(write(tmp_path, text))
    text = '[[macros]]\nname = "x"\nkey = "ctrl+e"\nsteps = [{ snooze = "soon" }]\n'
    assert "duration" in error_of(write(tmp_path, text))
    ok = '[[macros]]\nname = "x"\nkey = "ctrl+e"\nsteps = [{ tag = "a" }, { close = true }]\n'
    steps = load_config(write(tmp_path, ok)).macros[0].macro().steps
    assert [(s.kind, s.value) for s in steps] == [("tag", "a"), ("close", "")]
