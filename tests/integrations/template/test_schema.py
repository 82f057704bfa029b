"""The ``template:`` section: Home Assistant's YAML in, frozen configs out, bad input named."""

from __future__ import annotations

from datetime import timedelta

import pytest
import voluptuous as vol

from core import SensorDeviceClass, SensorStateClass
from core.config import PartialSection
from core.template import Template
from integrations.template.schema import (
    CONFIG_SCHEMA,
    SensorConfig,
    TemplateConfig,
    item_schema,
    stored_config,
)


def validate(value: object) -> TemplateConfig:
    """The section's config, asserting it had no errors."""
    result = CONFIG_SCHEMA(value)
    assert isinstance(result, PartialSection)
    assert result.errors == ()
    assert isinstance(result.value, TemplateConfig)
    return result.value


def errors_of(value: object) -> tuple[TemplateConfig, list[vol.Invalid]]:
    result = CONFIG_SCHEMA(value)
    assert isinstance(result, PartialSection)
    assert isinstance(result.value, TemplateConfig)
    return result.value, list(result.errors)


def test_blocks_with_sensors_and_binary_sensors() -> None:
    config = validate(
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
    assert validate(value) == TemplateConfig()


def test_a_single_block_is_accepted() -> None:
    config = validate({"sensor": {"name": "x", "state": "1"}})
    assert len(config.sensors) == 1
    _, errors = errors_of({"sensor": {"state": "{{ 1 + }}"}})
    assert [error.path for error in errors] == [["sensor", 0, "state"]]


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
            {"trigger": [{"platform": "state"}], "condition": [], "sensor": [{"state": "1"}]},
            [0, "condition"],
            "conditions and actions in a template block are not supported yet",
        ),
        ({"trigger": [{"entity_id": "x"}], "sensor": [{"state": "1"}]}, [0, "trigger", 0], ""),
        (
            {"binary_sensor": [{"state": "1", "auto_off": 5}]},
            [0, "binary_sensor", 0, "auto_off"],
            "auto_off needs a trigger-based block",
        ),
    ],
)
def test_bad_input_is_named_with_its_path_and_the_rest_is_kept(
    block: dict[str, object], path: list[object], message: str
) -> None:
    good = {"sensor": [{"name": "good", "state": "{{ 1 }}"}]}
    config, errors = errors_of([good, block])
    assert any(error.path == [1, *path[1:]] and message in str(error) for error in errors), errors
    assert [sensor.name.source for sensor in config.sensors] == ["good"]


def test_duplicate_unique_ids_leave_the_second_out() -> None:
    config, errors = errors_of(
        [{"sensor": [{"state": "1", "unique_id": "a"}, {"state": "2", "unique_id": "a"}]}]
    )
    assert [sensor.state.source for sensor in config.sensors] == ["1"]
    assert [error.path for error in errors] == [[0, "sensor", 1, "unique_id"]]
    assert "unique_id 'a' is used by more than one template sensor" in str(errors[0])
    # The same id in two domains is fine, as in Home Assistant.
    validate(
        [
            {
                "sensor": {"state": "1", "unique_id": "a"},
                "binary_sensor": {"state": "1", "unique_id": "a"},
            }
        ]
    )


def test_a_block_that_is_not_a_mapping() -> None:
    _, errors = errors_of(["sensor"])
    assert [error.path for error in errors] == [[0]]


def test_stored_items_are_json_and_give_entity_configs() -> None:
    options = item_schema(
        {
            "template_type": "sensor",
            "name": "Double",
            "state": "{{ states('sensor.a') | float(0) * 2 }}",
            "unit_of_measurement": "W",
            "device_class": "power",
            "attributes": {"source": "{{ 'a' }}"},
        }
    )
    assert options["device_class"] == "power"
    assert isinstance(options["state"], str)
    config = stored_config(options)
    assert isinstance(config, SensorConfig)
    assert config.device_class is SensorDeviceClass.POWER
    assert config.name.source == "Double"
    binary = item_schema(
        {"template_type": "binary_sensor", "name": "B", "state": "{{ true }}", "delay_on": 5}
    )
    assert binary["delay_on"] == 5.0


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"name": "x", "state": "1"}, ["template_type"]),
        ({"template_type": "number", "name": "x", "state": "1"}, ["template_type"]),
        ({"template_type": "sensor", "state": "1"}, ["name"]),
        ({"template_type": "sensor", "name": "x", "state": "{{ 1 + }}"}, ["state"]),
        ({"template_type": "sensor", "name": "x", "state": "1", "delay_on": 3}, ["delay_on"]),
    ],
)
def test_bad_stored_items_name_the_field(options: dict[str, object], path: list[str]) -> None:
    with pytest.raises(vol.Invalid) as info:
        item_schema(options)
    errors = info.value.errors if isinstance(info.value, vol.MultipleInvalid) else [info.value]
    assert errors[0].path == path


def test_trigger_blocks_give_trigger_based_entities() -> None:
    config = validate(
        [
            {
                "trigger": {"trigger": "event", "event_type": "x"},
                "triggers": [{"platform": "state", "entity_id": "sensor.a"}],
                "variables": {"double": "{{ 2 * 2 }}"},
                "binary_sensor": {"state": "{{ true }}", "auto_off": "00:00:10"},
            },
            {"sensor": {"state": "1"}},
        ]
    )
    (binary,) = config.binary_sensors
    assert len(binary.triggers) == 2
    assert binary.auto_off == timedelta(seconds=10)
    assert isinstance(binary.variables["double"], Template)
    assert config.sensors[0].triggers == ()
