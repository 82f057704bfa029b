"""Templates in MQTT options on the real broker: value, json attributes, command and payload
templates, and a template that raises."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.trigger import TriggerInfo
from integrations.mqtt.setup import get_hub
from integrations.mqtt.trigger import MqttTriggerPlatform
from tests._helpers import wait_for
from tests.integrations.mqtt.conftest import RuntimeFactory
from tests.integrations.mqtt.peers import WAIT, device_client, state_of

pytestmark = pytest.mark.usefixtures("shared_broker")


def templates_yaml(prefix: str) -> str:
    p = prefix
    return f"""\
mqtt:
  discovery_prefix: {p}/ha
  sensor:
    - name: Meter power
      state_topic: {p}/meter
      value_template: "{{{{ value_json.power.active | float * 1000 }}}}"
      unit_of_measurement: W
      json_attributes_topic: {p}/meter
      json_attributes_template: "{{{{ value_json.info | tojson }}}}"
    - name: Fragile
      state_topic: {p}/fragile
      value_template: "{{{{ value_json.a / value_json.b }}}}"
  number:
    - name: Limit
      command_topic: {p}/limit/set
      command_template: '{{{{ {{"limit": value}} | tojson }}}}'
      min: 0
      max: 100
"""


async def test_value_json_attributes_and_command_templates(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    async with mqtt_runtime(templates_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        async with device_client() as device:
            await device.subscribe(f"{prefix}/limit/set", qos=1)
            await device.publish(
                f"{prefix}/meter",
                b'{"power": {"active": 1.25}, "info": {"serial": "M-1", "fw": 3}}',
                qos=1,
            )
            await runtime.services.call(
                "number", "set_value", {"value": 40}, target={"entity_id": "number.limit"}
            )
            message = await asyncio.wait_for(anext(aiter(device.messages)), WAIT)
        assert message.payload == b'{"limit": 40}'
        await wait_for(lambda: state_of(runtime, "sensor.meter_power") == "1250.0", "the power")
        state = runtime.states.get("sensor.meter_power")
        assert state is not None
        assert state.attributes["serial"] == "M-1"
        assert state.attributes["fw"] == 3


async def test_a_raising_value_template_is_logged_and_keeps_the_state(
    mqtt_runtime: RuntimeFactory, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with mqtt_runtime(templates_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        caplog.set_level(logging.WARNING, logger="integrations.mqtt")
        async with device_client() as device:
            await device.publish(f"{prefix}/fragile", b'{"a": 6, "b": 3}', qos=1)
            await wait_for(lambda: state_of(runtime, "sensor.fragile") == "2.0", "a value")
            await device.publish(f"{prefix}/fragile", b'{"a": 6, "b": 0}', qos=1)
            await device.publish(f"{prefix}/fragile", b"not json at all", qos=1)
            await device.publish(f"{prefix}/fragile", b'{"a": 9, "b": 3}', qos=1)
        await wait_for(lambda: state_of(runtime, "sensor.fragile") == "3.0", "the next value")
        assert "sensor.fragile value_template" in caplog.text
        assert "ZeroDivisionError" in caplog.text
        assert "has no attribute 'a'" in caplog.text or "is undefined" in caplog.text


async def test_publish_payload_template(mqtt_runtime: RuntimeFactory, prefix: str) -> None:
    async with mqtt_runtime(templates_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        runtime.states.set("sensor.outdoor", "12.5")
        async with device_client() as device:
            await device.subscribe(f"{prefix}/templated", qos=1)
            await runtime.services.call(
                "mqtt",
                "publish",
                {
                    "topic": f"{prefix}/templated",
                    "payload_template": "{{ states('sensor.outdoor') | float + 1 }}",
                    "qos": 1,
                },
            )
            message = await asyncio.wait_for(anext(aiter(device.messages)), WAIT)
        assert message.payload == b"13.5"


async def test_trigger_value_template_selects_the_payload(
    mqtt_runtime: RuntimeFactory, prefix: str
) -> None:
    platform = MqttTriggerPlatform()
    async with mqtt_runtime(templates_yaml(prefix)) as runtime:
        await asyncio.wait_for(get_hub(runtime).wait_connected(), WAIT)
        fired: list[dict[str, object]] = []
        config = platform.schema(
            {
                "platform": "mqtt",
                "topic": f"{prefix}/door/+",
                "payload": "open",
                "value_template": "{{ value_json.contact }}",
            }
        )
        await platform.attach(
            runtime, config, lambda payload, context: fired.append(payload), TriggerInfo("test")
        )
        async with device_client() as device:
            await device.publish(f"{prefix}/door/1", b'{"contact": "closed"}', qos=1)
            await device.publish(f"{prefix}/door/2", b'{"contact": "open"}', qos=1)
            await device.publish(f"{prefix}/door/3", b"garbage", qos=1)
            await device.publish(f"{prefix}/door/4", b'{"contact": "open"}', qos=1)
        await wait_for(lambda: len(fired) == 2, "two matching messages")
        assert [f["topic"] for f in fired] == [f"{prefix}/door/2", f"{prefix}/door/4"]
        assert fired[0]["payload_json"] == {"contact": "open"}
