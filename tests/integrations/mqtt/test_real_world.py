"""Discovery with payloads in the shapes Zigbee2MQTT and Tasmota publish (fixtures/*.json)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from core.runtime import Runtime
from integrations.mqtt.setup import MQTT_DATA, get_hub
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client, state_of

pytestmark = pytest.mark.usefixtures("shared_broker")

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str, replace: str, by: str) -> list[dict[str, Any]]:
    """The fixture's messages with ``replace`` in every topic (and template) set to ``by``."""
    text = (FIXTURES / name).read_text(encoding="utf-8").replace(replace, by)
    messages: list[dict[str, Any]] = json.loads(text)["messages"]
    return messages


async def announce(prefix: str, messages: list[dict[str, Any]]) -> None:
    async with device_client() as device:
        for message in messages:
            await device.publish(
                f"{prefix}/{message['topic']}", json.dumps(message["payload"]), qos=1
            )


async def idle(runtime: Runtime) -> None:
    discovery = runtime.data[MQTT_DATA].discovery
    assert discovery is not None
    await asyncio.wait_for(discovery.wait_idle(), WAIT)


async def test_zigbee2mqtt_devices(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    z2m = f"{prefix}/z2m/"
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        await announce(f"{prefix}/ha", load("zigbee2mqtt.json", "zigbee2mqtt/", z2m))
        await wait_for(lambda: runtime.states.get("climate.office_trv"), "the TRV")
        await idle(runtime)
        temperature = "sensor.living_room_temperature"
        # Availability comes from the bridge state, through a value_template.
        assert state_of(runtime, temperature) == "unavailable"
        # enabled_by_default: false -> in the registry, disabled, not in the state machine.
        entry = runtime.entity_registry.get("sensor.living_room_linkquality")
        assert entry is not None
        assert entry.disabled
        assert runtime.states.get("sensor.living_room_linkquality") is None
        async with device_client() as device:
            await device.subscribe(f"{z2m}+/set", qos=1)
            await device.subscribe(f"{z2m}+/set/+", qos=1)
            await device.publish(f"{z2m}bridge/state", b'{"state": "online"}', qos=1, retain=True)
            await device.publish(
                f"{z2m}living_room",
                b'{"temperature": 21.37, "humidity": 48.2, "linkquality": 120, "battery": 97}',
                qos=1,
            )
            await device.publish(f"{z2m}hallway_motion", b'{"occupancy": true}', qos=1)
            await device.publish(
                f"{z2m}coffee_plug", b'{"state": "ON", "power_on_behavior": "previous"}', qos=1
            )
            await device.publish(
                f"{z2m}office_trv",
                b'{"local_temperature": 19.5, "occupied_heating_setpoint": 21, '
                b'"system_mode": "heat", "running_state": "heat", '
                b'"local_temperature_calibration": -1.5, "battery": 88}',
                qos=1,
            )
            await wait_for(lambda: state_of(runtime, "climate.office_trv") == "heat", "the TRV")
            await wait_for(lambda: state_of(runtime, temperature) == "21.37", "temperature")
            await runtime.services.call(
                "switch", "turn_off", target={"entity_id": "switch.coffee_plug"}
            )
            await runtime.services.call(
                "climate",
                "set_temperature",
                {"temperature": 22.5},
                target={"entity_id": "climate.office_trv"},
            )
            commands: dict[str, bytes] = {}
            async with asyncio.timeout(WAIT):
                async for message in device.messages:
                    commands[message.topic.value] = message.payload  # type: ignore[assignment]
                    if len(commands) == 2:
                        break
        assert commands == {
            f"{z2m}coffee_plug/set": b"OFF",
            f"{z2m}office_trv/set/occupied_heating_setpoint": b"22.5",
        }
        assert state_of(runtime, "binary_sensor.hallway_motion_occupancy") == "on"
        assert state_of(runtime, "select.coffee_plug_power_on_behavior") == "previous"
        trv = runtime.states.get("climate.office_trv")
        assert trv is not None
        assert trv.attributes["current_temperature"] == 19.5
        assert trv.attributes["temperature"] == 21.0
        assert trv.attributes["hvac_action"] == "heating"
        assert trv.attributes["min_temp"] == 5.0
        calibration = runtime.states.get("number.office_trv_local_temperature_calibration")
        assert calibration is not None
        assert calibration.state == "-1.5"
        assert calibration.attributes["min"] == -12.8
        assert calibration.attributes["mode"] == "box"
        assert state_of(runtime, "sensor.office_trv_battery") == "88"
        state = runtime.states.get(temperature)
        assert state is not None
        assert state.attributes["unit_of_measurement"] == "°C"
        device_entry = runtime.device_registry.get(
            runtime.entity_registry.get(temperature).device_id  # type: ignore[union-attr,arg-type]
        )
        assert device_entry is not None
        assert device_entry.manufacturer == "Aqara"
        assert device_entry.name == "living_room"
        # The bridge goes offline: every Zigbee entity becomes unavailable.
        async with device_client() as device:
            await device.publish(f"{z2m}bridge/state", b'{"state": "offline"}', qos=1, retain=True)
        await wait_for(lambda: state_of(runtime, temperature) == "unavailable", "offline")
        assert state_of(runtime, "switch.coffee_plug") == "unavailable"
        async with device_client() as device:
            await device.publish(f"{z2m}bridge/state", b"", qos=1, retain=True)


async def test_tasmota_devices(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    base = f"{prefix}_plug"
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        await announce(f"{prefix}/ha", load("tasmota.json", "tasmota_A4CF12", base))
        await wait_for(lambda: runtime.states.get("switch.tasmota"), "the relay")
        await idle(runtime)
        power = "sensor.tasmota_tasmota_energy_power"
        assert runtime.states.get(power) is not None, sorted(runtime.states.entity_ids())
        async with device_client() as device:
            await device.subscribe(f"{base}/cmnd/POWER", qos=1)
            await device.publish(f"tele/{base}/LWT", b"Online", qos=1)
            await device.publish(f"{base}/tele/LWT", b"Online", qos=1)
            await device.publish(
                f"tele/{base}/SENSOR",
                b'{"Time":"2026-06-01T12:00:00","ENERGY":{"Total":123.456,"Power":87,'
                b'"Voltage":231},"Switch1":"ON"}',
                qos=1,
            )
            await device.publish(f"{base}/tele/STATE", b'{"POWER":"ON","Wifi":{"RSSI":70}}', qos=1)
            await device.publish(
                f"tele/{base}/HASS_STATE", b'{"Version":"9.1.0","RSSI":70,"LinkCount":1}', qos=1
            )
            await wait_for(lambda: state_of(runtime, "switch.tasmota") == "on", "the relay")
            await runtime.services.call(
                "switch", "turn_off", target={"entity_id": "switch.tasmota"}
            )
            message = await asyncio.wait_for(anext(aiter(device.messages)), WAIT)
        assert message.payload == b"OFF"
        await wait_for(lambda: state_of(runtime, power) == "87", "the power")
        total = runtime.states.get("sensor.tasmota_energy_total")
        assert total is not None, sorted(runtime.states.entity_ids())
        assert total.state == "123.456"
        assert total.attributes["state_class"] == "total_increasing"
        assert state_of(runtime, "binary_sensor.tasmota_switch1") == "on"
        await wait_for(lambda: state_of(runtime, "sensor.tasmota_status") == "70", "the status")
        status = runtime.states.get("sensor.tasmota_status")
        assert status is not None
        assert status.attributes["Version"] == "9.1.0"
