"""What `check-config` checks beyond the schema: what the console would trip on later.

`deep_problems` returns one line per problem, `FILE:LINE: KEY: what is wrong — the fix`:
no `[agent]` table; `[keys]` naming an unknown binding id, a key name no terminal sends
(`...banana`), or a key bound twice in one scope (also against macro keys); macros naming a
canned reply (neither in the file nor in the store) or an agent that does not exist; canned
replies that do not render for a sample contact or name an unknown variable in any branch;
saved views whose query the search parser refuses; `[surveys]` that would silently send
nothing (enabled without tiers or without an email account, a tier asking nothing), names a
tier that does not exist or an NPS opening (`nps_canned`) that is not a canned reply here.
It never writes anything (the store is opened read-only, and only if it exists).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

from console import canned
from console.config import FrontdeskConfig, locate
from storage import library, search
from storage.db import StoreError

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
NAMED_KEYS = frozenset(
    {
        "escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home",
        "end", "pageup", "pagedown", "up", "down", "left", "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)  # fmt: skip
_CLASH = re.compile(r"bound to both (.+) and (.+)$")


def key_name_problem(key: str) -> str | None:
    """Why `key` is not a key a terminal can send, or None. Accepts Textual's names:
    `ctrl+e`, `f5`, `?`, `question_mark`, `shift+tab`; several keys separated by commas."""
    for one in key.split(","):
        parts = one.strip().split("+")
        *mods, base = parts
        unknown = [m for m in mods if m not in MODIFIERS]
        if unknown:
            return f"{unknown[0]!r} is not a modifier (use ctrl, shift, alt, meta)"
        if not _base_ok(base):
            return (
                f'{one.strip()!r} is not a key name: write e.g. "x", "ctrl+e", "f5",'
                ' "question_mark" (several: "x,ctrl+e")'
            )
    return None


def _base_ok(base: str) -> bool:
    if len(base) == 1:
        return base.isprintable() and not base.isspace()
    if base in NAMED_KEYS:
        return True
    try:  # Textual names printable characters by their Unicode name: full_stop, question_mark
        char = unicodedata.lookup(base.replace("_", " ").upper())
    except KeyError:
        return False
    return char.isascii() and char.isprintable() and base == base.lower()


def deep_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    """Every problem found, in file order of the checks (agent, keys, macros, templates, views)."""
    found: list[str] = []
    data = tomllib.loads(text)  # load_config parsed it already: it is valid TOML
    if "agent" not in data:
        found.append(
            f"{path}: agent: no [agent] table — add [agent] with the name and email of whoever"
            " uses this console (replies are signed and conversations assigned by them)"
        )
    found += _key_problems(path, text, config)
    found += _macro_problems(path, text, config)
    found += _template_problems(path, text, config)
    found += _view_problems(path, text, config)
    found += _survey_problems(path, text, config)
    return found


def _at(path: Path, text: str, loc: list[Any]) -> str:
    line = locate(text, loc)
    return f"{path}:{line}" if line else str(path)


def _key_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    # Textual: only when checking, never on the sync path
    from console import keymap
    from console.app import key_scopes

    found = []
    for binding_id, bound in config.keys.items():
        problem = key_name_problem(bound)
        if problem:
            found.append(f"{_at(path, text, ['keys', binding_id])}: keys.{binding_id}: {problem}")
    for i, macro in enumerate(config.macros):
        problem = key_name_problem(macro.key)
        if problem:
            found.append(f"{_at(path, text, ['macros', i, 'key'])}: macros[{i}].key: {problem}")
    valid = {i: k for i, k in config.keys.items() if not key_name_problem(k)}
    macro_keys = [m.key for m in config.macros if not key_name_problem(m.key)]
    for problem in keymap.problems(valid, key_scopes(), macro_keys):
        found.append(f"{_clash_place(path, text, config, problem)}: {problem}{_fix(problem)}")
    return found


def _fix(problem: str) -> str:
    if "is not a binding id" in problem:
        return " — remove it or correct the id"
    return " — give one of them another key in [keys]"


def _clash_place(path: Path, text: str, config: FrontdeskConfig, problem: str) -> str:
    """The line of the remap or macro that caused it: `[keys]` ids first, then macros."""
    match = _CLASH.search(problem)
    ids = list(match.groups()) if match else re.findall(r"'([^']+)'", problem)[:1]
    for binding_id in ids:
        if binding_id in config.keys:
            return f"{_at(path, text, ['keys', binding_id])}: keys.{binding_id}"
    for binding_id in ids:
        for i, macro in enumerate(config.macros):
            if binding_id == f"macro {macro.key!r}":
                return f"{_at(path, text, ['macros', i, 'key'])}: macros[{i}].key"
    return f"{_at(path, text, ['keys'])}: keys"


def _macro_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    replies = {r.name for r in config.canned_replies} | _stored_reply_names(config)
    agents = {config.agent.email.lower(), *(a.email.lower() for a in config.agents)}
    found = []
    for i, macro in enumerate(config.macros):
        for j, step in enumerate(macro.steps):
            where = f"{_at(path, text, ['macros', i, 'steps'])}: macros[{i}].steps[{j}]"
            if step.canned is not None and step.canned not in replies:
                known = ", ".join(repr(n) for n in sorted(replies)) or "none defined"
                found.append(
                    f"{where}.canned: no canned reply named {step.canned!r} — use one of"
                    f" {known}, or add it under [[canned_replies]]"
                )
            unknown_agent = (
                step.assign not in (None, "me") and str(step.assign).lower() not in agents
            )
            if unknown_agent:
                found.append(
                    f'{where}.assign: {step.assign!r} is not an agent — use "me" or the'
                    f" email of one of the [[agents]]: {', '.join(sorted(agents))}"
                )
    return found


def _stored_reply_names(config: FrontdeskConfig) -> set[str]:
    """Canned replies agents saved in the store: read-only, and only if the store exists."""
    db = config.storage.path.expanduser()
    if not db.is_file():
        return set()
    try:
        return library.canned_reply_names_in(db)
    except StoreError:
        return set()  # `frontdesk doctor` is the one to judge the store


def _template_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    found = []
    for i, reply in enumerate(config.canned_replies):
        try:
            canned.check(reply.name, reply.body)
        except canned.TemplateProblem as exc:
            found.append(
                f"{_at(path, text, ['canned_replies', i, 'body'])}: canned_replies[{i}].body:"
                f" {exc} — fix the template (it was tried on a sample contact)"
            )
    return found


def _view_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    agents = [(a.name, a.email) for a in config.agents]
    found = []
    for i, view in enumerate(config.views):
        try:
            search.parse(view.query, me=config.agent.email, agents=agents)
        except search.SearchError as exc:
            found.append(
                f"{_at(path, text, ['views', i, 'query'])}: views[{i}].query: {exc} — fix the"
                " query (it is the same as typed in the search box)"
            )
    return found


def _survey_problems(path: Path, text: str, config: FrontdeskConfig) -> list[str]:
    surveys = config.surveys
    known = set(config.tiers) or {config.default_tier()}
    names = ", ".join(repr(t) for t in sorted(known))
    found = [
        f"{_at(path, text, ['surveys', 'tiers', tier])}: surveys.tiers.{tier}: no tier named"
        f" {tier!r}, so no conversation is ever surveyed with it — use one of {names}"
        for tier in surveys.tiers
        if tier not in known
    ]
    found += [
        f"{_at(path, text, ['surveys', 'tiers', tier])}: surveys.tiers.{tier}: asks nothing —"
        ' add question = "..." (asked after a close) or nps_every = "90d" (an NPS survey)'
        for tier, asked in surveys.tiers.items()
        if asked.question is None and asked.nps_every is None
    ]
    replies = [r.name for r in config.canned_replies]
    if surveys.nps_canned is not None and surveys.nps_canned not in replies:
        defined = ", ".join(repr(n) for n in replies) or "none defined"
        found.append(
            f"{_at(path, text, ['surveys', 'nps_canned'])}: surveys.nps_canned: no canned reply"
            f" named {surveys.nps_canned!r} in this file — use one of {defined}, or add it under"
            " [[canned_replies]]"
        )
    if not surveys.enabled:
        return found
    where = f"{_at(path, text, ['surveys', 'enabled'])}: surveys.enabled"
    if not surveys.tiers:
        found.append(
            f"{where}: no tier is surveyed — add [surveys.tiers.NAME] with a question for"
            f" one of {names}"
        )
    if not any(a.kind == "imap" for a in config.accounts):
        found.append(
            f"{where}: surveys go by email and there is no email account — add an"
            ' [[accounts]] of kind = "imap", or set enabled = false'
        )
    return found
