"""YAML entities against the real broker: states in, commands out, availability, bad payloads."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from core.audit import AuditLog
from integrations.mqtt.setup import get_hub
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client, state_of

pytestmark = pytest.mark.usefixtures("shared_broker")


def entities_yaml(prefix: str) -> str:
    p = prefix
    return f"""\
mqtt:
  discovery_prefix: {p}/ha
  sensor:
    - name: Supply temperature
      unique_id: ahu1_supply
      state_topic: {p}/ahu1/supply
      unit_of_measurement: °C
      device_class: temperature
      state_class: measurement
      json_attributes_topic: {p}/ahu1/attrs
      availability_topic: {p}/ahu1/status
      device: {{identifiers: [ahu1], name: AHU 1, manufacturer: Acme}}
    - name: Mode text
      state_topic: {p}/mode_text
      expire_after: 1
  binary_sensor:
    - name: Door
      state_topic: {p}/door
      payload_on: OPEN
      payload_off: CLOSED
  switch:
    - name: Pump
      unique_id: pump
      state_topic: {p}/pump/state
      command_topic: {p}/pump/set
      payload_on: "1"
      payload_off: "0"
    - name: Optimistic relay
      command_topic: {p}/relay/set
  number:
    - name: Setpoint
      command_topic: {p}/sp/set
      state_topic: {p}/sp
      min: 10
      max: 30
      step: 0.5
  select:
    - name: Fan mode
      command_topic: {p}/fan/set
      options: [low, medium, high]
  button:
    - name: Restart controller
      command_topic: {p}/restart
      payload_press: RESTART
  climate:
    - name: Zone 3
      modes: ["off", heat, cool]
      mode_command_topic: {p}/zone3/mode/set
      mode_state_topic: {p}/zone3/mode
      temperature_command_topic: {p}/zone3/sp/set
      current_temperature_topic: {p}/zone3/temp
      min_temp: 16
      max_temp: 28
