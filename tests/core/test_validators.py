"""Shared voluptuous validators."""

from __future__ import annotations

from datetime import timedelta

import pytest
import voluptuous as vol

from core import validators as v


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("on", True), ("YES", True), (1, True), ("off", False), (0, False)],
)
def test_boolean_accepts_home_assistant_words(value: object, expected: bool) -> None:
    assert v.boolean(value) is expected


def test_boolean_refuses_other_words() -> None:
    with pytest.raises(vol.Invalid, match="expected a boolean"):
        v.boolean("maybe")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, timedelta(seconds=30)),
        ("90", timedelta(seconds=90)),
        ("01:30", timedelta(minutes=1, seconds=30)),
        ("02:00:05", timedelta(hours=2, seconds=5)),
        ("-00:10", timedelta(seconds=-10)),
        ({"minutes": 5}, timedelta(minutes=5)),
    ],
)
def test_time_period_forms(value: object, expected: timedelta) -> None:
    assert v.time_period(value) == expected


def test_time_period_refuses_unknown_keys_and_words() -> None:
    with pytest.raises(vol.Invalid, match="unknown time period key"):
        v.time_period({"weeks": 1})
    with pytest.raises(vol.Invalid, match="expected a time period"):
        v.time_period("soon")


def test_entity_ids_accept_lists_and_comma_strings() -> None:
    assert v.entity_ids("sensor.A, switch.b") == ["sensor.a", "switch.b"]
    with pytest.raises(vol.Invalid, match="invalid entity id"):
        v.entity_ids(["sensor a"])


def test_entity_domain_requires_the_domain() -> None:
    assert v.entity_domain("switch")("switch.pump") == "switch.pump"
    with pytest.raises(vol.Invalid, match="domain 'switch'"):
        v.entity_domain("switch")("light.pump")


def test_time_zone_and_currency() -> None:
    assert v.time_zone("Europe/Amsterdam") == "Europe/Amsterdam"
    with pytest.raises(vol.Invalid):
        v.time_zone("Mars/Olympus")
    with pytest.raises(vol.Invalid):
        v.time_zone("Europe")
    assert v.currency("EUR") == "EUR"
    with pytest.raises(vol.Invalid):
        v.currency("eur")


def test_empty_config_refuses_options() -> None:
    assert v.empty_config(None) == {}
    with pytest.raises(vol.Invalid, match="unknown option 'foo'"):
        v.empty_config({"foo": 1})


def test_port_and_slug() -> None:
    assert v.port("502") == 502
    with pytest.raises(vol.Invalid):
        v.port(70000)
    assert v.slug("plant_1") == "plant_1"
    with pytest.raises(vol.Invalid):
        v.slug("Plant 1")


def test_deferred_imports_the_schema_only_when_a_section_is_validated() -> None:
    import subprocess
    import sys

    code = (
        "import sys, integrations.modbus as m, voluptuous as vol\n"
        "assert 'integrations.modbus.schema' not in sys.modules\n"
        "schema = m.edgewise_manifest().config_schema\n"
        "try:\n"
        "    schema([{'name': 'hub', 'type': 'tcp'}])\n"
        "except vol.Invalid as err:\n"
        "    print('invalid', err.path)\n"
        "assert 'integrations.modbus.schema' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("invalid")
