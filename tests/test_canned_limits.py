"""Templates cannot kill or freeze the console: every error and every runaway is a message.

Each case renders in this very process: a raise, a freeze or a MemoryError would fail (or
hang) the test. The bounds are hand-set: the render limit is 0.5 s, so 3 s is a clear failure.
"""

from __future__ import annotations

import time

import pytest

from console import canned
from console.canned import TemplateProblem

BOUND = 3.0  # seconds any render may take, limits included

CASES = [
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ contact.name + 1 }}", "TypeError"),
    ("{{ 'a' * 10**9 }}", "not allowed"),
    ("{{ [1, 2] * 10**9 }}", "not allowed"),
    ("{% for i in range(10**9) %}x{% endfor %}", "not allowed"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "took over 0.5 s",
    ),
    ("{% for i in range(100000) %}{{ 'abcdefghij' * 1000 }}{% endfor %}", "over 100000"),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "over 100000",
    ),
    ("{{ 'a'|indent(10**9) }}", "not allowed"),
    ("{{ '%999999999s' % 1 }}", "format width"),
    ("{{ '{:>999999999}'.format(1) }}", "format width"),
    ("{{ 7 ** 1000000 }}", "not allowed"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself"),
    ("{{ contact.first_name", "line 1"),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_a_runaway_template_is_a_clear_error_in_bounded_time(body: str, expected: str) -> None:
    start = time.monotonic()
    with pytest.raises(TemplateProblem) as caught:
        canned.render("Runaway", body, dict(canned.SAMPLE))
    assert time.monotonic() - start < BOUND
    assert "canned reply 'Runaway'" in str(caught.value)
    assert expected in str(caught.value)


def test_an_ordinary_template_still_renders_after_a_runaway() -> None:
    with pytest.raises(TemplateProblem):
        canned.render(
            "x",
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            dict(canned.SAMPLE),
        )
    body = (
        "Hi {{ contact.first_name }},\n{% for i in range(3) %}{{ i }}{% endfor %} {{ agent.name }}"
    )
    assert canned.render("ok", body, dict(canned.SAMPLE)) == "Hi Alex,\n012 Sam Agent"


def test_a_reply_up_to_the_limit_is_fine() -> None:
    assert len(canned.render("long", "{{ 'ab' * 50000 }}", dict(canned.SAMPLE))) == 100_000


def test_check_finds_unknown_names_in_branches_the_sample_does_not_take() -> None:
    body = "{% if conversation.channel == 'slack' %}{{ contact.nickname }}{% endif %}Hi"
    assert canned.render("branch", body, dict(canned.SAMPLE)) == "Hi"  # the sample passes
    with pytest.raises(TemplateProblem, match=r"contact\.nickname"):
        canned.check("branch", body)
    with pytest.raises(TemplateProblem, match=r"\{\{ customer \}\}"):
        canned.check("top", "{% if false %}{{ customer }}{% endif %}")
    canned.check("fine", "Hi {{ contact.first_name }}, {{ conversation.subject }}")
