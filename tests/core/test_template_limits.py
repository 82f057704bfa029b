"""Issue 25 item 2: templates cannot freeze the event loop or exhaust memory.

Every case is an attack that, before the fix, either held the loop for seconds (a backtracking
regular expression, a quadratic ``sum``) or built gigabytes before a size check ran. Each must now
fail with a ``TemplateError`` at once, before anything large is built.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from core.template import (
    MAX_TEMPLATE_OUTPUT,
    Template,
    TemplateError,
    TemplateTimeoutError,
)

#: The budget of the renders below: far shorter than what any attack takes unchecked.
BUDGET = 0.1
#: Catastrophic backtracking: (a|aa)+ tries every split of 40 "a"s before failing on "b".
BACKTRACK = "{% set s = 'a' * 40 ~ 'b' %}"


def _render(source: str) -> object:
    return Template(source, name="attack").render(time_budget=BUDGET)


@pytest.mark.parametrize(
    "source",
    [
        BACKTRACK + "{{ s | regex_match('(a|aa)+$') }}",
        BACKTRACK + "{{ s | regex_search('^(a|aa)+$') }}",
        BACKTRACK + "{{ s | regex_replace('(a|aa)+$', 'x') }}",
        BACKTRACK + "{{ s | regex_findall('(a|aa)+$') }}",
        BACKTRACK + "{{ s | regex_findall_index('^(a|aa)+$') }}",
        BACKTRACK + "{{ s is match('(a|aa)+$') }}",
        BACKTRACK + "{{ s is search('^(a|aa)+$') }}",
    ],
)
def test_a_backtracking_regex_is_stopped_by_the_render_budget(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateTimeoutError, match=r"budget|time"):
        _render(source)
    # Unchecked, each of these runs for minutes; stopped, it ends near its budget.
    assert time.perf_counter() - started < 20 * BUDGET


def test_a_regex_that_takes_seconds_to_compile_is_refused_before_compiling() -> None:
    started = time.perf_counter()
    with pytest.raises(TemplateError, match="repeats too much"):
        _render("{{ 'a' | regex_match('(a{1000}){1000}') }}")
    assert time.perf_counter() - started < 20 * BUDGET


def test_regex_helpers_keep_home_assistant_semantics() -> None:
    assert Template("{{ 'Hello World' | regex_match('hello', ignorecase=True) }}").render()
    assert Template("{{ 'abc-123' | regex_replace('(\\\\d+)', '<\\\\1>') }}").render() == (
        "abc-<123>"
    )
    assert Template("{{ 'a1b22c333' | regex_findall('\\\\d+') }}").render() == [
        "1",
        "22",
        "333",
    ]
    assert Template("{{ 'k=v; x=y' | regex_findall('(\\\\w)=(\\\\w)') }}").render() == [
        ("k", "v"),
        ("x", "y"),
    ]
    assert Template("{{ 'foo.bar' | regex_findall_index('(?<=\\\\.)\\\\w+') }}").render() == "bar"
    assert Template("{{ 'x' is match('(?i)X') }}").render() is True


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # Each of these built gigabytes before the size guard ran.
        ("{{ ('\\t' * 100000).expandtabs(10000) | length }}", "expandtabs"),
        ("{{ ('\\n' * 100000) | indent(10000) | length }}", "indent"),
        ("{{ '{0:{1}}'.format('x', 2000000000) }}", "nested fields"),
        ("{{ '{0:>{1}}'.format_map({'0': 1, '1': 2000000000}) }}", "nested fields"),
        ("{{ zip(*[range(100000)] * 1000) | list | length }}", "zip would build"),
        ("{{ [1] | batch(2000000000, 'x') | list | length }}", "batch"),
        ("{{ [1] | slice(2000000000) | list | length }}", "slice"),
        ("{{ [[0] * 1000] * 10000 }}", "'\\*' would build"),
        ("{{ ([[0] * 1000] * 1000) | length }}", "'\\*' would build"),
        # Amplification that the old per-operation checks let through.
        ("{{ ('%(a)10000s' * 2000) % {'a': 1} }}", "'%' formatting"),
        ("{{ ('{0}' * 60000).format('x' * 1000) }}", "format would build"),
        ("{{ ('a' * 100000).translate({97: 'x' * 1000}) }}", "translate"),
        ("{{ ('a ' * 50000) | wordwrap(1, wrapstring='x' * 1000) }}", "wordwrap"),
        ("{{ ('x' * 100000) | list | map('center', 10000) | list | length }}", "built more than"),
        ("{{ range(100000) | list | pprint }}", "pprint"),
        ("{% set a = ['x' * 900] * 1000 %}{{ a | to_json }}", "text of more than"),
        ("{% set a = ['x' * 900] * 1000 %}{{ a | tojson }}", "text of more than"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ b }}", "text of more than"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ b | string }}", "text of more than"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ 'x' ~ b }}", "text of more than"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ b | join }}", "join would build"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ '%s' % (b,) }}", "text of more than"),
        ("{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ b | upper }}", "text of more than"),
        (
            "{% set a = [0] * 900 %}{% set b = [a] * 1000 %}{{ b | regex_match('x') }}",
            "text of more than",
        ),
        (
            "{% set a = [0] * 100000 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}",
            "heavier than",
        ),
        (
            "{% set a = [0] * 100000 %}"
            "{% set b = {1: a, 2: a, 3: a, 4: a, 5: a, 6: a, 7: a, 8: a, 9: a, 10: a, 11: a} %}",
            "heavier than",
        ),
        ("{{ 0 | timestamp_custom('%c' * 100000) }}", "timestamp_custom"),
        ("{{ now().strftime('%c' * 100000) }}", "strftime"),
        ("{{ (1).to_bytes(2000000000, 'big') | length }}", "to_bytes"),
        ("{{ ('a' * 100000) | regex_findall('(?=(.*))') | length }}", "regex_findall"),
        ("{{ ('a' * 100000) | regex_replace('', 'x' * 100) | length }}", "regex_replace"),
        ("{{ ('x' * 100000) | urlize(rel='y' * 100000) }}", "urlize"),
        ("{{ (['x' * 900] * 1000) | join(',') }}", "join would build"),
    ],
)
def test_an_amplifying_operation_is_refused_before_it_builds(source: str, reason: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match=reason):
            # A generous budget: these must fail on size, whatever the machine's speed.
            Template(source, name="attack").render(time_budget=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Nothing near the size asked for was built: at most a few limits' worth.
    assert peak < 64 * 1024 * 1024, f"{peak:,} bytes built"


def test_summing_lists_is_linear_not_quadratic() -> None:
    # Python's sum copies the partial list at every step: 2e10 copies for these 200,000.
    source = "{{ ([[0]] * 200000) | sum(start=[]) | length }}"
    started = time.perf_counter()
    assert Template(source).render(time_budget=5) == 200000
    assert time.perf_counter() - started < 5


def test_a_slow_python_level_loop_is_stopped_by_the_budget() -> None:
    source = (
        "{% set ns = namespace(n=0) %}{% for i in range(100000) %}"
        "{% for s in ['a', 'b', 'c'] | map('upper') %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        "{% endfor %}{{ ns.n }}"
    )
    started = time.perf_counter()
    with pytest.raises(TemplateTimeoutError, match="budget"):
        _render(source)
    assert time.perf_counter() - started < 20 * BUDGET


def test_a_render_can_run_to_its_default_budget() -> None:
    count = "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}ok"
    assert Template(count).render() == "ok"
    with pytest.raises(TemplateTimeoutError, match=r"budget of 0\.001 s"):
        Template("{% for i in range(100000) %}{{ i }}{% endfor %}").render(time_budget=0.001)


@pytest.mark.parametrize("depth", [500, 3000, 50_000])
def test_deeply_nested_source_is_a_template_error(depth: int) -> None:
    source = "{{ " + "(" * depth + "1" + ")" * depth + " }}"
    with pytest.raises(TemplateError, match="nested too deeply"):
        Template(source, name="deep").render()
    source = "{{ " + "[" * depth + "]" * depth + " }}"
    with pytest.raises(TemplateError, match="nested too deeply"):
        Template(source, name="deep").render()


def test_ordinary_templates_pass_every_guard() -> None:
    assert Template("{{ 'a\\tb'.expandtabs(4) }}").render() == "a   b"
    assert Template("{{ 'line1\\nline2' | indent(2, true) }}").render() == "line1\n  line2"
    assert (
        Template("{{ '{0:>{1}}'.format('x', 3) if false else '{:>3}'.format('x') }}").render(
            parse_result=False
        )
        == "x"
    )
    assert Template("{{ zip([1, 2], ['a', 'b']) | list }}").render() == [(1, "a"), (2, "b")]
    assert Template("{{ [1, 2, 3, 4, 5] | batch(2, 0) | list }}").render() == [
        [1, 2],
        [3, 4],
        [5, 0],
    ]
    assert Template("{{ [1, 2, 3] | slice(2) | list }}").render() == [[1, 2], [3]]
    assert Template("{{ [[1], [2, 3]] | sum(start=[]) }}").render() == [1, 2, 3]
    assert Template("{{ [1, 2] | sum }}").render() == 3
    assert Template("{{ '%-5s|' % 'ab' }}").render(parse_result=False) == "ab   |"
    assert Template("{{ 'abc'.translate({97: 'A'}) }}").render() == "Abc"
    assert Template("{{ {'a': [1, 2]} | to_json }}").render(parse_result=False) == '{"a": [1, 2]}'
    assert Template("{{ {'a': 1} | tojson }}").render(parse_result=False) == '{"a": 1}'
    assert Template("{{ 'a b c' | wordwrap(1) }}").render() == "a\nb\nc"
    assert Template("{{ [1, [2, 3], (4,)] }}").render() == [1, [2, 3], (4,)]
    assert Template("{{ 0 | timestamp_custom('%Y', false) }}").render() == 1970
    text = "x" * (MAX_TEMPLATE_OUTPUT - 10)
    assert Template("{{ t | length }}").render({"t": text}) == len(text)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # Pure-Python filters that run word by word or tag by tag, with no checkpoint inside:
        # 240,000 characters of urlize held the loop for 400 ms.
        ("{{ ('a.com ' * 40000) | urlize | length }}", "urlize"),
        ("{{ ('a ' * 60000) | wordwrap(3) | length }}", "wordwrap"),
        ("{{ ('<a>' * 80000) | striptags | length }}", "striptags"),
        ("{{ ('a b' * 80000) | urlencode | length }}", "urlencode"),
    ],
)
def test_a_pure_python_filter_takes_a_bounded_text(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        _render(source)


def test_average_over_a_long_list_is_stopped_by_the_budget() -> None:
    source = "{{ average((range(100000) | list) * 9) }}"
    started = time.perf_counter()
    with pytest.raises(TemplateTimeoutError):
        Template(source).render(time_budget=0.001)
    assert time.perf_counter() - started < 20 * BUDGET
    assert Template("{{ average([1, 2, 3]) }}").render() == 2.0
    assert Template("{{ '<b>x</b> &amp; y' | striptags }}").render() == "x & y"
    assert Template("{{ 'a b' | urlencode }}").render() == "a%20b"