"""


async def test_states_arrive_from_topics(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        # Availability topic given: unavailable until the device says online.
        assert state_of(runtime, "sensor.ahu_1_supply_temperature") == "unavailable"
        async with device_client() as device:
            await device.publish(f"{prefix}/ahu1/status", b"online", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"18.25", qos=1)
            await device.publish(f"{prefix}/ahu1/attrs", b'{"fan": "on", "hours": 12}', qos=1)
            await device.publish(f"{prefix}/door", b"OPEN", qos=1)
            await device.publish(f"{prefix}/pump/state", b"1", qos=1)
            await device.publish(f"{prefix}/sp", b"21.5", qos=1)
            await device.publish(f"{prefix}/zone3/mode", b"heat", qos=1)
            await device.publish(f"{prefix}/zone3/temp", b"20.1", qos=1)
        entity_id = "sensor.ahu_1_supply_temperature"
        await wait_for(lambda: state_of(runtime, "climate.zone_3") == "heat", "zone mode")
        await wait_for(
            lambda: "fan" in runtime.states.get(entity_id).attributes,  # type: ignore[union-attr]
            "json attributes",
        )
        state = runtime.states.get(entity_id)
        assert state is not None
        assert state.state == "18.25"
        assert state.attributes["unit_of_measurement"] == "°C"
        assert state.attributes["hours"] == 12
        assert state.attributes["friendly_name"] == "AHU 1 Supply temperature"
        device = runtime.device_registry.get(
            runtime.entity_registry.get(entity_id).device_id  # type: ignore[union-attr,arg-type]
        )
        assert device is not None
        assert device.manufacturer == "Acme"
        assert state_of(runtime, "binary_sensor.door") == "on"
        assert state_of(runtime, "switch.pump") == "on"
        assert state_of(runtime, "number.setpoint") == "21.5"
        zone = runtime.states.get("climate.zone_3")
        assert zone is not None
        assert zone.attributes["current_temperature"] == 20.1


async def test_commands_are_published_and_audited(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client() as device:
            await device.subscribe(f"{prefix}/+/set", qos=1)
            await device.subscribe(f"{prefix}/+/+/set", qos=1)
            await device.subscribe(f"{prefix}/restart", qos=1)
            calls: list[tuple[str, str, dict[str, object], str]] = [
                ("switch", "turn_off", {}, "switch.pump"),
                ("switch", "turn_on", {}, "switch.optimistic_relay"),
                ("number", "set_value", {"value": 12}, "number.setpoint"),
                ("select", "select_option", {"option": "high"}, "select.fan_mode"),
                ("button", "press", {}, "button.restart_controller"),
                (
                    "climate",
                    "set_temperature",
                    {"temperature": 22, "hvac_mode": "cool"},
                    "climate.zone_3",
                ),
            ]
            for domain, service, data, entity_id in calls:
                await runtime.services.call(domain, service, data, target={"entity_id": entity_id})
            got: list[tuple[str, bytes]] = []
            async with asyncio.timeout(WAIT):
                async for message in device.messages:
                    got.append((message.topic.value, message.payload))  # type: ignore[arg-type]
                    if len(got) == 7:
                        break
        assert sorted(got) == sorted(
            [
                (f"{prefix}/pump/set", b"0"),
                (f"{prefix}/relay/set", b"ON"),
                (f"{prefix}/sp/set", b"12"),
                (f"{prefix}/fan/set", b"high"),
                (f"{prefix}/restart", b"RESTART"),
                (f"{prefix}/zone3/mode/set", b"cool"),
                (f"{prefix}/zone3/sp/set", b"22.0"),
            ]
        )
        # Optimistic entities (no state topic) take the new state at once.
        assert state_of(runtime, "switch.optimistic_relay") == "on"
        assert state_of(runtime, "select.fan_mode") == "high"
        # With a state topic, the device's answer decides.
        assert state_of(runtime, "switch.pump") == "unknown"
        audit = runtime.data.get(_audit_key())
        assert isinstance(audit, AuditLog)
        actions = {record.action for record in audit.query(limit=20)}
        assert {"switch.turn_off", "number.set_value", "button.press"} <= actions


def _audit_key() -> object:
    from core.audit import AUDIT_LOG

    return AUDIT_LOG


async def test_out_of_range_writes_are_refused_before_the_broker(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    from core.errors import ServiceValidationError

    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        # Entities are unavailable (and skipped by services) until the broker is connected.
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        with pytest.raises(ServiceValidationError, match="outside its range 10 to 30"):
            await runtime.services.call(
                "number", "set_value", {"value": 99}, target={"entity_id": "number.setpoint"}
            )
        with pytest.raises(ServiceValidationError, match="outside its range 16 to 28"):
            await runtime.services.call(
                "climate",
                "set_temperature",
                {"temperature": 40},
                target={"entity_id": "climate.zone_3"},
            )


async def test_bad_payloads_are_logged_and_keep_the_state(
    mqtt_runtime: RuntimeFactory, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        sensor = "sensor.ahu_1_supply_temperature"
        caplog.set_level(logging.WARNING, logger="integrations.mqtt")
        async with device_client() as device:
            await device.publish(f"{prefix}/ahu1/status", b"online", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"17", qos=1)
            await wait_for(lambda: state_of(runtime, sensor) == "17", "the first value")
            await device.publish(f"{prefix}/ahu1/supply", b"warm", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"\xff\xfe", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"1" * 1_000_000, qos=1)
            await device.publish(f"{prefix}/ahu1/attrs", b"{not json", qos=1)
            await device.publish(f"{prefix}/ahu1/attrs", b"[1, 2]", qos=1)
            await device.publish(f"{prefix}/door", b"AJAR", qos=1)
            await device.publish(f"{prefix}/sp", b"55", qos=1)
            await device.publish(f"{prefix}/sp", b"{}", qos=1)
            await device.publish(f"{prefix}/zone3/mode", b"turbo", qos=1)
            await device.publish(f"{prefix}/zone3/mode", b"auto", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"19", qos=1)
        await wait_for(lambda: state_of(runtime, sensor) == "19", "the good value after")
        text = caplog.text
        assert "'warm' on" in text
        assert "not a number" in text
        assert "is not utf-8 text" in text
        assert "longer than 255" in text
        assert "are not JSON" in text
        assert "must be a JSON object, got list" in text
        assert "'AJAR'" in text
        assert "outside 10 to 30" in text
        assert "not an HVAC mode" in text
        assert "not one of the modes" in text
        assert state_of(runtime, "binary_sensor.door") == "unknown"
        assert state_of(runtime, "number.setpoint") == "unknown"


async def test_expire_after_and_broker_connection_make_entities_unavailable(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client() as device:
            await device.publish(f"{prefix}/mode_text", b"eco", qos=1)
        await wait_for(lambda: state_of(runtime, "sensor.mode_text") == "eco", "a value")
        await wait_for(lambda: state_of(runtime, "sensor.mode_text") == "unavailable", "expiry")


async def test_invalid_topics_in_config_name_the_key(
    edgewise_cmd: object, config_dir: object, prefix: str
) -> None:
    make = config_dir
    directory = make(  # type: ignore[operator]
        f"""\
        mqtt:
          sensor:
            - name: Bad
              state_topic: {prefix}/#/x
          switch:
            - name: Worse
              command_topic: {prefix}/+/set
          number:
            - name: Flat
              command_topic: {prefix}/n
              min: 5
              max: 5
        """
    )
    result = edgewise_cmd("check-config", "-c", str(directory))  # type: ignore[operator]
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'#' must be the whole last level" in output
    assert "wildcards '+' and '#' are not allowed" in output
    assert "min (5) must be less than max (5)" in output
    assert json is not None


async def test_availability_mode_all_and_off_delay(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    yaml = f"""\
mqtt:
  discovery_prefix: {prefix}/ha
  binary_sensor:
    - name: Motion
      state_topic: {prefix}/motion
      off_delay: 1
      availability_mode: all
      availability:
        - topic: {prefix}/gateway
        - topic: {prefix}/sensor
          payload_available: alive
          payload_not_available: dead
