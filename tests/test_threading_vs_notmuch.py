"""Our conversations against notmuch's threads on the real mail in tests/data/mail (mikel/mail,
MIT; SpamScope/mail-parser, Apache-2.0), delivered in shuffled orders.

notmuch threads by references only; we also group one contact's mail by subject, so we may
have fewer conversations, never more: no notmuch thread is split, whatever the order, and
the only merge notmuch does not make is the one read off the files by hand below.
notmuch's own corpora are GPL-3 and stay out of the repository: bench/threading_vs_notmuch.py
measures them from a checkout (figures in its docstring).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.notmuch_oracle import notmuch_threads, our_conversations, splits, wrong_merges
from tests.servers.fixtures import in_ci

CORPUS = Path(__file__).parent / "data" / "mail"
# Two fixtures of one mail by Jamis Buck (same From, Subject and Date: 2 May 2005 16:07:05
# -0600, subject "NOTE: 한국말로 하는 것"), one with its Message-ID mangled (two extra "@"):
# notmuch sees two ids, our subject fallback (same contact, same subject) joins them.
JAMIS = frozenset(
    {
        "<d3b8cf8e49f04480850c28713a1f473e@37signals.com>",
        "<d3b8cf8e49f0448085@0c28713a1@f473e@37signals.com>",
    }
)


@pytest.fixture(scope="module")
def theirs() -> set[frozenset[str]]:
    if shutil.which("notmuch") is None:
        reason = "notmuch is needed to compare threading: apt-get install -y notmuch"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return notmuch_threads(sorted(CORPUS.rglob("*.eml")))


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_no_more_conversations_than_notmuch_threads(
    theirs: set[frozenset[str]], tmp_path: Path, seed: int | None
) -> None:
    ours = our_conversations(sorted(CORPUS.rglob("*.eml")), tmp_path / "store.db", seed)

    assert splits(ours, theirs) == []
    merged = wrong_merges(ours, theirs)
    assert merged == [JAMIS]
    assert len(ours) <= len(theirs)
