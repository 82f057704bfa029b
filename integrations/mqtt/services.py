"""The services of the integration: ``mqtt.publish`` and ``mqtt.dump``."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core import ServiceCall, ServiceResponse, SupportsResponse, validators
from core.errors import ServiceValidationError

from .const import (
    CONF_DURATION,
    CONF_PAYLOAD,
    CONF_PAYLOAD_TEMPLATE,
    CONF_QOS,
    CONF_RETAIN,
    CONF_TOPIC,
    DOMAIN,
    SERVICE_DUMP,
    SERVICE_PUBLISH,
)
from .templating import TemplateRenderError, bind, render, template_validator
from .topics import ReceivedMessage, valid_publish_topic, valid_subscribe_topic

if TYPE_CHECKING:
    from .client import MqttHub

_LOGGER = logging.getLogger(__name__)

DUMP_FILE: Final = "mqtt_dump.txt"
#: The most messages ``mqtt.dump`` keeps.
DUMP_MAX_MESSAGES: Final = 10_000

valid_qos = vol.All(vol.Coerce(int), vol.In([0, 1, 2], msg="qos must be 0, 1 or 2"))

PUBLISH_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_TOPIC): valid_publish_topic,
        vol.Exclusive(CONF_PAYLOAD, "payload"): vol.Any(None, str, int, float, bool),
        vol.Exclusive(CONF_PAYLOAD_TEMPLATE, "payload"): template_validator,
        vol.Optional(CONF_QOS, default=0): valid_qos,
        vol.Optional(CONF_RETAIN, default=False): validators.boolean,
    }
)

DUMP_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(CONF_TOPIC, default="#"): valid_subscribe_topic,
        vol.Optional(CONF_DURATION, default=5): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=300)
        ),
    }
)


def register_services(hub: MqttHub) -> None:
    """Register ``mqtt.publish`` and ``mqtt.dump`` for ``hub``."""
    runtime = hub.runtime

    async def publish(call: ServiceCall) -> None:
        payload: Any = call.data.get(CONF_PAYLOAD)
        if (template := call.data.get(CONF_PAYLOAD_TEMPLATE)) is not None:
            bind(template, runtime)
            try:
                payload = render(template, {}, what=f"{DOMAIN}.{SERVICE_PUBLISH} payload_template")
            except TemplateRenderError as err:
                raise ServiceValidationError(
                    str(err), domain=DOMAIN, service=SERVICE_PUBLISH, key=CONF_PAYLOAD_TEMPLATE
                ) from err
        if isinstance(payload, bool):
            payload = str(payload).lower()
        await hub.publish(
            call.data[CONF_TOPIC], payload, call.data[CONF_QOS], call.data[CONF_RETAIN]
        )

    async def dump(call: ServiceCall) -> ServiceResponse | None:
        topic: str = call.data[CONF_TOPIC]
        messages: list[dict[str, Any]] = []

        def collect(message: ReceivedMessage) -> None:
            if len(messages) < DUMP_MAX_MESSAGES:
                messages.append(
                    {
                        "topic": message.topic,
                        "payload": message.payload.decode("utf-8", errors="replace"),
                        "qos": message.qos,
                        "retain": message.retain,
                    }
                )

        unsubscribe = await hub.subscribe(topic, collect)
        try:
            await asyncio.sleep(call.data[CONF_DURATION])
        finally:
            unsubscribe()
        lines = "".join(f"{m['topic']},{m['payload']}\n" for m in messages)
        path = runtime.config_dir / DUMP_FILE
        await runtime.run_in_executor(path.write_text, lines, "utf-8")
        _LOGGER.info("mqtt.dump: %d message(s) on %s written to %s", len(messages), topic, path)
        if call.return_response:
            return {"messages": messages, "file": str(path)}
        return None

    runtime.services.register(DOMAIN, SERVICE_PUBLISH, publish, PUBLISH_SCHEMA)
    runtime.services.register(
        DOMAIN, SERVICE_DUMP, dump, DUMP_SCHEMA, supports_response=SupportsResponse.OPTIONAL
    )
