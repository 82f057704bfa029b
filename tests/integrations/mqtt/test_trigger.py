"""The ``mqtt`` trigger platform, attached directly (as the automation engine attaches it)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import voluptuous as vol

from core import Context, IntegrationError
from core.trigger import TriggerInfo
from integrations.mqtt.setup import get_hub
from integrations.mqtt.trigger import TRIGGER_PLATFORMS, MqttTriggerPlatform
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client

INFO = TriggerInfo("test")

pytestmark = pytest.mark.usefixtures("shared_broker")


def test_schema_checks_topic_and_passes_engine_keys_through() -> None:
    platform = TRIGGER_PLATFORMS["mqtt"]
    config = platform.schema({"platform": "mqtt", "id": "t1", "topic": "a/+/b", "qos": "1"})
    assert config == {
        "platform": "mqtt",
        "id": "t1",
        "topic": "a/+/b",
        "qos": 1,
        "encoding": "utf-8",
    }
    with pytest.raises(vol.Invalid, match="'#' must be the whole last level"):
        platform.schema({"platform": "mqtt", "topic": "a/#/b"})
    with pytest.raises(vol.Invalid, match="extra keys not allowed"):
        platform.schema({"platform": "mqtt", "topic": "a", "paylod": "on"})


async def test_fires_on_wildcard_topics_and_payload_filter(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    platform = MqttTriggerPlatform()
    async with mqtt_runtime(f"mqtt:\n  discovery_prefix: {prefix}/ha\n") as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        fired: list[dict[str, Any]] = []
        filtered: list[dict[str, Any]] = []

        def on_fire(sink: list[dict[str, Any]]) -> Any:
            def fire(payload: dict[str, Any], context: Context | None) -> None:
                sink.append(payload)

            return fire

        detach = await platform.attach(
            runtime, platform.schema({"topic": f"{prefix}/+/alarm"}), on_fire(fired), INFO
        )
        await platform.attach(
            runtime,
            platform.schema({"topic": f"{prefix}/#", "payload": "on", "qos": 1}),
            on_fire(filtered),
            INFO,
        )
        async with device_client() as device:
            await device.publish(f"{prefix}/ahu1/alarm", b'{"level": 3}', qos=1)
            await device.publish(f"{prefix}/ahu2/alarm", b"on", qos=1)
            await device.publish(f"{prefix}/ahu2/other", b"off", qos=1)
        await wait_for(lambda: len(fired) == 2 and len(filtered) == 1, "the triggers")
        assert fired[0] == {
            "topic": f"{prefix}/ahu1/alarm",
            "payload": '{"level": 3}',
            "payload_json": {"level": 3},
            "qos": 0,
            "description": f"mqtt topic {prefix}/ahu1/alarm",
        }
        assert filtered[0]["topic"] == f"{prefix}/ahu2/alarm"
        # Overlapping subscriptions: the broker delivers once, at a QoS of its choosing.
        assert filtered[0]["qos"] in (0, 1)
        detach()
        async with device_client() as device:
            await device.publish(f"{prefix}/ahu3/alarm", b"on", qos=1)
        await wait_for(lambda: len(filtered) == 2, "the filtered trigger")
        assert len(fired) == 2, "a detached trigger fires no more"


async def test_attach_without_mqtt_set_up_is_an_integration_error(
    mqtt_runtime: RuntimeFactory,
) -> None:
    platform = MqttTriggerPlatform()
    async with mqtt_runtime("") as runtime:
        with pytest.raises(IntegrationError, match="needs the mqtt integration"):
            await platform.attach(runtime, platform.schema({"topic": "x"}), lambda p, c: None, INFO)


async def test_an_automation_with_an_mqtt_trigger_runs_its_actions(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    """Registered through edgewise_trigger_platforms: the engine attaches it like its own."""
    yaml = f"""\
mqtt:
  discovery_prefix: {prefix}/ha
automation:
  - id: alarm
    alias: Alarm seen
    triggers:
      - trigger: mqtt
        topic: {prefix}/alarm/+
        payload: "on"
        value_template: "{{{{ value_json.state }}}}"
    actions:
      - event: mqtt_alarm_seen
        event_data:
          topic: "{{{{ trigger.topic }}}}"
          level: "{{{{ trigger.payload_json.level }}}}"
          platform: "{{{{ trigger.platform }}}}"
"""
    async with mqtt_runtime(yaml) as runtime:
        seen: list[dict[str, Any]] = []
        runtime.bus.listen("mqtt_alarm_seen", lambda event: seen.append(dict(event.data)))
        await wait_for(lambda: runtime.states.get("automation.alarm_seen"), "the automation")
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client() as device:
            await device.publish(f"{prefix}/alarm/ahu1", b'{"state": "off", "level": 1}', qos=1)
            await device.publish(f"{prefix}/alarm/ahu2", b'{"state": "on", "level": 3}', qos=1)
        await wait_for(lambda: seen, "the automation's event")
        assert seen == [{"topic": f"{prefix}/alarm/ahu2", "level": 3, "platform": "mqtt"}]
