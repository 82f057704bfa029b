"""Home Assistant MQTT discovery on the real broker: both forms, abbreviations, ``~``, removal,
re-announcement on birth, and bad payloads."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from core.runtime import Runtime
from integrations.mqtt.discovery import normalise
from integrations.mqtt.setup import MQTT_DATA, get_hub
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client, state_of

pytestmark = pytest.mark.usefixtures("shared_broker")


def test_abbreviations_and_base_topic_expand() -> None:
    config = normalise(
        {
            "~": "tele/plug1",
            "stat_t": "~/SENSOR",
            "cmd_t": "cmnd/~",
            "uniq_id": "plug1_power",
            "dev": {"ids": ["plug1"], "mf": "Tasmota", "mdl": "S26", "sw": "13.1"},
            "avty": [{"t": "~/LWT", "pl_avail": "Online"}],
            "o": {"name": "Tasmota", "sw": "13.1", "url": "https://tasmota.github.io"},
        }
    )
    assert config == {
        "state_topic": "tele/plug1/SENSOR",
        "command_topic": "cmnd/tele/plug1",
        "unique_id": "plug1_power",
        "device": {
            "identifiers": ["plug1"],
            "manufacturer": "Tasmota",
            "model": "S26",
            "sw_version": "13.1",
        },
        "availability": [{"topic": "tele/plug1/LWT", "payload_available": "Online"}],
        "origin": {
            "name": "Tasmota",
            "sw_version": "13.1",
            "support_url": "https://tasmota.github.io",
        },
    }


async def _publish(topic: str, payload: Any, *, retain: bool = True) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with device_client() as device:
        await device.publish(topic, data, qos=1, retain=retain)


async def _idle(runtime: Runtime) -> None:
    discovery = runtime.data[MQTT_DATA].discovery
    assert discovery is not None
    await asyncio.wait_for(discovery.wait_idle(), WAIT)


async def _clear(topics: list[str]) -> None:
    async with device_client() as device:
        for topic in topics:
            await device.publish(topic, b"", qos=1, retain=True)


async def test_component_form_creates_updates_and_removes(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    topic = f"{prefix}/sensor/node1/power/config"
    config = {
        "name": "Power",
        "uniq_id": "node1_power",
        "stat_t": f"{prefix}/node1/power",
        "unit_of_meas": "W",
        "dev_cla": "power",
        "stat_cla": "measurement",
        "dev": {"ids": "node1", "name": "Node 1"},
    }
    try:
        await _publish(topic, config)
        async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
            entity_id = "sensor.node_1_power"
            await wait_for(lambda: runtime.states.get(entity_id), "the discovered sensor")
            await _publish(f"{prefix}/node1/power", b"230", retain=False)
            await wait_for(lambda: state_of(runtime, entity_id) == "230", "its state")
            state = runtime.states.get(entity_id)
            assert state is not None
            assert state.attributes["unit_of_measurement"] == "W"
            # A changed payload replaces the entity; the entity id stays.
            await _publish(topic, {**config, "unit_of_meas": "kW"})
            await wait_for(
                lambda: (
                    runtime.states.get(entity_id) is not None
                    and runtime.states.get(entity_id).attributes.get("unit_of_measurement") == "kW"
                ),  # type: ignore[union-attr]
                "the updated sensor",
            )
            # An empty retained payload removes it.
            await _publish(topic, b"")
            await wait_for(lambda: runtime.states.get(entity_id) is None, "the removal")
    finally:
        await _clear([topic])


async def test_device_based_form_with_components(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    topic = f"{prefix}/device/hvac7/config"
    payload = {
        "dev": {"ids": ["hvac7"], "name": "HVAC 7", "mf": "Acme", "mdl": "FCU"},
        "o": {"name": "bacpipes", "sw": "1.0"},
        "~": f"{prefix}/hvac7",
        "qos": 1,
        "cmps": {
            "temp": {
                "p": "sensor",
                "name": "Temperature",
                "uniq_id": "hvac7_temp",
                "stat_t": "~/temp",
                "unit_of_meas": "°C",
            },
            "fan": {
                "p": "switch",
                "name": "Fan",
                "uniq_id": "hvac7_fan",
                "stat_t": "~/fan",
                "cmd_t": "~/fan/set",
            },
        },
    }
    try:
        async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
            await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
            await _publish(topic, payload)
            await wait_for(lambda: runtime.states.get("switch.hvac_7_fan"), "the fan")
            await wait_for(lambda: runtime.states.get("sensor.hvac_7_temperature"), "the temp")
            entry = runtime.entity_registry.get("switch.hvac_7_fan")
            assert entry is not None
            device = runtime.device_registry.get(entry.device_id)  # type: ignore[arg-type]
            assert device is not None
            assert device.name == "HVAC 7"
            await _publish(f"{prefix}/hvac7/fan", b"ON", retain=False)
            await wait_for(lambda: state_of(runtime, "switch.hvac_7_fan") == "on", "fan state")
            # A component announced with its platform only is removed; the rest stays.
            payload["cmps"]["fan"] = {"p": "switch"}  # type: ignore[index]
            await _publish(topic, payload)
            await wait_for(lambda: runtime.states.get("switch.hvac_7_fan") is None, "fan gone")
            assert runtime.states.get("sensor.hvac_7_temperature") is not None
            await _publish(topic, b"")
            await wait_for(
                lambda: runtime.states.get("sensor.hvac_7_temperature") is None, "all gone"
            )
    finally:
        await _clear([topic])


async def test_devices_announce_again_on_birth(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    """A device that answers the birth message with its (non-retained) discovery is heard."""
    config = {"name": "Motion", "uniq_id": "m1", "stat_t": f"{prefix}/m1", "dev_cla": "motion"}
    async with device_client() as device:
        await device.subscribe(f"{prefix}/status", qos=1)

        async def answer_birth() -> None:
            async for message in device.messages:
                if message.payload == b"online":
                    await device.publish(
                        f"{prefix}/binary_sensor/m1/config", json.dumps(config), qos=1
                    )
                    return

        answering = asyncio.create_task(answer_birth())
        async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
            await wait_for(lambda: runtime.states.get("binary_sensor.motion"), "the sensor")
        await answering


async def test_bad_discovery_payloads_are_logged_and_disturb_nothing(
    mqtt_runtime: RuntimeFactory, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = {"name": "Good", "uniq_id": "good1", "stat_t": f"{prefix}/good"}
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        caplog.set_level(logging.INFO, logger="integrations.mqtt")
        bad: list[tuple[str, Any]] = [
            ("sensor/a/config", b"{not json"),
            ("sensor/b/config", b"[1, 2]"),
            ("sensor/c/config", {"name": "No state topic"}),
            ("sensor/d/config", {"stat_t": f"{prefix}/d", "qos": "high"}),
            ("vacuum/e/config", {"stat_t": f"{prefix}/e"}),
            ("sensor/f/config", {"stat_t": f"{prefix}/#/f"}),
            ("device/g/config", {"dev": {"ids": "g"}}),
            ("sensor/h/config", {"stat_t": f"{prefix}/h", "name": "Odd", "frobnicate": 1}),
            ("sensor/i/config", {"stat_t": f"{prefix}/i", "dev": {"name": "No ids"}}),
        ]
        for suffix, payload in bad:
            await _publish(f"{prefix}/{suffix}", payload, retain=False)
        await _publish(f"{prefix}/sensor/good/config", good, retain=False)
        await wait_for(lambda: runtime.states.get("sensor.good"), "the good sensor")
        await _idle(runtime)
        text = caplog.text
        assert f"{prefix}/sensor/a/config: the payload is not valid JSON" in text
        assert "must be a JSON object, got list" in text
        assert "missing required key(s) 'state_topic' for component 'sensor'" in text
        assert "expected int @ data['qos']" in text
        assert "component 'vacuum' is not supported" in text
        assert "'#' must be the whole last level" in text
        assert "a device payload needs 'components'" in text
        assert (
            f"Discovery {prefix}/sensor/h/config: entity not created: unknown key(s) "
            "'frobnicate' for component 'sensor'" in text
        )
        assert "a device needs identifiers or connections" in text
        # A payload with a key Home Assistant does not know is refused whole.
        assert runtime.states.get("sensor.odd") is None
        assert runtime.states.entity_ids("sensor") == ["sensor.good"]


async def test_unknown_keys_are_refused_known_ones_accepted(
    mqtt_runtime: RuntimeFactory, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # One burst: a payload with a key Home Assistant's discovery does not know for its
    # component and one without a required key are refused and logged; the payloads around
    # them, with keys Home Assistant knows and Edgewise ignores, create their entities.
    accepted = {
        "name": "Accepted",
        "uniq_id": "accepted1",
        "stat_t": f"{prefix}/accepted",
        "ic": "mdi:thermometer",
        "ent_cat": "diagnostic",
        "en": True,
        "obj_id": "accepted",
        "json_attr_tpl": "{{ value_json | tojson }}",
        "sug_dsp_prc": 1,
        "unit_of_meas": "°C",
        "platform": "mqtt",
        "e": "utf-8",
        "ent_pic": "https://example.com/t.png",
        "lrst_val_tpl": "{{ value_json.reset }}",
        "frc_upd": False,
    }
    typo = {"name": "Typo", "uniq_id": "typo1", "stat_t": f"{prefix}/typo", "unit_of_measure": "W"}
    # payload_press belongs to buttons, not to sensors.
    wrong_component = {"name": "Wrong", "stat_t": f"{prefix}/wrong", "pl_prs": "PRESS"}
    no_command = {"name": "Read only", "stat_t": f"{prefix}/ro"}
    thermostat = {
        "name": "TRV",
        "uniq_id": "trv1",
        "mode_cmd_t": f"{prefix}/trv/mode/set",
        "fan_modes": ["auto", "low"],
        "fan_mode_cmd_t": f"{prefix}/trv/fan/set",
        "swing_modes": ["on", "off"],
        "pr_mode_cmd_t": f"{prefix}/trv/preset/set",
        "pr_modes": ["eco"],
        "curr_hum_t": f"{prefix}/trv/humidity",
    }
    device = {
        "dev": {"ids": ["panel9"], "name": "Panel 9"},
        "o": {"name": "bacpipes"},
        # Shared keys go only to the components that know them: not to the button.
        "stat_t": f"{prefix}/panel9/state",
        "cmps": {
            "level": {"p": "sensor", "name": "Level", "uniq_id": "panel9_level"},
            "reset": {
                "p": "button",
                "name": "Reset",
                "uniq_id": "panel9_reset",
                "cmd_t": f"{prefix}/panel9/reset",
            },
            "odd": {"p": "sensor", "name": "Odd", "uniq_id": "panel9_odd", "colour": "red"},
        },
    }
    topics = [
        f"{prefix}/sensor/accepted/config",
        f"{prefix}/sensor/typo/config",
        f"{prefix}/sensor/wrong/config",
        f"{prefix}/switch/ro/config",
        f"{prefix}/climate/trv/config",
        f"{prefix}/device/panel9/config",
    ]
    try:
        async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}\n") as runtime:
            await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
            caplog.set_level(logging.INFO, logger="integrations.mqtt")
            async with device_client() as client:
                for topic, payload in zip(
                    topics,
                    [accepted, typo, wrong_component, no_command, thermostat, device],
                    strict=True,
                ):
                    await client.publish(topic, json.dumps(payload).encode(), qos=1)
            await _idle(runtime)
            await wait_for(lambda: runtime.states.get("button.panel_9_reset"), "the button")
            text = caplog.text
            assert (
                f"Discovery {prefix}/sensor/typo/config: entity not created: unknown key(s) "
                "'unit_of_measure' for component 'sensor'" in text
            )
            assert "unknown key(s) 'payload_press' for component 'sensor'" in text
            assert (
                f"Discovery {prefix}/switch/ro/config: entity not created: missing required "
                "key(s) 'command_topic' for component 'switch'" in text
            )
            assert (
                f"Discovery {prefix}/device/panel9/config component 'odd' from bacpipes: entity "
                "not created: unknown key(s) 'colour' for component 'sensor'" in text
            )
            state = runtime.states.get("sensor.accepted")
            assert state is not None
            assert state.attributes["icon"] == "mdi:thermometer"
            assert runtime.states.get("climate.trv") is not None
            assert runtime.states.get("sensor.panel_9_level") is not None
            assert sorted(runtime.states.entity_ids("sensor")) == [
                "sensor.accepted",
                "sensor.panel_9_level",
            ]
            assert runtime.states.entity_ids("switch") == []
    finally:
        await _clear(topics)
