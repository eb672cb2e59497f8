"""storage.sanitize: text from mail and Slack must be inert in a terminal."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.sanitize import clean_line, clean_text

ESC = "\x1b"
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
ZERO_WIDTH = set("\u200b\u200c\u200d\u2060\ufeff")

# Any code point, lone surrogates included (hypothesis leaves those out by default).
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
# Text dense in the pieces escape sequences are made of, so sequences actually form.
escapey_text = st.text(
    st.sampled_from(
        [
            *(ESC, "\x9b", "\x9d", "\x90", "\x9c", "\x07", "[", "]", "P", "\\", ";", "0"),
            *("1", "5", "2", "m", "c", "(", "B", "8", "?", "h", "\r", "\n", "\t", " ", "a"),
            *("é", "\x00", "\x85", "\u202e", "\u200b", "\ufeff", "\ud800", "\x7f", "\x18"),
        ]
    ),
    max_size=200,
)
texts = st.one_of(any_text, escapey_text)


def is_forbidden_in_text(char: str) -> bool:
    category = unicodedata.category(char)
    return (category == "Cc" and char not in "\n\t") or category == "Cs"


# --------------------------------------------------------------------------- properties


@given(texts)
def test_clean_text_leaves_no_control_characters(s: str) -> None:
    out = clean_text(s)
    assert not any(is_forbidden_in_text(c) for c in out)
    assert ESC not in out
    assert not any(0x80 <= ord(c) <= 0x9F for c in out)
    assert "\r" not in out


@given(texts)
def test_clean_line_is_one_tidy_line(s: str) -> None:
    out = clean_line(s)
    assert "\n" not in out and "\t" not in out
    assert not any(is_forbidden_in_text(c) for c in out)
    assert not (set(out) & (BIDI | ZERO_WIDTH))
    assert out == out.strip()
    assert "  " not in out


@given(texts)
def test_clean_text_is_idempotent(s: str) -> None:
    once = clean_text(s)
    assert clean_text(once) == once


@given(texts)
def test_clean_line_is_idempotent(s: str) -> None:
    once = clean_line(s)
    assert clean_line(once) == once


@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=300))
def test_printable_text_is_kept_exactly(s: str) -> None:
    assert clean_text(s) == s


@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=200))
def test_clean_line_keeps_the_words(s: str) -> None:
    kept = "".join(c for c in s if c not in BIDI | ZERO_WIDTH)
    assert clean_line(s) == " ".join(kept.split())


@settings(max_examples=50)
@given(any_text, any_text)
def test_clean_text_never_joins_pieces_into_a_sequence(a: str, b: str) -> None:
    # Whatever is removed, the result of concatenating cleaned pieces is itself clean.
    assert clean_text(clean_text(a) + clean_text(b)) == clean_text(a) + clean_text(b)


# --------------------------------------------------------------------------- explicit cases


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("\x1b]0;pwned\x07Hello", "Hello", id="osc-title-bel"),
        pytest.param("\x1b]2;pwned\x1b\\Hello", "Hello", id="osc-title-st"),
        pytest.param("copy \x1b]52;c;SGVsbG8=\x07me", "copy me", id="osc52-clipboard"),
        pytest.param(
            "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\",
            "click here",
            id="osc8-hyperlink",
        ),
        pytest.param("\x1b[1;31mred\x1b[0m text", "red text", id="csi-colour"),
        pytest.param("\x1b[2J\x1b[Hcleared", "cleared", id="csi-clear-screen"),
        pytest.param("\x1b[?1049hX", "X", id="csi-private-mode"),
        pytest.param("\x9b31mred", "red", id="8bit-csi"),
        pytest.param("\x9d0;title\x9cok", "ok", id="8bit-osc-8bit-st"),
        pytest.param("\x1bPqsixel\x1b\\after", "after", id="dcs"),
        pytest.param("\x90dcs\x9cafter", "after", id="8bit-dcs"),
        pytest.param("\x1b_apc\x1b\\a\x1b^pm\x1b\\b\x1bXsos\x1b\\c", "abc", id="apc-pm-sos"),
        pytest.param("\x1bcreset", "reset", id="ris"),
        pytest.param("\x1b(0lqk\x1b(B", "lqk", id="charset-designation"),
        pytest.param("\x1b7save\x1b8", "save", id="two-char-escapes"),
        pytest.param(
            "\x1b[1mA\x90q\x9c\x98q\x9c\x9b2mB\x9dq\x07\x9eq\x9c\x9fq\x9cC",
            "ABC",
            id="every-introducer-in-one-text",
        ),
        pytest.param("a\x00b\x08c\x7fd\x85e", "abcde", id="c0-del-c1"),
        pytest.param("one\r\ntwo\rthree\n", "one\ntwo\nthree\n", id="line-ends"),
        pytest.param("tab\tkept", "tab\tkept", id="tab"),
        pytest.param("lone \ud800 surrogate", "lone  surrogate", id="surrogate"),
        pytest.param("[bold red]x[/]", "[bold red]x[/]", id="markup-is-literal"),
        pytest.param(
            "[link=https://evil]y[/link]", "[link=https://evil]y[/link]", id="markup-link"
        ),
        pytest.param("\u202eevil\u202c", "\u202eevil\u202c", id="bidi-kept-in-text"),
        pytest.param("日本語 émoji 👍🏽", "日本語 émoji 👍🏽", id="unicode-kept"),
    ],
)
def test_clean_text_cases(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_unterminated_string_sequence_stops_at_the_line_end() -> None:
    # A stray OSC must not swallow the rest of the message.
    assert clean_text("a\x1b]0;no end\nnext line") == "a\nnext line"


def test_escape_after_unterminated_osc_is_still_removed() -> None:
    assert clean_text("\x1b]0;x\x1b[31mred") == "red"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Re:\tHello\r\n  world  ", "Re: Hello world", id="whitespace"),
        pytest.param("\u202egnp.exe\u202c", "gnp.exe", id="bidi-override"),
        pytest.param("pay\u200bpal", "paypal", id="zero-width"),
        pytest.param("\ufeffBOM", "BOM", id="bom"),
        pytest.param("a\u2066b\u2069c\u200ed\u200fe\u061cf", "abcdef", id="isolates-marks"),
        pytest.param("\x1b]0;t\x07Subject", "Subject", id="escape"),
        pytest.param("a\u00a0\u2003b", "a b", id="unicode-spaces"),
        pytest.param("[bold]x[/bold]", "[bold]x[/bold]", id="markup-is-literal"),
        pytest.param("", "", id="empty"),
    ],
)
def test_clean_line_cases(raw: str, expected: str) -> None:
    assert clean_line(raw) == expected


def test_large_inputs_are_cleaned_completely() -> None:
    clean = "hello wörld 日本 " * 700_000  # ~10 MB
    assert clean_text(clean) is clean
    dirty = "x\x1b[31my\x00\r\n" * 1_000_000
    out = clean_text(dirty)
    assert ESC not in out and "\x00" not in out and "\r" not in out
    assert clean_line(dirty).startswith("xy xy")


def test_dense_lone_controls_past_the_match_limit_are_all_removed() -> None:
    # No sequence at all: 150,000 runs of one control, past the match limit of the last pass.
    assert clean_text("a\x01" * 150_000) == "a" * 150_000


def test_dense_hostile_input_stays_safe() -> None:
    # Past the match limit the rest is cleaned by translate: still no controls at all.
    out = clean_text("日\x9b1m" * 300_000)
    assert not any(is_forbidden_in_text(c) for c in out)
    out = clean_line(" \u200b\u202e" * 300_000 + "end")
    assert out == "end"
