"""The ``template:`` section: Home Assistant's YAML in, frozen configs out, bad input named."""

from __future__ import annotations

from datetime import timedelta

import pytest
import voluptuous as vol

from core import SensorDeviceClass, SensorStateClass
from core.template import Template
from integrations.template.schema import CONFIG_SCHEMA, TemplateConfig


def test_blocks_with_sensors_and_binary_sensors() -> None:
    config = CONFIG_SCHEMA(
        [
            {
                "unique_id": "plant",
                "sensor": [
                    {
                        "name": "Average",
                        "unique_id": "avg",
                        "state": "{{ 1 }}",
                        "unit_of_measurement": "°C",
                        "device_class": "temperature",
                        "state_class": "measurement",
                        "attributes": {"zones": "{{ 3 }}"},
                        "availability": "{{ true }}",
                        "icon": "mdi:thermometer",
                    }
                ],
                "binary_sensor": {
                    "name": "Heating needed",
                    "state": "{{ false }}",
                    "delay_on": "00:05:00",
                    "delay_off": "{{ {'minutes': 2} }}",
                },
            },
            {"sensor": [{"state": "{{ 2 }}"}]},
        ]
    )
    assert isinstance(config, TemplateConfig)
    first, second = config.sensors
    assert first.unique_id == "plant_avg"
    assert first.name.source == "Average"
    assert isinstance(first.state, Template)
    assert first.device_class is SensorDeviceClass.TEMPERATURE
    assert first.state_class is SensorStateClass.MEASUREMENT
    assert set(first.attributes) == {"zones"}
    assert first.icon is not None
    assert first.icon.is_static
    assert second.unique_id is None
    assert second.name.source == "Template Sensor"
    (binary,) = config.binary_sensors
    assert binary.delay_on == timedelta(minutes=5)
    assert isinstance(binary.delay_off, Template)
    assert binary.name.source == "Heating needed"


@pytest.mark.parametrize("value", [None, []])
def test_empty_section(value: object) -> None:
    assert CONFIG_SCHEMA(value) == TemplateConfig()


def test_a_single_block_is_accepted() -> None:
    config = CONFIG_SCHEMA({"sensor": {"name": "x", "state": "1"}})
    assert len(config.sensors) == 1


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        ({"sensor": [{"name": "x"}]}, [0, "sensor", 0, "state"], "required key"),
        (
            {"sensor": [{"state": "{{ states('x') "}]},
            [0, "sensor", 0, "state"],
            "invalid template",
        ),
        (
            {"sensor": [{"state": "1", "attributes": {"a": "{% if %}"}}]},
            [0, "sensor", 0, "attributes", "a"],
            "invalid template",
        ),
        (
            {"sensor": [{"state": "1", "device_class": "nope"}]},
            [0, "sensor", 0, "device_class"],
            "",
        ),
        ({"sensor": [{"state": "1", "colour": "red"}]}, [0, "sensor", 0, "colour"], "extra keys"),
        (
            {"binary_sensor": [{"state": "1", "delay_on": "soon"}]},
            [0, "binary_sensor", 0, "delay_on"],
            "time period",
        ),
        ({"number": [{"state": "1"}]}, [0, "number"], "extra keys"),
        (
            {"trigger": [{"platform": "state"}], "sensor": [{"state": "1"}]},
            [0, "trigger"],
            "trigger-based template entities are not supported yet",
        ),
    ],
)
def test_bad_input_is_named_with_its_path(
    block: dict[str, object], path: list[object], message: str
) -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA([block])
    errors = info.value.errors if isinstance(info.value, vol.MultipleInvalid) else [info.value]
    assert any(error.path == path and message in str(error) for error in errors), errors


def test_duplicate_unique_ids_are_refused() -> None:
    with pytest.raises(vol.Invalid, match="unique_id 'a' is used by more than one"):
        CONFIG_SCHEMA(
            [{"sensor": [{"state": "1", "unique_id": "a"}, {"state": "2", "unique_id": "a"}]}]
        )
    # The same id in two domains is fine, as in Home Assistant.
    CONFIG_SCHEMA(
        [
            {
                "sensor": {"state": "1", "unique_id": "a"},
                "binary_sensor": {"state": "1", "unique_id": "a"},
            }
        ]
    )
