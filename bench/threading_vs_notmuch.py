"""Our conversations against notmuch's threads on a directory of mail files, in shuffled
delivery orders. Prints one JSON object.

    .venv/bin/python bench/threading_vs_notmuch.py DIR [--seeds N]

DIR is any directory of one-message files (a maildir, notmuch's test/corpora/<name>: GPL-3,
so it is read from a checkout, never copied into this repository). For each order: our
conversation count, notmuch threads we split (`splits`), our conversations joining several
notmuch threads (`merges`), and whether the partition equals the first order's.

Measured 2026-12-05 (notmuch 0.37, its corpora at the fetched snapshot; 4 orders each):

- tests/data/mail (126 files): notmuch 92 threads, ours 90 in every order, 0 splits, 1 merge
  (the same mail by Jamis Buck under two Message-IDs, joined by the subject fallback).
- notmuch default (53): notmuch 24, ours 36 in every order, 9 splits. Most of that corpus
  has its list headers stripped (no List-Id/List-Post): a reply To the list address by
  someone not on the earlier messages is, by the participant rule, an outsider.
- notmuch lkml (210): notmuch 7, ours 20-22 (order-dependent), 1-2 splits: gmane-munged
  addresses and Message-IDs (the same person under two addresses, In-Reply-To naming a
  munged id), git-send-email's `In-Reply-To: <yes>` (junk, ignored by design).
- notmuch threading (12): notmuch 3, ours 3 in every order, 1 split, 1 merge: Mallory's
  "fake root" quoting Alice's thread is kept out (the hijack case, by design), and Alice's
  two test threads with the same subjects ("root message") join by the subject fallback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.notmuch_oracle import (
    notmuch_threads,
    our_conversations,
    splits,
    wrong_merges,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seeds", type=int, default=4, help="shuffled orders (first: as sorted)")
    args = parser.parse_args()
    if not args.directory.is_dir():
        print(f"not a directory: {args.directory}", file=sys.stderr)
        return 2
    skip = {"README", "README.md"}
    files = sorted(p for p in args.directory.rglob("*") if p.is_file() and p.name not in skip)
    theirs = notmuch_threads(files)
    runs, first = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.seeds):
            seed = None if n == 0 else n
            ours = our_conversations(files, Path(tmp) / f"{n}.db", seed)
            first = ours if first is None else first
            runs.append(
                {
                    "seed": seed,
                    "conversations": len(ours),
                    "splits": len(splits(ours, theirs)),
                    "merges": len(wrong_merges(ours, theirs)),
                    "same_as_first_order": ours == first,
                }
            )
    print(json.dumps({"files": len(files), "notmuch_threads": len(theirs), "orders": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
