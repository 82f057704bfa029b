"""MQTT payloads parsed as JSON are held to core.limits before they reach the bus (issue 25)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core import Context
from core.limits import MAX_DEPTH, InputLimitError, loads_json
from core.trigger import TriggerInfo
from integrations.mqtt.setup import get_hub
from integrations.mqtt.trigger import MqttTriggerPlatform
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def test_loads_json_refuses_deep_long_and_recursion_breaking_payloads() -> None:
    with pytest.raises(InputLimitError, match=f"nested deeper than {MAX_DEPTH}"):
        loads_json(deep_json(MAX_DEPTH + 1), "payload")
    with pytest.raises(InputLimitError, match="nested deeper"):
        loads_json(deep_json(100_000), "payload")
    with pytest.raises(InputLimitError, match="longer than 10 bytes"):
        loads_json(b'{"a": "0123456789"}', "payload", max_bytes=10)
    assert loads_json(b'{"t": NaN}', "payload")["t"] != 0  # what devices send still parses


@pytest.mark.usefixtures("shared_broker")
async def test_a_trigger_on_a_payload_nested_too_deeply_fires_without_payload_json(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    platform = MqttTriggerPlatform()
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        fired: list[dict[str, Any]] = []

        def fire(payload: dict[str, Any], context: Context | None) -> None:
            fired.append(payload)

        await platform.attach(
            runtime, platform.schema({"topic": f"{prefix}/+/alarm"}), fire, TriggerInfo("test")
        )
        async with device_client() as device:
            # Past the interpreter's recursion limit, then past core.limits, then fine.
            await device.publish(f"{prefix}/a/alarm", deep_json(50_000), qos=1)
            await device.publish(f"{prefix}/b/alarm", deep_json(300), qos=1)
            await device.publish(f"{prefix}/c/alarm", b'{"level": 3}', qos=1)
        await wait_for(lambda: len(fired) == 3, "the three triggers")
        by_topic = {payload["topic"]: payload for payload in fired}
        assert "payload_json" not in by_topic[f"{prefix}/a/alarm"]
        assert "payload_json" not in by_topic[f"{prefix}/b/alarm"]
        assert by_topic[f"{prefix}/c/alarm"]["payload_json"] == {"level": 3}