"""
    async with mqtt_runtime(yaml) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        entity_id = "binary_sensor.motion"
        async with device_client() as device:
            await device.publish(f"{prefix}/gateway", b"online", qos=1)
            await device.publish(f"{prefix}/motion", b"ON", qos=1)
            await wait_for(lambda: runtime.states.get(entity_id) is not None, "the entity")
            # Only one of the two availability topics says available: 'all' keeps it away.
            assert state_of(runtime, entity_id) == "unavailable"
            await device.publish(f"{prefix}/sensor", b"alive", qos=1)
            await device.publish(f"{prefix}/motion", b"ON", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "on", "motion")
            # off_delay: back to off by itself.
            await wait_for(lambda: state_of(runtime, entity_id) == "off", "the off delay")
            await device.publish(f"{prefix}/sensor", b"dead", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "unavailable", "dead")


async def test_values_after_a_rename_or_new_attributes_carry_them(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    # A value write reuses the previous attributes while nothing they come from changed: a
    # registry rename, a device rename, new JSON attributes and availability must all show.
    entity_id = "sensor.ahu_1_supply_temperature"
    async with mqtt_runtime(entities_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)

        def attributes() -> dict[str, object]:
            state = runtime.states.get(entity_id)
            assert state is not None
            return dict(state.attributes)

        async with device_client() as device:
            await device.publish(f"{prefix}/ahu1/status", b"online", qos=1)
            await device.publish(f"{prefix}/ahu1/supply", b"18", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "18", "the first value")
            assert attributes()["friendly_name"] == "AHU 1 Supply temperature"
            runtime.entity_registry.update(entity_id, name="Supply air")
            await device.publish(f"{prefix}/ahu1/supply", b"19", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "19", "the second value")
            assert attributes()["friendly_name"] == "Supply air"
            runtime.entity_registry.update(entity_id, name=None)
            entry = runtime.entity_registry.get(entity_id)
            assert entry is not None
            assert entry.device_id is not None
            runtime.device_registry.update(entry.device_id, name_by_user="Air handler")
            await device.publish(f"{prefix}/ahu1/supply", b"20", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "20", "the third value")
            assert attributes()["friendly_name"] == "Air handler Supply temperature"
            await device.publish(f"{prefix}/ahu1/attrs", b'{"fan": "off"}', qos=1)
            await wait_for(lambda: attributes().get("fan") == "off", "the JSON attributes")
            await device.publish(f"{prefix}/ahu1/supply", b"21", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "21", "the fourth value")
            assert attributes()["fan"] == "off"
            await device.publish(f"{prefix}/ahu1/status", b"offline", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "unavailable", "offline")
            assert "fan" not in attributes()
            await device.publish(f"{prefix}/ahu1/status", b"online", qos=1)
            await wait_for(lambda: state_of(runtime, entity_id) == "21", "online again")
            assert attributes()["fan"] == "off"
