"""The command bridge: writes that arrive as JSON on a topic become audited service calls.

From the BacPipes design: a pipeline (or a central dashboard) publishes on the command topic::

    {"id": "c-17", "entity_id": "number.ahu1_supply_air_setpoint", "value": 18.5, "priority": 8}

or names a ``point`` that the configuration maps to an entity. The bridge calls the same service
the panel would (``number.set_value``, ``switch.turn_on``/``turn_off``, ``select.select_option``,
``climate.set_temperature``/``set_hvac_mode``, ``button.press``), so the write is bounded,
paced and recorded in the audit log, and publishes the outcome on the result topic::

    {"id": "c-17", "entity_id": "...", "value": 18.5, "priority": 8, "success": true,
     "error": null, "context_id": "..."}

``priority`` is carried through to the result (a BACnet-backed entity may use it); Edgewise's
entity services do not take a priority of their own.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from core import Context, callback
from core.errors import EdgewiseError
from core.limits import loads_json
from core.state import valid_entity_id

from .topics import ReceivedMessage

if TYPE_CHECKING:
    from .client import MqttHub
    from .schema import BridgeConfig

_LOGGER = logging.getLogger(__name__)

_TRUE = {"on", "true", "1", "yes", "open", "active"}
_FALSE = {"off", "false", "0", "no", "close", "closed", "inactive"}


class CommandError(Exception):
    """A command the bridge cannot carry out as asked."""


def _switch_service(value: object) -> tuple[str, dict[str, Any]]:
    if isinstance(value, bool):
        return ("turn_on" if value else "turn_off"), {}
    if isinstance(value, int | float):
        return ("turn_on" if value else "turn_off"), {}
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return ("turn_on" if value.strip().lower() in _TRUE else "turn_off"), {}
    raise CommandError(f"a switch takes on/off, true/false or 1/0, got {value!r}")


def service_for(entity_id: str, value: object) -> tuple[str, str, dict[str, Any]]:
    """The service call that writes ``value`` to ``entity_id``: (domain, service, data).

    Raises:
        CommandError: the entity's domain cannot be written, or the value does not fit it.
    """
    domain = entity_id.partition(".")[0]
    if domain == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise CommandError(f"a number takes a numeric value, got {value!r}")
        try:
            return domain, "set_value", {"value": float(value)}
        except ValueError:
            raise CommandError(f"a number takes a numeric value, got {value!r}") from None
    if domain in ("switch", "input_boolean", "fan", "light"):
        service, data = _switch_service(value)
        return domain, service, data
    if domain == "select":
        if not isinstance(value, str):
            raise CommandError(f"a select takes one of its options, got {value!r}")
        return domain, "select_option", {"option": value}
    if domain == "climate":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return domain, "set_temperature", {"temperature": float(value)}
        if isinstance(value, str):
            try:
                return domain, "set_temperature", {"temperature": float(value)}
            except ValueError:
                return domain, "set_hvac_mode", {"hvac_mode": value}
        raise CommandError(f"a climate takes a setpoint or an HVAC mode, got {value!r}")
    if domain == "button":
        return domain, "press", {}
    raise CommandError(f"entities of domain {domain!r} cannot be written through the bridge")


class CommandBridge:
    """Subscribes to the command topic and runs each command as a service call."""

    def __init__(self, hub: MqttHub, config: BridgeConfig) -> None:
        self.hub = hub
        self.config = config
        self.handled = 0
        self._unsubscribe: Any = None

    async def start(self) -> None:
        """Subscribe to the command topic."""
        self._unsubscribe = await self.hub.subscribe(
            self.config.command_topic, self._received, self.config.qos
        )

    def stop(self) -> None:
        """Unsubscribe."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @callback
    def _received(self, message: ReceivedMessage) -> None:
        self.hub.runtime.create_task(self.handle(message), name="mqtt.command_bridge")

    async def handle(self, message: ReceivedMessage) -> dict[str, Any]:
        """Carry out one command and publish its result; returns the result."""
        self.handled += 1
        result: dict[str, Any] = {"success": False, "error": None}
        context = Context()
        result["context_id"] = context.id
        try:
            command = self._parse(message, result)
            entity_id = self._entity_id(command, result)
            domain, service, data = service_for(entity_id, command.get("value"))
            await self.hub.runtime.services.call(
                domain, service, data, target={"entity_id": entity_id}, context=context
            )
        except (CommandError, EdgewiseError) as err:
            result["error"] = str(err)
            _LOGGER.warning("Command on %s refused: %s", message.topic, err)
        except Exception as err:  # an isolation boundary: one command; the device's own error
            result["error"] = str(err) or type(err).__name__
            _LOGGER.warning("Command on %s failed: %s", message.topic, result["error"])
        else:
            result["success"] = True
        if self.config.result_topic is not None:
            await self.hub.publish(
                self.config.result_topic,
                json.dumps(result, default=str),
                self.config.qos,
            )
        return result

    def _parse(self, message: ReceivedMessage, result: dict[str, Any]) -> dict[str, Any]:
        try:
            command = loads_json(message.payload, f"command on {message.topic}")
        except ValueError as err:
            raise CommandError(f"the command is not JSON: {err}") from None
        if not isinstance(command, dict):
            raise CommandError(f"the command must be a JSON object, got {type(command).__name__}")
        for key in ("id", "entity_id", "point", "value", "priority"):
            if key in command:
                result[key] = command[key]
        if "value" not in command and not str(command.get("entity_id", "")).startswith("button."):
            raise CommandError("the command has no 'value'")
        return command

    def _entity_id(self, command: dict[str, Any], result: dict[str, Any]) -> str:
        if (point := command.get("point")) is not None:
            entity_id = self.config.points.get(str(point))
            if entity_id is None:
                raise CommandError(f"unknown point {point!r}")
            result["entity_id"] = entity_id
            return entity_id
        entity_id = command.get("entity_id")
        if not isinstance(entity_id, str) or not valid_entity_id(entity_id):
            raise CommandError(f"the command needs an 'entity_id' or a 'point', got {entity_id!r}")
        if self.hub.runtime.states.get(entity_id) is None:
            raise CommandError(f"unknown entity {entity_id}")
        return entity_id
