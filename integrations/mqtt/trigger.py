"""The ``mqtt`` trigger: an automation fires when a message arrives on a topic.

Example::

    triggers:
      - trigger: mqtt           # or platform: mqtt
        topic: site1/ahu/+/alarm
        payload: "on"           # optional: fire only for this payload...
        value_template: "{{ value_json.state }}"   # ...as this template renders it
        qos: 1
        encoding: utf-8         # "" hands the payload over as bytes

The trigger data is ``topic``, ``payload`` (text, or bytes with ``encoding: ""``),
``payload_json`` (when the payload is JSON), ``qos`` and ``description``, as in Home Assistant.
It implements the ``TriggerPlatform`` contract of ``core/trigger.py``: ``schema`` and ``attach``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core import IntegrationError, validators
from core.limits import loads_json
from core.trigger import ENGINE_TRIGGER_KEYS, TriggerFire, TriggerInfo, TriggerPlatform

from .const import DEFAULT_ENCODING, DOMAIN
from .platform_schema import valid_qos
from .templating import TemplateRenderError, bind, payload_variables, render, template_validator
from .topics import ReceivedMessage, valid_subscribe_topic

if TYPE_CHECKING:
    from core import Runtime

_LOGGER = logging.getLogger(__name__)

_ENGINE_SCHEMA: Final[dict[Any, Any]] = {
    vol.Optional(key): object for key in sorted(ENGINE_TRIGGER_KEYS)
}

TRIGGER_SCHEMA: Final = vol.Schema(
    {
        **_ENGINE_SCHEMA,
        vol.Required("topic"): valid_subscribe_topic,
        vol.Optional("payload"): validators.string,
        vol.Optional("value_template"): template_validator,
        vol.Optional("qos", default=0): valid_qos,
        vol.Optional("encoding", default=DEFAULT_ENCODING): vol.Any("", validators.string),
    }
)


class MqttTriggerPlatform:
    """The ``mqtt`` trigger platform."""

    schema = TRIGGER_SCHEMA

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Callable[[], None]:
        """Subscribe to ``config['topic']``; returns once the broker has the subscription
        (when connected). Returns the detach function.

        Raises:
            IntegrationError: MQTT is not set up.
        """
        from .setup import MQTT_DATA  # noqa: PLC0415 - setup imports aiomqtt

        data = runtime.data.get(MQTT_DATA)
        if data is None:
            raise IntegrationError(
                "the mqtt trigger needs the mqtt integration to be set up", integration=DOMAIN
            )
        topic: str = config["topic"]
        wanted: str | None = config.get("payload")
        encoding: str = config.get("encoding", DEFAULT_ENCODING)
        template = bind(config.get("value_template"), runtime)
        qos: int = config.get("qos", 0)

        def received(message: ReceivedMessage) -> None:
            payload: str | bytes = message.payload
            if encoding:
                try:
                    payload = message.payload.decode(encoding)
                except (UnicodeDecodeError, LookupError) as err:
                    _LOGGER.warning(
                        "mqtt trigger on %s: payload is not %s: %s", topic, encoding, err
                    )
                    return
            if wanted is not None:
                value = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
                if template is not None:
                    try:
                        rendered = render(
                            template,
                            payload_variables(value),
                            what=f"mqtt trigger on {topic} value_template",
                        )
                    except TemplateRenderError as err:
                        _LOGGER.warning("%s", err)
                        return
                    value = "" if rendered is None else str(rendered)
                if value != wanted:
                    return
            trigger_data: dict[str, Any] = {
                "topic": message.topic,
                "payload": payload,
                "qos": message.qos,
                "description": f"mqtt topic {message.topic}",
            }
            if isinstance(payload, str):
                with contextlib.suppress(ValueError):
                    trigger_data["payload_json"] = loads_json(payload, message.topic)
            fire(trigger_data, None)

        return await data.hub.subscribe(topic, received, qos)


#: The platforms this integration gives the automation engine, by name.
TRIGGER_PLATFORMS: Final[dict[str, TriggerPlatform]] = {DOMAIN: MqttTriggerPlatform()}
