"""Slack mrkdwn in the thread: styles where Slack formats, text as written where it does not.

Oracles are written by hand from Slack's formatting reference
(https://api.slack.com/reference/surfaces/formatting#basic-formatting)."""

from __future__ import annotations

import pytest
from rich.text import Text

from console.mrkdwn import CODE_STYLE, QUOTE_BAR, styled


def runs(text: Text) -> list[tuple[str, str]]:
    """(the styled characters, their style) for every styled span, in order."""
    return [(text.plain[s.start : s.end], str(s.style)) for s in text.spans if str(s.style)]


def test_bold_italic_and_strike_lose_their_markers() -> None:
    text = styled("Please *restart* the _router_ and ~ignore~ that")
    assert text.plain == "Please restart the router and ignore that"
    assert runs(text) == [("restart", "bold"), ("router", "italic"), ("ignore", "strike")]


def test_nested_bold_italic() -> None:
    text = styled("*_now_* please")
    assert text.plain == "now please"
    assert runs(text) == [("now", "bold italic")]


@pytest.mark.parametrize(
    "written",
    [
        "2*3*4 = 24",  # inside a word: arithmetic, not bold
        "x*y* z",  # opens inside a word
        "snake_case_name",
        "a * b * c",  # spaces inside the markers
        "*unclosed bold",
        "~/path/to/file~backup",
    ],
)
def test_markers_inside_words_or_unpaired_stay_as_written(written: str) -> None:
    text = styled(written)
    assert text.plain == written
    assert runs(text) == []


def test_code_is_not_formatted_inside() -> None:
    text = styled("run `rm *tmp* _x_` now")
    assert text.plain == "run rm *tmp* _x_ now"
    assert runs(text) == [("rm *tmp* _x_", CODE_STYLE)]


def test_preformatted_block_keeps_its_lines() -> None:
    text = styled("log:\n```\n*one*\ntwo\n```\nend")
    assert text.plain == "log:\n*one*\ntwo\nend"
    assert runs(text) == [("*one*\ntwo", CODE_STYLE)]


def test_quote_lines_get_a_bar_and_italic() -> None:
    text = styled("> you said *this*\nok")
    assert text.plain == f"{QUOTE_BAR}you said this\nok"
    assert runs(text) == [(QUOTE_BAR, "dim"), ("you said ", "italic"), ("this", "italic bold")]


def test_customer_text_is_never_markup_and_controls_go() -> None:
    text = styled("[bold red]x[/] \x1b[31m*hi*\x07 [@click=app.quit]q[/]")
    assert "[bold red]x[/]" in text.plain and "[@click=app.quit]q[/]" in text.plain
    assert "\x1b" not in text.plain and "\x07" not in text.plain
    assert ("hi", "bold") in runs(text)
    assert all("@click" not in str(span.style) for span in text.spans)
