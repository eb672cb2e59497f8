"""Knowledge-base Markdown as plain reply text: oracles written by hand from CommonMark."""

from __future__ import annotations

import pytest

from console.plaintext import markdown_to_plain

CASES = [
    ("**bold** and __strong__", "bold and strong"),
    ("*it* and _it_ and ~~gone~~", "it and it and gone"),
    ("run `make demo` now", "run make demo now"),
    ("see [our policy](https://ex.com/refund).", "see our policy (https://ex.com/refund)."),
    ("visit <https://ex.com>", "visit https://ex.com"),
    ("[write us](mailto:help@ex.com)", "write us (help@ex.com)"),
    ("![logo](https://ex.com/l.png)", "logo (https://ex.com/l.png)"),
    ("# Title\n\nBody", "Title\n\nBody"),
    ("- one\n- **two**", "- one\n- two"),
    ("3. c\n4. d", "3. c\n4. d"),
    ("> said *this*\n> and that\n\nthen", "> said this\n> and that\n\nthen"),
    ("```\npip install x\n```", "pip install x"),
    ("<div>markup</div>\n\ntext", "text"),
    ("2 * 3 * 4 and snake_case_name", "2 * 3 * 4 and snake_case_name"),
    ("**never closed", "**never closed"),
    ("one\ntwo", "one\ntwo"),
]


@pytest.mark.parametrize(("markdown", "plain"), CASES)
def test_markdown_becomes_the_words_a_customer_reads(markdown: str, plain: str) -> None:
    assert markdown_to_plain(markdown) == plain


def test_a_nested_list_keeps_its_indent() -> None:
    assert markdown_to_plain("- a\n  - b\n- c") == "- a\n  - b\n- c"
