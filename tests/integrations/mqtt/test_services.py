"""``mqtt.publish``, ``mqtt.dump``, the state stream and the command bridge on the real broker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from core.errors import ServiceValidationError
from integrations.mqtt.setup import get_hub
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client, state_of

pytestmark = pytest.mark.usefixtures("shared_broker")


async def _collect(device: Any, count: int) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []
    async with asyncio.timeout(WAIT):
        async for message in device.messages:
            got.append((message.topic.value, message.payload))
            if len(got) == count:
                break
    return got


async def test_publish_service_sends_payload_qos_and_retain(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        for qos, payload in [(0, "zero"), (1, 1.5), (2, True)]:
            await runtime.services.call(
                "mqtt",
                "publish",
                {"topic": f"{prefix}/pub/{qos}", "payload": payload, "qos": qos, "retain": True},
            )
        await wait_for(lambda: len(get_hub(runtime).outbox) == 0, "the outbox to empty")
        async with device_client() as device:
            await device.subscribe(f"{prefix}/pub/#", qos=1)
            got = dict(await _collect(device, 3))
        assert got == {
            f"{prefix}/pub/0": b"zero",
            f"{prefix}/pub/1": b"1.5",
            f"{prefix}/pub/2": b"true",
        }
        with pytest.raises(ServiceValidationError, match="wildcards"):
            await runtime.services.call("mqtt", "publish", {"topic": f"{prefix}/#", "payload": 1})
        with pytest.raises(ServiceValidationError, match="qos must be 0, 1 or 2"):
            await runtime.services.call("mqtt", "publish", {"topic": f"{prefix}/x", "qos": 3})


async def test_dump_returns_and_writes_what_arrived(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)

        async def feed() -> None:
            async with device_client() as device:
                # Publish until the dump has seen something: it subscribes asynchronously.
                for index in range(200):
                    await device.publish(f"{prefix}/dump/{index}", str(index).encode(), qos=1)
                    await asyncio.sleep(0.01)

        feeder = asyncio.create_task(feed())
        response = await runtime.services.call(
            "mqtt", "dump", {"topic": f"{prefix}/dump/#", "duration": 1}, return_response=True
        )
        feeder.cancel()
        assert response is not None
        messages = response["messages"]
        assert messages, "the dump saw the messages published while it ran"
        assert all(m["topic"].startswith(f"{prefix}/dump/") for m in messages)
        text = (runtime.config_dir / "mqtt_dump.txt").read_text()
        assert f"{messages[0]['topic']},{messages[0]['payload']}" in text


async def test_state_stream_publishes_filtered_states_and_attributes(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    yaml = f"""\
mqtt:
  discovery_prefix: {prefix}/ha
  state_stream:
    base_topic: {prefix}/stream
    publish_attributes: true
    include: {{domains: [sensor]}}
    exclude: {{entities: [sensor.hidden]}}
"""
    async with mqtt_runtime(yaml) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client() as device:
            await device.subscribe(f"{prefix}/stream/#", qos=1)
            runtime.states.set("sensor.hidden", "1")
            runtime.states.set("switch.other", "on")
            runtime.states.set("sensor.power", "42", {"unit_of_measurement": "kW"})
            runtime.states.set("sensor.power", "43", {"unit_of_measurement": "kW"})
            got = await _collect(device, 3)
        assert got == [
            (f"{prefix}/stream/sensor/power/state", b"42"),
            (f"{prefix}/stream/sensor/power/unit_of_measurement", b'"kW"'),
            (f"{prefix}/stream/sensor/power/state", b"43"),
        ]


BRIDGE_YAML = """\
mqtt:
  discovery_prefix: {p}/ha
  command_bridge:
    command_topic: {p}/write/command
    result_topic: {p}/write/result
    points:
      ahu1_sat_sp: number.sat_setpoint
  number:
    - name: SAT setpoint
      command_topic: {p}/sat/set
      min: 12
      max: 24
  switch:
    - name: Chiller enable
      command_topic: {p}/chiller/set
"""


async def test_command_bridge_runs_audited_service_calls_and_reports(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(BRIDGE_YAML.format(p=prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        commands = [
            {"id": "c1", "point": "ahu1_sat_sp", "value": 18.5, "priority": 8},
            {"id": "c2", "entity_id": "switch.chiller_enable", "value": "on"},
            {"id": "c3", "entity_id": "number.sat_setpoint", "value": 99},
            {"id": "c4", "entity_id": "sensor.nothing", "value": 1},
            {"id": "c5", "point": "nope", "value": 1},
            {"id": "c6", "entity_id": "switch.chiller_enable", "value": [1]},
        ]
        async with device_client() as device:
            await device.subscribe(f"{prefix}/write/result", qos=1)
            await device.subscribe(f"{prefix}/sat/set", qos=1)
            for command in commands:
                await device.publish(f"{prefix}/write/command", json.dumps(command), qos=1)
            await device.publish(f"{prefix}/write/command", b"{broken", qos=1)
            got = await _collect(device, len(commands) + 2)
        results = [json.loads(payload) for topic, payload in got if topic.endswith("result")]
        writes = [payload for topic, payload in got if topic.endswith("sat/set")]
        assert writes == [b"18.5"]
        by_id = {r.get("id"): r for r in results}
        assert by_id["c1"]["success"] is True
        assert by_id["c1"]["entity_id"] == "number.sat_setpoint"
        assert by_id["c1"]["priority"] == 8
        assert by_id["c2"]["success"] is True
        assert "outside its range 12 to 24" in by_id["c3"]["error"]
        assert "unknown entity sensor.nothing" in by_id["c4"]["error"]
        assert "unknown point 'nope'" in by_id["c5"]["error"]
        assert "a switch takes on/off" in by_id["c6"]["error"]
        assert "not JSON" in by_id[None]["error"]
        assert state_of(runtime, "switch.chiller_enable") == "on"
        from core.audit import AUDIT_LOG

        records = runtime.data[AUDIT_LOG].query("number.sat_setpoint")
        assert [r.params for r in records] == [{"value": 18.5}]
        assert records[0].context_id == by_id["c1"]["context_id"]
