"""The template sandbox: escapes to Python internals and runaway templates fail safely."""

from __future__ import annotations

import pytest

from core.template import MAX_LOOP_ITERATIONS, Template, TemplateError


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__ }}",
        "{{ states.__class__ }}",
        "{{ now.__globals__ }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{{ range.__globals__ }}",
        "{{ '{0.__class__.__mro__}'.format(1) }}",
        "{{ '{0._TemplateReference__context}'.format(self) }}",
        "{{ '{x.__init__.__globals__}'.format_map({'x': cycler}) }}",
        "{{ {}.update(a=1) }}",
        "{{ [].append(1) }}",
        "{{ dict.__init__ }}",
        "{{ timedelta.__subclasses__() }}",
        "{{ lipsum(100000) }}",
    ],
)
def test_escape_attempts_fail_with_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError):
        Template(source).render()


def test_private_names_are_no_domains() -> None:
    assert Template("{{ states._domain }}{{ states['_x'] }}").render() == ""


def test_private_attribute_of_a_state_is_refused() -> None:
    from core.state import State

    state = State("sensor.x", "1")
    with pytest.raises(TemplateError, match="not allowed"):
        Template("{{ this._as_dict }}").render({"this": state})
    assert Template("{{ this.state }}").render({"this": state}) == 1


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ range(10**9) | list }}", "Range too big"),
        ("{{ 'x' * 10**7 }}", "'\\*' would build"),
        ("{{ [0] * 10**7 }}", "'\\*' would build"),
        ("{{ 2 ** 1000000 }}", "'\\*\\*' would build"),
        ("{{ '{:>100000000}'.format(1) }}", "width"),
        ("{{ '%100000000d' % 1 }}", "width"),
        ("{{ '%*d' % (10, 1) }}", "'\\*' widths"),
        ("{{ '%100000000d' | format(1) }}", "width"),
        ("{{ 'x' | center(100000000) }}", "width"),
        ("{{ 'x' | indent(100000000) }}", "width"),
        ("{{ 'x'.ljust(100000000) }}", "width"),
        ("{{ 'x'.zfill(100000000) }}", "width"),
        ("{{ ('x' * 200000).replace('x', 'xxxxxxxx') }}", "str.replace"),
        ("{% set s = 'x' * 200000 %}{{ s + s }}", "'\\+' would build"),
        ("{{ (['x' * 200000] * 1000) | join }}", "would build"),
        ("{{ ''.join(['x' * 200000] * 1000) }}", "would build"),
        ("{{ ('x' * 200000) | replace('x', 'xx') }}", "replace would build"),
        (
            "{% set ns = namespace(n=2**60) %}{% for i in range(20) %}"
            "{% set ns.n = ns.n * ns.n %}{% endfor %}",
            "'\\*' would build a number",
        ),
        (
            "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "'~' would build",
        ),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "loop iterations",
        ),
        ("{% for i in range(2000) %}{{ 'x' * 200 }}{% endfor %}", "output is longer"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError"),
    ],
)
def test_runaway_templates_are_capped(source: str, reason: str) -> None:
    with pytest.raises(TemplateError, match=reason):
        Template(source, name="runaway").render()


def test_limits_leave_ordinary_templates_alone() -> None:
    assert Template("{{ range(1000) | sum }}").render() == 499500
    assert Template("{{ 'ab' * 3 }}").render() == "ababab"
    assert Template("{{ 2 ** 64 }}").render() == 2**64
    assert Template("{{ '%5.1f' % 3.14159 }}").render() == 3.1
    assert Template("{{ '{:>6.2f}'.format(2.5) }}").render() == 2.5
    assert Template("{{ 'a' ~ 1 ~ 'b' }}").render() == "a1b"
    assert Template("{{ ['a', 'b'] | join(',') }}").render() == "a,b"
    assert Template("{{ [{'n': 1}, {'n': 2}] | join('-', attribute='n') }}").render() == "1-2"
    assert Template("{{ ','.join(['a', 'b']) }}").render() == "a,b"
    assert Template("{{ 'abc' | replace('b', 'x') }}").render() == "axc"
    assert Template("{{ 3 * 4 }}").render() == 12
    count = "{% for i in range(1000) %}{% for j in range(999) %}{% endfor %}{% endfor %}ok"
    assert MAX_LOOP_ITERATIONS >= 1000 * 1000
    assert Template(count).render(time_budget=60) == "ok"


def test_loops_keep_their_loop_variable() -> None:
    source = (
        "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ x }}"
        "{{ '' if loop.last else ',' }}{% endfor %}"
    )
    assert Template(source).render() == "1a,2b,3c"
    source = "{% for x in [] %}x{% else %}empty{% endfor %}"
    assert Template(source).render() == "empty"
    source = "{% for k, v in {'a': 1} | dictsort %}{{ k }}={{ v }}{% endfor %}"
    assert Template(source).render() == "a=1"


def test_iteration_budget_is_per_render() -> None:
    template = Template("{% for i in range(100000) %}{% endfor %}done")
    for _ in range(15):
        assert template.render() == "done"
