"""``input_number`` in a real Runtime: bounds, step, restore, and bad configuration."""

from __future__ import annotations

import pytest

from core.errors import ServiceValidationError
from tests.integrations.helpers.conftest import Site, attrs_of, state_of

YAML = """\
input_number:
  setpoint:
    name: Setpoint
    min: 16
    max: 26
    step: 0.5
    mode: box
    unit_of_measurement: °C
  level:
    min: 0
    max: 10
    initial: 4
"""


async def test_attributes_and_default_value(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_number.setpoint") == "16.0"
        assert attrs_of(runtime, "input_number.setpoint") == {
            "initial": None,
            "min": 16.0,
            "max": 26.0,
            "step": 0.5,
            "mode": "box",
            "editable": False,
            "unit_of_measurement": "°C",
            "friendly_name": "Setpoint",
        }
        assert state_of(runtime, "input_number.level") == "4.0"
        assert attrs_of(runtime, "input_number.level")["mode"] == "slider"


async def test_set_value_increment_decrement_stop_at_bounds(site: Site) -> None:
    async with site(YAML) as runtime:
        target = {"entity_id": "input_number.setpoint"}
        await runtime.services.call("input_number", "set_value", {"value": 25.5}, target=target)
        assert state_of(runtime, "input_number.setpoint") == "25.5"
        await runtime.services.call("input_number", "increment", target=target)
        assert state_of(runtime, "input_number.setpoint") == "26.0"
        await runtime.services.call("input_number", "increment", target=target)
        assert state_of(runtime, "input_number.setpoint") == "26.0"
        await runtime.services.call("input_number", "decrement", target=target)
        assert state_of(runtime, "input_number.setpoint") == "25.5"


async def test_set_value_outside_bounds_names_entity_and_bounds(site: Site) -> None:
    async with site(YAML) as runtime:
        with pytest.raises(ServiceValidationError) as caught:
            await runtime.services.call(
                "input_number", "set_value", {"value": 30, "entity_id": "input_number.setpoint"}
            )
        message = str(caught.value)
        assert "input_number.setpoint" in message
        assert "30" in message
        assert "16 to 26" in message
        assert caught.value.key == "value"
        assert state_of(runtime, "input_number.setpoint") == "16.0"


async def test_value_restored_when_no_initial(site: Site) -> None:
    async with site(YAML) as runtime:
        for entity_id, value in (("input_number.setpoint", 21.5), ("input_number.level", 7)):
            await runtime.services.call(
                "input_number", "set_value", {"value": value, "entity_id": entity_id}
            )
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_number.setpoint") == "21.5"
        assert state_of(runtime, "input_number.level") == "4.0"  # initial wins


async def test_restored_value_outside_new_bounds_falls_back_to_min(site: Site) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call(
            "input_number", "set_value", {"value": 25, "entity_id": "input_number.setpoint"}
        )
    async with site(YAML.replace("max: 26", "max: 22")) as runtime:
        assert state_of(runtime, "input_number.setpoint") == "16.0"


async def test_bad_items_are_reported_and_the_others_load(site: Site) -> None:
    yaml = """\
input_number:
  good:
    min: 0
    max: 5
  too_high:
    min: 0
    max: 10
    initial: 11
  upside_down:
    min: 5
    max: 1
  typo:
    min: 0
    max: 1
    stepp: 0.1
  wrong_type:
    min: zero
    max: 1
"""
    async with site(yaml) as runtime:
        assert state_of(runtime, "input_number.good") == "0.0"
        for item in ("too_high", "upside_down", "typo", "wrong_type"):
            assert runtime.states.get(f"input_number.{item}") is None
        assert runtime.config is not None
        issues = {issue.key: issue for issue in runtime.config.issues}
        assert "outside the range 0 to 10" in issues["input_number.too_high.initial"].message
        assert "greater than min" in issues["input_number.upside_down.max"].message
        assert "extra keys not allowed" in issues["input_number.typo.stepp"].message
        assert issues["input_number.wrong_type.min"].message.startswith("expected float")
        assert issues["input_number.typo.stepp"].path == "configuration.yaml"
        assert issues["input_number.typo.stepp"].line == 20
        # The section as a whole is used: the integration runs.
        assert runtime.loader.integrations["input_number"].status == "running"
