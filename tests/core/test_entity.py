"""Tests of the Entity base class: names, attributes, state strings, context, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.context import Context
from core.entities.sensor import SensorEntity
from core.entity import DeviceInfo, Entity, format_state_value
from core.entity_platform import add_entities
from core.runtime import Runtime
from tests.core._entity_helpers import VirtualSwitch, make_runtime
from tests.core._registries_helpers import delivered


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class Power(SensorEntity):
    """The power sensor of a metered plug, named within its device."""

    _attr_has_entity_name = True
    _attr_name = "Power"
    _attr_unique_id = "plug-1-power"
    _attr_device_class = "power"
    _attr_native_unit_of_measurement = "W"
    _attr_device_info = DeviceInfo(identifiers=frozenset({("tuya", "plug-1")}), name="Kettle")

    def __init__(self) -> None:
        super().__init__()
        self.added_calls = 0
        self.removed_calls = 0

    async def added_to_runtime(self) -> None:
        self.added_calls += 1

    async def will_remove(self) -> None:
        self.removed_calls += 1


async def test_friendly_name_uses_device_name_when_has_entity_name(runtime: Runtime) -> None:
    power = Power()
    await add_entities(runtime, "tuya", [power])

    assert power.entity_id == "sensor.kettle_power"
    state = runtime.states.get("sensor.kettle_power")
    assert state is not None
    assert state.attributes["friendly_name"] == "Kettle Power"

    # A user's name for the device wins over the device's own.
    runtime.device_registry.update(power.device_id or "", name_by_user="Office kettle")
    await delivered()
    state = runtime.states.get("sensor.kettle_power")
    assert state is not None
    assert state.attributes["friendly_name"] == "Office kettle Power"


async def test_registry_name_and_device_class_override_the_entity(runtime: Runtime) -> None:
    await add_entities(runtime, "tuya", [Power()])

    runtime.entity_registry.update(
        "sensor.kettle_power", name="Tea power", device_class="apparent_power"
    )
    await delivered()

    state = runtime.states.get("sensor.kettle_power")
    assert state is not None
    assert state.attributes["friendly_name"] == "Tea power"
    assert state.attributes["device_class"] == "apparent_power"
    assert state.attributes["unit_of_measurement"] == "W"


async def test_state_is_unknown_when_none_and_unavailable_when_not_available(
    runtime: Runtime,
) -> None:
    power = Power()
    await add_entities(runtime, "tuya", [power])
    assert runtime.states.is_state("sensor.kettle_power", "unknown")

    power._attr_available = False
    power.write_state()
    state = runtime.states.get("sensor.kettle_power")
    assert state is not None
    assert state.state == "unavailable"
    assert state.attributes["friendly_name"] == "Kettle Power"


async def test_a_state_longer_than_the_state_machine_holds_is_written_as_unknown(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # The state machine refuses it: the write raised, and ended the task that made it.
    power = Power()
    await add_entities(runtime, "tuya", [power])
    power._attr_native_value = "x" * 256
    power.write_state()
    assert runtime.states.is_state("sensor.kettle_power", "unknown")
    assert "State of sensor.kettle_power has 256 characters, more than a state's 255" in (
        caplog.text
    )

    power._attr_native_value = "x" * 255
    power.write_state()
    assert runtime.states.is_state("sensor.kettle_power", "x" * 255)


async def test_lifecycle_hooks_run_once_and_remove_drops_state(runtime: Runtime) -> None:
    power = Power()
    await add_entities(runtime, "tuya", [power])
    unsubscribed: list[bool] = []
    power.on_remove(lambda: unsubscribed.append(True))

    await power.remove()
    await power.remove()

    assert (power.added_calls, power.removed_calls) == (1, 1)
    assert unsubscribed == [True]
    assert runtime.states.get("sensor.kettle_power") is None


async def test_context_is_forgotten_after_one_write(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    context = Context(user_id="u")

    plug.set_context(context)
    plug._attr_is_on = True
    plug.write_state()
    plug._attr_assumed_state = True
    plug.write_state()

    state = runtime.states.get("switch.plug")
    assert state is not None
    assert state.attributes["assumed_state"] is True
    assert state.context.id != context.id


def test_entity_id_before_adding_is_an_error() -> None:
    entity = Entity()
    assert not entity.has_entity_id
    with pytest.raises(RuntimeError, match="no entity id"):
        _ = entity.entity_id


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        (0.1 + 0.2, None, "0.3"),
        (21.0, None, "21.0"),
        (21.456, 1, "21.5"),
        (21.456, 0, "21"),
        (7, None, "7"),
        (Decimal("1.50"), None, "1.5"),
        (float("nan"), None, None),
        (None, None, None),
        ("idle", None, "idle"),
        (True, None, "on"),
    ],
)
def test_format_state_value(
    value: float | Decimal | str | None, precision: int | None, expected: str | None
) -> None:
    assert format_state_value(value, precision) == expected
