"""``Template``: rendering, Home Assistant's result parsing, errors that name the template,
and what a render records that it read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import voluptuous as vol

from core import validators
from core.runtime import Runtime
from core.template import (
    RenderInfo,
    Template,
    TemplateError,
    TemplateRenderError,
    parse_result,
    render_complex,
)
from tests.core._template_helpers import template_runtime


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with template_runtime(tmp_path) as rt:
        yield rt


def render(runtime: Runtime, source: str, **variables: object) -> object:
    return Template(source, runtime).render(variables)


# --- result parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5),
        ("-3", -3),
        ("21.5", 21.5),
        ("+1.0", 1.0),
        ("True", True),
        ("False", False),
        ("None", None),
        ("[1, 2]", [1, 2]),
        ("{'a': 1}", {"a": 1}),
        ("(1, 2)", (1, 2)),
        ("07", "07"),
        ("1e5", "1e5"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("'quoted'", "'quoted'"),
        ("1j", "1j"),
        ("on", "on"),
        ("", ""),
        ("[1, 2", "[1, 2"),
    ],
)
def test_parse_result_follows_home_assistant(text: str, expected: object) -> None:
    result = parse_result(text)
    assert result == expected
    assert type(result) is type(expected)


def test_parsed_lists_are_not_shared_between_renders() -> None:
    first = parse_result("[1, 2]")
    assert isinstance(first, list)
    first.append(3)
    assert parse_result("[1, 2]") == [1, 2]


def test_render_parses_unless_asked_not_to() -> None:
    template = Template("{{ 2 + 3 }}")
    assert template.render() == 5
    assert template.render(parse_result=False) == "5"


def test_render_strips_whitespace() -> None:
    assert Template("  {{ 'x' }}\n").render() == "x"


def test_static_template_renders_as_itself_and_is_parsed() -> None:
    assert Template("hello").is_static
    assert Template("hello").render() == "hello"
    assert Template("42").render() == 42
    assert not Template("{{ 42 }}").is_static
    assert not Template("{# comment #}x").is_static


def test_variables_are_available() -> None:
    assert Template("{{ value * 2 }}").render({"value": 21}) == 42
    assert Template("{{ value_json.t }}").render({"value_json": {"t": 3}}) == 3


# --- errors --------------------------------------------------------------------------------------


def test_syntax_error_names_the_template_and_line() -> None:
    template = Template("ok\n{{ 1 + }}", name="sensor.bad")
    with pytest.raises(TemplateError, match=r"'sensor\.bad'.*line 2") as info:
        template.ensure_valid()
    assert info.value.template == "sensor.bad"


def test_render_error_names_the_source_when_unnamed() -> None:
    with pytest.raises(TemplateError, match=r"Error rendering template '\{\{ 1 / 0 \}\}'"):
        Template("{{ 1 / 0 }}").render()


def test_long_source_is_shortened_in_messages() -> None:
    source = "{{ 1 / 0 }}" + " " * 200 + "tail"
    with pytest.raises(TemplateError) as info:
        Template(source).render()
    assert "..." in str(info.value)
    assert "tail" not in str(info.value)


def test_undefined_variable_renders_empty_but_attribute_of_it_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = Template("a{{ missing }}b", name="t")
    assert template.render() == "ab"
    assert "'missing' is undefined when rendering 't'" in caplog.text
    caplog.clear()
    assert template.render() == "ab"
    assert "missing" not in caplog.text  # once per template and name
    with pytest.raises(TemplateError, match="missing"):
        Template("{{ missing.attr }}").render()


@pytest.mark.parametrize(
    "source",
    [
        "{{ missing }}",
        "{% if missing %}x{% endif %}",
        "{% for x in missing %}{% endfor %}",
        "{{ missing == 1 }}",
        "{{ missing | length }}",
    ],
)
def test_strict_render_refuses_undefined_variables(source: str) -> None:
    template = Template(source)
    template.render()  # lenient by default
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        template.render(strict=True)
    with pytest.raises(TemplateError, match="'missing' is undefined"):
        template.render_with_info(strict=True)


def test_strict_render_still_allows_defined_checks() -> None:
    source = "{{ missing | default('d') }} {{ missing is defined }}"
    assert Template(source).render(strict=True) == "d False"


def test_template_needs_a_string() -> None:
    with pytest.raises(TypeError):
        Template(5)  # type: ignore[arg-type]


def test_state_helpers_need_a_runtime() -> None:
    with pytest.raises(TemplateError, match=r"states\(\) needs a runtime"):
        Template("{{ states('sensor.x') }}").render()


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '21.5' | float }}", 21.5),
        ("{{ 'x' | float(0) }}", 0),
        ("{{ float('x', default=1.5) }}", 1.5),
        ("{{ '21.7' | int }}", 21),
        ("{{ 'ff' | int(base=16) }}", 255),
        ("{{ int('x', 7) }}", 7),
        ("{{ 'on' | bool }}", True),
        ("{{ 'off' | bool }}", False),
        ("{{ bool('maybe', 'dunno') }}", "dunno"),
        ("{{ 0 | bool }}", False),
        ("{{ 2.567 | round(2) }}", 2.57),
        ("{{ 2.5 | round }}", 2),
        ("{{ 2.1 | round(0, 'ceil') }}", 3),
        ("{{ 2.9 | round(0, 'floor') }}", 2),
        ("{{ 2.3 | round(1, 'half') }}", 2.5),
        ("{{ round('x', 2, default='n/a') }}", "n/a"),
        ("{{ is_number('1.5') }}", True),
        ("{{ is_number('nan') }}", False),
        ("{{ 'abc' is is_number }}", False),
        ("{{ min(3, 1, 2) }}", 1),
        ("{{ max([3, 1, 2]) }}", 3),
        ("{{ [3, 1, 2] | max }}", 3),
        ("{{ average(1, 2, 3) }}", 2.0),
        ("{{ [1, 2, 3, 10] | average }}", 4.0),
        ("{{ median(1, 3, 2) }}", 2),
        ("{{ average([], default=0) }}", 0),
        ("{{ iif(true, 'yes', 'no') }}", "yes"),
        ("{{ iif(none, 'yes', 'no', 'none') }}", "none"),
        ("{{ (1 > 2) | iif('yes', 'no') }}", "no"),
        ("{{ '3' | multiply(2) }}", 6.0),
        ("{{ 100 | log(10) }}", 2.0),
        ("{{ 16 | sqrt }}", 4.0),
    ],
)
def test_numeric_helpers(source: str, expected: object) -> None:
    result = Template(source).render()
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "helper"),
    [
        ("{{ 'unknown' | float }}", "float"),
        ("{{ int('abc') }}", "int"),
        ("{{ 'maybe' | bool }}", "bool"),
        ("{{ 'x' | round(1) }}", "round"),
        ("{{ average(['a']) }}", "average"),
        ("{{ 'x' | as_timestamp }}", "as_timestamp"),
        ("{{ as_datetime('not a date') }}", "as_datetime"),
        ("{{ strptime('x', '%Y') }}", "strptime"),
        ("{{ from_json('{') }}", "from_json"),
    ],
)
def test_conversion_without_default_fails_clearly(source: str, helper: str) -> None:
    template = Template(source, name="sensor.heating")
    with pytest.raises(TemplateError) as info:
        template.render()
    message = str(info.value)
    assert "'sensor.heating'" in message
    assert f"{helper} got invalid input" in message
    assert "no default was specified" in message


# --- text, regex and JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'Hello World' | regex_match('hello', ignorecase=True) }}", True),
        ("{{ 'Hello World' | regex_match('World') }}", False),
        ("{{ 'Hello World' | regex_search('World') }}", True),
        ("{{ 'a1b22' | regex_replace('[0-9]+', '#') }}", "a#b#"),
        ("{{ 'a1b22' | regex_findall('[0-9]+') }}", ["1", "22"]),
        ("{{ 'a1b22' | regex_findall_index('[0-9]+', 1) }}", 22),
        ("{{ 'abc' is match('a') }}", True),
        ("{{ 'abc' is search('c') }}", True),
        ("{{ {'a': [1, 2]} | to_json }}", {"a": [1, 2]}),
        ("{{ ({'b': 1, 'a': 2} | to_json(sort_keys=True)) == '{\"a\": 2, \"b\": 1}' }}", True),
        ("{{ ('{\"t\": 21}' | from_json).t }}", 21),
        ("{{ 'Küche 1' | slugify }}", "kuche_1"),
        ("{{ 'aGk=' | base64_decode }}", "hi"),
        ("{{ 'hi' | base64_encode }}", "aGk="),
        ("{{ [1, 2] is list }}", True),
        ("{{ 'on' in ['on', 'off'] }}", True),
        ("{{ [1, 2] | contains(2) }}", True),
        ("{{ 12 | bitwise_and(4) }}", 4),
        ("{{ zip(['a', 'b'], [1, 2]) | list }}", [("a", 1), ("b", 2)]),
    ],
)
def test_text_helpers(source: str, expected: object) -> None:
    assert Template(source).render() == expected


# --- states --------------------------------------------------------------------------------------


async def test_states_callable_and_attribute_forms(runtime: Runtime) -> None:
    runtime.states.set("sensor.t", "21.5", {"unit_of_measurement": "°C", "friendly_name": "T"})
    assert render(runtime, "{{ states('sensor.t') }}") == 21.5
    assert render(runtime, "{{ states('sensor.t', with_unit=True) }}") == "21.5 °C"
    assert render(runtime, "{{ states('sensor.t', True, True) }}") == "21.5 °C"
    assert render(runtime, "{{ states('sensor.missing') }}") == "unknown"
    assert render(runtime, "{{ states.sensor.t.state }}") == 21.5
    assert render(runtime, "{{ states.sensor.t.attributes.unit_of_measurement }}") == "°C"
    assert render(runtime, "{{ states.sensor.t.name }}") == "T"
    assert render(runtime, "{{ states.sensor.t.entity_id }}") == "sensor.t"
    assert render(runtime, "{{ states.sensor.t.domain }}/{{ states.sensor.t.object_id }}") == (
        "sensor/t"
    )
    assert render(runtime, "{{ states.sensor.t.last_changed is datetime }}") is True
    assert render(runtime, "{{ states.sensor.missing }}") is None
    assert render(runtime, "{{ states['sensor']['t'].state }}") == 21.5
    assert render(runtime, "{{ 'sensor.t' | states }}") == 21.5


async def test_states_iteration_is_sorted_by_entity_id(runtime: Runtime) -> None:
    runtime.states.set("light.b", "on")
    runtime.states.set("light.a", "off")
    runtime.states.set("switch.c", "on")
    assert render(runtime, "{{ states.light | map(attribute='entity_id') | list }}") == [
        "light.a",
        "light.b",
    ]
    assert (
        render(runtime, "{{ states.light | selectattr('state', 'eq', 'on') | list | count }}") == 1
    )
    assert render(runtime, "{{ states | count }}") == 3
    assert render(runtime, "{% for s in states %}{{ s.entity_id }} {% endfor %}") == (
        "light.a light.b switch.c"
    )


async def test_is_state_and_attribute_helpers(runtime: Runtime) -> None:
    runtime.states.set("binary_sensor.occ", "on", {"device_class": "occupancy", "level": 3})
    runtime.states.set("sensor.u", "unavailable")
    assert render(runtime, "{{ is_state('binary_sensor.occ', 'on') }}") is True
    assert render(runtime, "{{ is_state('binary_sensor.occ', ['off', 'on']) }}") is True
    assert render(runtime, "{{ is_state('binary_sensor.nope', 'on') }}") is False
    assert render(runtime, "{{ state_attr('binary_sensor.occ', 'level') }}") == 3
    assert render(runtime, "{{ state_attr('binary_sensor.occ', 'nope') }}") is None
    assert render(runtime, "{{ is_state_attr('binary_sensor.occ', 'level', 3) }}") is True
    assert render(runtime, "{{ has_value('binary_sensor.occ') }}") is True
    assert render(runtime, "{{ has_value('sensor.u') }}") is False
    assert render(runtime, "{{ has_value('sensor.none') }}") is False
    assert render(runtime, "{{ has_value('not an id') }}") is False
    assert render(runtime, "{{ 'binary_sensor.occ' is is_state('on') }}") is True
    assert render(runtime, "{{ 'binary_sensor.occ' | is_state('on') }}") is True


async def test_expand_follows_groups_once_and_sorts(runtime: Runtime) -> None:
    runtime.states.set("light.a", "on")
    runtime.states.set("light.b", "off")
    runtime.states.set("light.c", "on")
    runtime.states.set("group.inner", "on", {"entity_id": ["light.b", "light.c"]})
    runtime.states.set("group.all", "on", {"entity_id": ["light.a", "group.inner", "group.all"]})
    ids = "{{ expand('group.all') | map(attribute='entity_id') | list }}"
    assert render(runtime, ids) == ["light.a", "light.b", "light.c"]
    two = (
        "{{ expand(['light.c', states.light.a], 'light.c', 'light.none')"
        " | map(attribute='entity_id') | list }}"
    )
    assert render(runtime, two) == ["light.a", "light.c"]
    _, info = Template(ids, runtime).render_with_info()
    assert info.entities == {"group.all", "group.inner", "light.a", "light.b", "light.c"}


async def test_this_variable(runtime: Runtime) -> None:
    state = runtime.states.set("sensor.me", "3", {"friendly_name": "Me"})
    assert render(runtime, "{{ this.attributes.friendly_name }}", this=state) == "Me"
    assert render(runtime, "{{ this.state | int + 1 }}", this=state) == 4


# --- render info ---------------------------------------------------------------------------------


async def test_render_info_records_entities_domains_all_and_now(runtime: Runtime) -> None:
    runtime.states.set("sensor.t", "22")
    condition = Template(
        "{{ states('sensor.t') | float(0) > 21 and is_state('binary_sensor.occ', 'on') }}",
        runtime,
    )
    result, info = condition.render_with_info()
    assert result is False
    assert info == RenderInfo(entities=frozenset({"sensor.t", "binary_sensor.occ"}))

    _, info = Template("{{ states.light | count }}", runtime).render_with_info()
    assert info.domains == {"light"}
    assert not info.all_states
    _, info = Template("{{ states.light.kitchen }}", runtime).render_with_info()
    assert info.entities == {"light.kitchen"}
    assert info.domains == frozenset()
    _, info = Template("{{ states | count }}", runtime).render_with_info()
    assert info.all_states
    _, info = Template("{{ now().hour }}", runtime).render_with_info()
    assert info.uses_now
    assert not info.entities
    _, info = Template("static", runtime).render_with_info()
    assert info == RenderInfo()


async def test_render_info_of_a_failed_render_keeps_what_was_read(runtime: Runtime) -> None:
    with pytest.raises(TemplateRenderError) as info:
        Template("{{ states('sensor.x') | float }}", runtime).render_with_info()
    assert info.value.render_info.entities == {"sensor.x"}


# --- render_complex and validators ---------------------------------------------------------------


async def test_render_complex_renders_nested_values(runtime: Runtime) -> None:
    runtime.states.set("sensor.t", "20")
    value = {
        "a": Template("{{ states('sensor.t') | int + 1 }}"),
        "b": ["{{ x }}", "plain", 3],
        "{{ 'key' }}": {"c": "{{ x * 2 }}"},
    }
    result = render_complex(value, {"x": 2}, runtime=runtime)
    assert result == {"a": 21, "b": [2, "plain", 3], "key": {"c": 4}}
    assert render_complex("{{ x }}", {"x": "5"}, parse_result=False) == "5"


def test_validator_template_accepts_strings_and_numbers() -> None:
    template = validators.template("{{ 1 + 1 }}")
    assert isinstance(template, Template)
    assert template.runtime is None
    assert template.render() == 2
    assert validators.template(5).render() == 5
    assert validators.template(True).render() is True  # `availability: true` in YAML
    assert validators.template(template) is template


@pytest.mark.parametrize("bad", [None, [], {}, "{{ 1 + }}", "{% if x %}no end"])
def test_validator_template_refuses_bad_input(bad: object) -> None:
    with pytest.raises(vol.Invalid):
        validators.template(bad)


def test_validator_template_complex_keeps_the_path_of_an_error() -> None:
    data = validators.template_complex({"a": ["x", "{{ y }}"], "b": 1})
    assert isinstance(data, dict)
    assert isinstance(data["a"][1], Template)
    assert data["a"][0] == "x"
    assert data["b"] == 1
    with pytest.raises(vol.Invalid) as info:
        validators.template_complex({"a": ["x", "{{ 1 + }}"]})
    assert info.value.path == ["a", 1]


def test_validator_in_a_schema_reports_the_key() -> None:
    schema = vol.Schema({"value_template": validators.template})
    with pytest.raises(vol.Invalid, match="value_template"):
        schema({"value_template": "{{ states('x') "})


# --- areas and devices ---------------------------------------------------------------------------


async def test_area_and_device_helpers(runtime: Runtime) -> None:
    kitchen = runtime.area_registry.create("Kitchen")
    runtime.area_registry.create("Plant room")
    device = runtime.device_registry.get_or_create(
        "demo", identifiers={("demo", "meter-1")}, name="Main meter", model="M1"
    )
    runtime.device_registry.update(device.id, area_id=kitchen.id)
    power = runtime.entity_registry.get_or_create(
        "sensor", "demo", "p1", suggested_object_id="meter_power", device_id=device.id
    )
    lamp = runtime.entity_registry.get_or_create("light", "demo", "l1", suggested_object_id="lamp")
    runtime.entity_registry.update(lamp.entity_id, area_id="plant_room")

    assert render(runtime, "{{ area_entities('Kitchen') }}") == [power.entity_id]
    assert render(runtime, "{{ area_entities('kitchen') }}") == [power.entity_id]
    assert render(runtime, "{{ 'plant_room' | area_entities }}") == ["light.lamp"]
    assert render(runtime, "{{ area_entities('nowhere') }}") == []
    assert render(runtime, "{{ area_name('kitchen') }}") == "Kitchen"
    assert render(runtime, "{{ area_name(e) }}", e=power.entity_id) == "Kitchen"
    assert render(runtime, "{{ area_name(d) }}", d=device.id) == "Kitchen"
    assert render(runtime, "{{ area_id('Plant room') }}") == "plant_room"
    assert render(runtime, "{{ area_id('light.lamp') }}") == "plant_room"
    assert render(runtime, "{{ area_id('sensor.unknown') }}") is None
    assert render(runtime, "{{ area_devices('Kitchen') }}") == [device.id]
    assert render(runtime, "{{ device_id(e) == d }}", e=power.entity_id, d=device.id) is True
    assert render(runtime, "{{ device_id('Main meter') == d }}", d=device.id) is True
    assert render(runtime, "{{ device_attr(e, 'model') }}", e=power.entity_id) == "M1"
    assert render(runtime, "{{ device_attr(d, 'name') }}", d=device.id) == "Main meter"
    assert render(runtime, "{{ device_attr(d, '__class__') }}", d=device.id) is None
    assert render(runtime, "{{ device_attr(d, 'nope') }}", d=device.id) is None
    assert render(runtime, "{{ is_device_attr(d, 'model', 'M1') }}", d=device.id) is True
    assert render(runtime, "{{ device_entities(d) }}", d=device.id) == [power.entity_id]
    assert render(runtime, "{{ integration_entities('demo') }}") == ["light.lamp", power.entity_id]
