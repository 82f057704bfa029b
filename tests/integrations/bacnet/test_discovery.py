"""Discovery on loopback (directed and ranged Who-Is), browsing a device's objects, and points
picked through a service, persisted across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ServiceValidationError

from .conftest import call, running, site_yaml, state_of, wait_state
from .device import TestDevice

NO_POINTS = "        []\n"


async def test_directed_who_is_finds_the_device_and_its_capabilities(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        found = await call(
            runtime,
            "discover",
            {"address": device.address, "timeout": 1},
            return_response=True,
        )
        assert found["devices"] == [
            {
                "instance": device.instance,
                "address": device.address,
                "max_apdu": 1024,
                "segmentation": "segmented-both",
                "vendor_id": 999,
                "configured": True,
            }
        ]
        ranged = await call(
            runtime,
            "discover",
            {"address": device.address, "low": 1000, "high": 1010, "timeout": 1},
            return_response=True,
        )
        assert [d["instance"] for d in ranged["devices"]] == [device.instance]
        outside = await call(
            runtime,
            "discover",
            {"address": device.address, "low": 2000, "high": 2010, "timeout": 0.5},
            return_response=True,
        )
        assert outside["devices"] == []
        with pytest.raises(ServiceValidationError, match="give both low and high"):
            await call(runtime, "discover", {"low": 5}, return_response=True)


async def test_browse_device_lists_objects_with_names_units_and_commandability(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        browsed = await call(runtime, "browse_device", {"device": "AHU"}, return_response=True)
        assert browsed["device"]["instance"] == device.instance
        assert browsed["device"]["max_apdu"] == 1024
        objects = {o["object"]: o for o in browsed["objects"]}
        assert set(objects) == {
            "analog-value,1",
            "analog-value,3",
            "analog-input,1",
            "analog-input,2",
            "binary-input,1",
            "binary-value,1",
            "multi-state-output,1",
        }
        setpoint = objects["analog-value,1"]
        assert setpoint == {
            "object": "analog-value,1",
            "name": "Supply setpoint",
            "description": "Supply air temperature setpoint",
            "present_value": 21.0,
            "units": "degrees-celsius",
            "commandable": True,
            "entity_id": "number.ahu_supply_setpoint",
        }
        assert objects["analog-input,2"]["commandable"] is False
        assert objects["analog-input,2"]["entity_id"] is None


async def test_unknown_devices_are_clear_errors(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        with pytest.raises(ServiceValidationError, match="no configured device is named"):
            await call(runtime, "browse_device", {"device": "Boiler"}, return_response=True)
        with pytest.raises(ServiceValidationError, match="No device with instance 4242"):
            await call(
                runtime,
                "browse_device",
                {"device": 4242, "address": device.address},
                return_response=True,
            )


async def test_a_picked_point_becomes_an_entity_and_survives_a_restart(
    tmp_path: Path, client_port: int
) -> None:
    device = TestDevice(1005)
    await device.start()
    other = TestDevice(1006)
    await other.start()
    try:
        yaml = site_yaml(device, client_port, NO_POINTS)
        async with running(tmp_path, yaml) as runtime:
            added = await call(
                runtime,
                "add_point",
                {"device": "AHU", "object": "analog-input,2", "name": "Return air"},
                return_response=True,
            )
            assert added == {"entity_id": "sensor.ahu_return_air"}
            await wait_state(runtime, "sensor.ahu_return_air", "24.0")
            # A device that is only discovered comes along with its picked point.
            added = await call(
                runtime,
                "add_point",
                {
                    "device": other.instance,
                    "address": other.address,
                    "device_name": "Chiller",
                    "object": "av,1",
                    "min": 15,
                    "max": 25,
                },
                return_response=True,
            )
            assert added == {"entity_id": "number.chiller_analog_value_1"}
            await wait_state(runtime, "number.chiller_analog_value_1", "21.0")
            with pytest.raises(ServiceValidationError, match="already a point"):
                await call(
                    runtime,
                    "add_point",
                    {"device": "AHU", "object": "ai,2"},
                    return_response=True,
                )
        async with running(tmp_path, yaml) as runtime:
            await wait_state(runtime, "sensor.ahu_return_air", "24.0")
            await wait_state(runtime, "number.chiller_analog_value_1", "21.0")
            state = runtime.states.get("number.chiller_analog_value_1")
            assert state is not None
            assert (state.attributes["min"], state.attributes["max"]) == (15.0, 25.0)
            await call(runtime, "remove_point", {"entity_id": "sensor.ahu_return_air"})
            assert state_of(runtime, "sensor.ahu_return_air") is None
        async with running(tmp_path, yaml) as runtime:
            await wait_state(runtime, "number.chiller_analog_value_1", "21.0")
            assert state_of(runtime, "sensor.ahu_return_air") is None
    finally:
        device.stop()
        other.stop()
