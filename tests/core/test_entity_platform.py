"""Tests of adding entities: registry ids, devices, renames, polling, targets, removal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.entities.sensor import SensorEntity
from core.entity import DeviceInfo
from core.entity_platform import add_entities, entity_index, remove_entities
from core.errors import DeviceTimeout, ServiceValidationError
from core.runtime import Runtime
from tests.core._entity_helpers import VirtualSwitch, make_runtime, wait_for_state
from tests.core._registries_helpers import delivered


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path) as rt:
        yield rt


class PolledMeter(SensorEntity):
    """A meter read every 10 ms from a device that can be taken away."""

    _attr_should_poll = True
    _attr_unique_id = "meter-1"
    _attr_name = "Meter"
    _attr_native_unit_of_measurement = "W"
    scan_interval = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.reading = 100.0
        self.reachable = True
        self.polls = 0

    async def async_update(self) -> None:
        self.polls += 1
        if not self.reachable:
            raise DeviceTimeout("no answer in 1 s", device="meter-1", address="30001")
        self._attr_native_value = self.reading


async def test_entity_gets_registry_id_and_device(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    plug._attr_device_info = DeviceInfo(
        identifiers=frozenset({("virtual", "plug-1")}), name="Kitchen plug", model="V1"
    )
    await add_entities(runtime, "virtual", [plug])

    entry = runtime.entity_registry.get("switch.plug")
    assert entry is not None
    assert entry.unique_id == "plug-1"
    assert entry.platform == "virtual"
    device = runtime.device_registry.get(plug.device_id or "")
    assert device is not None
    assert device.model == "V1"
    assert entry.device_id == device.id
    assert entity_index(runtime).get("switch.plug") is plug


async def test_a_field_left_out_keeps_what_another_entity_said(runtime: Runtime) -> None:
    """A second entity of the same device without a name (an MQTT discovery message that leaves
    the device name out) does not erase the device's name."""
    ident = frozenset({("virtual", "plug-9")})
    first = VirtualSwitch(unique_id="plug-9-a")
    first._attr_device_info = DeviceInfo(identifiers=ident, name="Hall plug", model="V1")
    second = VirtualSwitch(unique_id="plug-9-b")
    second._attr_device_info = DeviceInfo(identifiers=ident, sw_version="2.0")
    await add_entities(runtime, "virtual", [first])
    await add_entities(runtime, "virtual", [second])

    assert first.device_id == second.device_id
    device = runtime.device_registry.get(second.device_id or "")
    assert device is not None
    assert (device.name, device.model, device.sw_version) == ("Hall plug", "V1", "2.0")


async def test_entity_without_unique_id_is_not_registered(runtime: Runtime) -> None:
    first, second = VirtualSwitch(unique_id=None), VirtualSwitch(unique_id=None)
    await add_entities(runtime, "virtual", [first, second])

    assert (first.entity_id, second.entity_id) == ("switch.plug", "switch.plug_2")
    assert runtime.entity_registry.get("switch.plug") is None
    assert runtime.states.is_state("switch.plug_2", "off")


async def test_disabled_entity_is_not_added(runtime: Runtime) -> None:
    runtime.entity_registry.get_or_create("switch", "virtual", "plug-1", disabled_by="user")
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])

    assert not plug.added
    assert len(runtime.states) == 0


async def test_entity_follows_registry_rename(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])

    runtime.entity_registry.update("switch.plug", new_entity_id="switch.espresso", name="Espresso")
    await delivered()

    assert runtime.states.get("switch.plug") is None
    state = runtime.states.get("switch.espresso")
    assert state is not None
    assert state.attributes["friendly_name"] == "Espresso"
    assert plug.entity_id == "switch.espresso"
    await runtime.services.call("switch", "turn_on", {"entity_id": "switch.espresso"})
    assert plug.writes == [True]


async def test_registry_icon_change_rewrites_state(runtime: Runtime) -> None:
    await add_entities(runtime, "virtual", [VirtualSwitch()])

    runtime.entity_registry.update("switch.plug", icon="mdi:coffee")
    await delivered()

    state = runtime.states.get("switch.plug")
    assert state is not None
    assert state.attributes["icon"] == "mdi:coffee"


async def test_entity_removed_from_registry_is_removed(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])

    runtime.entity_registry.remove("switch.plug")
    await delivered()

    assert runtime.states.get("switch.plug") is None
    assert "switch.plug" not in entity_index(runtime)


async def test_polling_entity_marked_unavailable_and_recovers(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    meter = PolledMeter()
    await add_entities(runtime, "modbus", [meter], update_before_add=True)
    assert runtime.states.is_state("sensor.meter", "100.0")
    assert any(t.get_name() == "entity_poll[modbus.sensor]" for t in runtime._tasks)

    meter.reachable = False
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="core.entity"):
        down = await wait_for_state(runtime, "sensor.meter", "unavailable")
        polls_when_down = meter.polls
        async with asyncio.timeout(2):
            # Several failed polls in one outage; polling the counter is simplest here.
            while meter.polls < polls_when_down + 3:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.005)
        assert runtime.states.is_state("sensor.meter", "unavailable")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "no answer in 1 s" in errors[0].getMessage()
        assert down.attributes.get("unit_of_measurement") == "W"

        meter.reading = 250.0
        meter.reachable = True
        await wait_for_state(runtime, "sensor.meter", "250.0")
    assert any(
        r.levelno == logging.INFO and "available again" in r.getMessage() for r in caplog.records
    )


async def test_remove_entities_stops_polling_and_removes_states(runtime: Runtime) -> None:
    meter = PolledMeter()
    await add_entities(runtime, "modbus", [meter])
    await add_entities(runtime, "virtual", [VirtualSwitch()])

    await remove_entities(runtime, "modbus")

    assert runtime.states.get("sensor.meter") is None
    assert runtime.states.is_state("switch.plug", "off")  # another integration's
    polls = meter.polls
    await delivered()
    assert meter.polls == polls
    assert not any(t.get_name() == "entity_poll[modbus.sensor]" for t in runtime._tasks)


async def test_target_by_area_reaches_entity(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    kitchen = runtime.area_registry.create("Kitchen")
    runtime.entity_registry.update("switch.plug", area_id=kitchen.id)

    await runtime.services.call("switch", "turn_on", target={"area_id": kitchen.id})

    assert plug.writes == [True]


async def test_unknown_target_entity_is_an_error(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug, PolledMeter()])

    with pytest.raises(
        ServiceValidationError, match=r"unknown switch entities: sensor\.meter, switch\.nope"
    ):
        await runtime.services.call(
            "switch", "turn_on", {"entity_id": ["switch.plug", "switch.nope", "sensor.meter"]}
        )
    assert plug.writes == []


async def test_target_matching_nothing_is_a_no_op(runtime: Runtime) -> None:
    plug = VirtualSwitch()
    await add_entities(runtime, "virtual", [plug])
    empty = runtime.area_registry.create("Attic")

    await runtime.services.call("switch", "turn_on", target={"area_id": empty.id})

    assert plug.writes == []


async def test_entity_id_all_targets_every_entity_of_the_domain(runtime: Runtime) -> None:
    first, second = VirtualSwitch("a", "A"), VirtualSwitch("b", "B")
    await add_entities(runtime, "virtual", [first, second])

    await runtime.services.call("switch", "turn_on", {"entity_id": "all"})

    assert first.writes == second.writes == [True]
