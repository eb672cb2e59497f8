"""`[surveys]` under `frontdesk check-config`: a block that would silently survey no one, or a
bad value, is exit 2 naming the file, line, key and fix (the `# <-` mark is the oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_check_config import Case, imap, marked_line, run, write

TIERS = "[tiers.basic]\n\n[tiers.gold]\ndefault = true\n\n"
GOLD = '[surveys.tiers.gold]\nquestion = "How did we do?"\n'

CASES = [
    Case("a surveyed tier that does not exist",
         TIERS + imap() + '[surveys]\nenabled = true\n\n[surveys.tiers.golden]  # <-\n'
         'question = "How?"\n', "surveys.tiers.golden", "use one of 'basic', 'gold'"),
    Case("enabled with no tier", imap() + "[surveys]\nenabled = true  # <-\n",
         "surveys.enabled", "add [surveys.tiers.NAME]"),
    Case("enabled with no email account", "[surveys]\nenabled = true  # <-\n\n" + GOLD,
         "surveys.enabled", 'kind = "imap"'),
    Case("an unknown scale",
         imap() + '[surveys]\nenabled = true\n\n[surveys.tiers.standard]\nquestion = "Q"\n'
         'scale = "stars"  # <-\n', "surveys.tiers.standard.scale", "'csat' or 'ces'"),
    Case("a question on two lines",
         imap() + '[surveys]\nenabled = true\n\n[surveys.tiers.standard]\n'
         'question = "How\\ndid we do?"  # <-\n', "surveys.tiers.standard.question",
         "remove the line breaks"),
    Case("a cooldown that is no duration",
         imap() + '[surveys]\nenabled = true\ncooldown = "two weeks"  # <-\n\n'
         '[surveys.tiers.standard]\nquestion = "Q"\n', "surveys.cooldown", '"2d"'),
    Case("a tier asking nothing",
         imap() + '[surveys]\nenabled = true\n\n[surveys.tiers.standard]  # <-\n'
         'scale = "ces"\n', "surveys.tiers.standard", 'nps_every = "90d"'),
    Case("an NPS opening that is no canned reply",
         imap() + '[surveys]\nenabled = true\nnps_canned = "Hello"  # <-\n\n'
         '[surveys.tiers.standard]\nnps_every = "90d"\n', "surveys.nps_canned",
         "[[canned_replies]]"),
    Case("an NPS interval that is no duration",
         imap() + '[surveys]\nenabled = true\n\n[surveys.tiers.standard]\n'
         'nps_every = "quarterly"  # <-\n', "surveys.tiers.standard.nps_every", '"2d"'),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_broken_surveys_block_exits_2_with_line_key_and_fix(tmp_path: Path, case: Case) -> None:
    path = write(tmp_path, case.text)
    done = run(path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    line = f"{path}:{marked_line(path)}: {case.key}"
    hits = [ln for ln in done.stderr.splitlines() if line in ln]
    assert hits, f"no line starting {line!r} in:\n{done.stderr}"
    assert case.fix in hits[0], hits[0]


def test_a_sound_surveys_block_passes(tmp_path: Path) -> None:
    text = TIERS + imap() + '[surveys]\nenabled = true\ncooldown = "30d"\n\n' + GOLD
    text += '\n[surveys.tiers.basic]\nquestion = "Was it easy?"\nscale = "ces"\nnps_every = "90d"\n'
    text = text.replace("[surveys]\n", '[surveys]\nnps_canned = "Hello"\n')
    text += '\n[[canned_replies]]\nname = "Hello"\nbody = "Hi {{ contact.first_name }},"\n'
    done = run(write(tmp_path, text))
    assert done.returncode == 0, done.stderr
