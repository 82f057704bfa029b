"""MQTT entities: device data arriving on topics becomes entity states; commands go out.

One class per domain, each on top of ``MqttEntity``, which handles what every MQTT entity has:
subscriptions, availability (topics, ``availability_mode``, and the broker connection itself),
JSON attributes, ``expire_after``, and bad payloads. A payload that does not fit (not a number,
not one of the options, a template that raises, longer than a state may be) is logged with the
entity, the topic and the payload, and the state stays as it was.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from core import (
    BinarySensorEntity,
    ButtonEntity,
    ClimateEntity,
    Entity,
    HVACAction,
    HVACMode,
    NumberEntity,
    SelectEntity,
    SensorEntity,
    SwitchEntity,
    callback,
)
from core.const import MAX_STATE_LENGTH, STATE_UNAVAILABLE, STATE_UNKNOWN
from core.entity import CONTEXT_RECENT_TIME, format_state_value
from core.limits import loads_json
from core.slug import slugify

from .const import DOMAIN
from .templating import TemplateRenderError, bind, payload_variables, render
from .topics import ReceivedMessage

if TYPE_CHECKING:
    from .client import MqttHub, Payload
    from .platform_schema import EntityConfig

_LOGGER = logging.getLogger(__name__)

#: The payload that means "unknown" in Home Assistant's MQTT entities.
PAYLOAD_NONE: Final = "None"
#: How much of a bad payload a log line quotes.
LOG_PAYLOAD_CHARS: Final = 80


def _quote(payload: str | bytes) -> str:
    text = repr(payload[:LOG_PAYLOAD_CHARS])
    return text + ("…" if len(payload) > LOG_PAYLOAD_CHARS else "")


class MqttEntity(Entity):
    """What every MQTT entity shares. Subclasses handle their own topics in ``_subscribe``."""

    #: Whether the domain's attributes depend on the configuration only, never on the value:
    #: then a write reuses the attributes of the previous one while nothing they come from
    #: (availability, JSON attributes, registry entries) has changed. See ``write_state``.
    _config_only_attributes: bool = True

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__()
        self.hub = hub
        self.config = config
        self._encoding = config.encoding or "utf-8"
        self._attributes_source: tuple[Any, ...] | None = None
        self._attributes: dict[str, Any] = {}
        self._attr_unique_id = config.unique_id
        self._attr_name = config.name
        self._attr_icon = config.icon
        self._attr_device_class = config.device_class
        self._attr_entity_category = config.entity_category
        self._attr_device_info = config.device
        self._attr_has_entity_name = config.device is not None
        if config.object_id:
            self.entity_id = f"{config.domain}.{config.object_id}"
        self._availability: dict[str, bool] = {}
        self._availability_latest: bool | None = None
        self._json_attributes: dict[str, Any] | None = None
        self._expired = False
        self._expire_handle: asyncio.TimerHandle | None = None
        for template in (
            config.value_template,
            config.command_template,
            config.json_attributes_template,
            *(a.value_template for a in config.availability),
        ):
            bind(template, hub.runtime)

    # --- description ---------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Available when the broker is connected, the availability topics say so, not expired."""
        if not self.hub.connected or self._expired:
            return False
        if not self.config.availability:
            return True
        mode = self.config.availability_mode
        if mode == "latest":
            return self._availability_latest is True
        states = [self._availability.get(a.topic, False) for a in self.config.availability]
        return all(states) if mode == "all" else any(states)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """The attributes from ``json_attributes_topic``."""
        return self._json_attributes

    @callback
    def write_state(self) -> None:
        """Write the state; the attributes are built again only when something they depend on
        changed since the last write.

        A device sending values fast (thousands a second across a site) changes the value and
        nothing else: the availability, the JSON attributes, the entity's registry entry and its
        device's (both replaced, never changed in place, when a user edits them) are compared
        by identity, and while they are the same the last attributes are written again. Domains
        whose attributes follow the value (climate) set ``_config_only_attributes`` to False.
        """
        runtime = self._runtime
        if not self._config_only_attributes or runtime is None:
            super().write_state()
            return
        available = self.available and not self._update_failed
        device_id = self.device_id
        device = runtime.device_registry.get(device_id) if device_id is not None else None
        json_attributes = self._json_attributes
        entry = self.registry_entry
        source = self._attributes_source
        if (
            source is None
            or source[0] is not available
            or source[1] is not json_attributes
            or source[2] is not entry
            or source[3] is not device
        ):
            self._attributes = self.all_attributes()
            self._attributes_source = (available, json_attributes, entry, device)
        context = self._context
        if context is not None and time.monotonic() - self._context_set_at > CONTEXT_RECENT_TIME:
            context = None
        self._context = None
        if available:
            rendered = format_state_value(self.state)
            state = STATE_UNKNOWN if rendered is None else rendered
        else:
            state = STATE_UNAVAILABLE
        runtime.states.set(self.entity_id, state, self._attributes, context=context)

    # --- lifecycle -----------------------------------------------------------------------------

    async def added_to_runtime(self) -> None:
        """Subscribe to every topic; returns once the broker has them (when connected)."""
        self.on_remove(self.hub.add_connection_listener(self._connection_changed))
        config = self.config
        for availability in config.availability:
            await self._listen(availability.topic, self._on_availability)
        if config.json_attributes_topic is not None:
            await self._listen(config.json_attributes_topic, self._on_json_attributes)
        await self._subscribe()

    async def will_remove(self) -> None:
        """Cancel the expiry timer."""
        if self._expire_handle is not None:
            self._expire_handle.cancel()

    async def _subscribe(self) -> None:
        """Subscribe to the domain's own topics."""

    async def _listen(self, topic: str, handler: Callable[[ReceivedMessage], None]) -> None:
        self.on_remove(await self.hub.subscribe(topic, handler, self.config.qos))

    @callback
    def _connection_changed(self, connected: bool) -> None:
        if self.added:
            self.write_state()

    # --- receiving -----------------------------------------------------------------------------

    def _decode(self, message: ReceivedMessage) -> str | None:
        """The payload as text in the entity's encoding; None (logged) when it is not."""
        encoding = self._encoding
        try:
            return message.payload.decode(encoding)
        except (UnicodeDecodeError, LookupError) as err:
            _LOGGER.warning(
                "%s: payload on %s is not %s text (%s): %s",
                self.entity_id,
                message.topic,
                encoding,
                err,
                _quote(message.payload),
            )
            return None

    def _rendered(self, template: Any, payload: str, what: str) -> str | None:
        """``payload`` through ``template`` (when set); None (logged) when the template raises."""
        if template is None:
            return payload
        try:
            result = render(template, payload_variables(payload), what=f"{self.entity_id} {what}")
        except TemplateRenderError as err:
            _LOGGER.warning("%s; payload %s kept the previous state", err, _quote(payload))
            return None
        return "" if result is None else str(result)

    @callback
    def _on_availability(self, message: ReceivedMessage) -> None:
        for availability in self.config.availability:
            if availability.topic != message.subscribed_topic:
                continue
            payload = self._decode(message)
            if payload is None:
                return
            payload = self._rendered(availability.value_template, payload, "availability template")
            if payload is None:
                return
            if payload == availability.payload_available:
                state = True
            elif payload == availability.payload_not_available:
                state = False
            else:
                _LOGGER.debug("%s: ignoring availability payload %s", self.entity_id, payload)
                return
            self._availability[availability.topic] = state
            self._availability_latest = state
        self.write_state()

    @callback
    def _on_json_attributes(self, message: ReceivedMessage) -> None:
        payload = self._decode(message)
        if payload is None:
            return
        payload = self._rendered(
            self.config.json_attributes_template, payload, "json_attributes_template"
        )
        if payload is None:
            return
        try:
            attributes = loads_json(payload, f"JSON attributes on {message.topic}")
        except ValueError as err:
            _LOGGER.warning(
                "%s: JSON attributes on %s are not JSON (%s): %s",
                self.entity_id,
                message.topic,
                err,
                _quote(payload),
            )
            return
        if not isinstance(attributes, dict):
            _LOGGER.warning(
                "%s: JSON attributes on %s must be a JSON object, got %s",
                self.entity_id,
                message.topic,
                type(attributes).__name__,
            )
            return
        self._json_attributes = attributes
        self.write_state()

    def _state_payload(self, message: ReceivedMessage, template: Any = None) -> str | None:
        """The decoded, templated payload of a state message; None when it must be ignored.

        The hot path of every MQTT entity: without a template, a decode and a length check.
        """
        try:
            payload = message.payload.decode(self._encoding)
        except (UnicodeDecodeError, LookupError):
            decoded = self._decode(message)  # logs why
            if decoded is None:
                return None
            payload = decoded
        if template is None:
            template = self.config.value_template
        value = payload if template is None else self._rendered(template, payload, "value_template")
        if value is not None and len(value) > MAX_STATE_LENGTH:
            _LOGGER.warning(
                "%s: a state of %d characters on %s is longer than %d; ignored: %s",
                self.entity_id,
                len(value),
                message.topic,
                MAX_STATE_LENGTH,
                _quote(value),
            )
            return None
        return value

    def _reject(self, message: ReceivedMessage, value: str, why: str) -> None:
        _LOGGER.warning(
            "%s: payload %s on %s ignored: %s", self.entity_id, _quote(value), message.topic, why
        )

    def _refresh_expiry(self) -> None:
        """Restart the ``expire_after`` clock after a value arrived."""
        after = self.config.expire_after
        if not after:
            return
        self._expired = False
        if self._expire_handle is not None:
            self._expire_handle.cancel()
        self._expire_handle = self.hub.runtime.loop.call_later(after, self._expire)

    @callback
    def _expire(self) -> None:
        self._expire_handle = None
        self._expired = True
        if self.added:
            _LOGGER.debug("%s expired: no value for %s s", self.entity_id, self.config.expire_after)
            self.write_state()

    # --- commands ------------------------------------------------------------------------------

    @property
    def optimistic(self) -> bool:
        """Whether a command sets the state at once (no state topic to confirm it)."""
        if self.config.optimistic is not None:
            return self.config.optimistic
        return self.config.state_topic is None

    async def _command(self, value: Any, *, topic: str | None = None, template: Any = None) -> None:
        """Publish ``value`` (through the command template) to the command topic.

        Raises:
            TemplateRenderError: the command template raised.
        """
        topic = topic if topic is not None else self.config.command_topic
        template = template if template is not None else self.config.command_template
        if topic is None:
            raise NotImplementedError(f"{self.entity_id} has no command topic")
        payload: Payload = value
        if template is not None:
            bind(template, self.hub.runtime)
            payload = render(
                template,
                {"value": value, "entity_id": self.entity_id, "name": self.name},
                what=f"{self.entity_id} command_template",
            )
        await self.hub.publish(topic, payload, self.config.qos, self.config.retain)


def _number(text: str) -> int | float:
    """A payload as an int when it is one, else a float. Raises ValueError."""
    try:
        return int(text)
    except ValueError:
        return float(text)


class MqttSensor(MqttEntity, SensorEntity):
    """A sensor fed by ``state_topic``; numeric when it has a unit, a state class or a number
    device class."""

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._attr_native_unit_of_measurement = config.unit_of_measurement
        self._attr_state_class = config.state_class
        self._attr_suggested_display_precision = config.suggested_display_precision
        self._attr_options = config.options
        self._numeric = (
            config.unit_of_measurement is not None
            or config.state_class is not None
            or config.suggested_display_precision is not None
        )

    async def _subscribe(self) -> None:
        assert self.config.state_topic is not None  # noqa: S101 - required by the schema
        await self._listen(self.config.state_topic, self._on_state)

    @callback
    def _on_state(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message)
        if value is None:
            return
        native: Any
        if value in (PAYLOAD_NONE, ""):
            native = None
        elif self._numeric:
            try:
                native = _number(value)
            except ValueError:
                self._reject(message, value, "not a number, and the sensor is numeric")
                return
        elif self.config.options is not None and value not in self.config.options:
            self._reject(message, value, f"not one of {list(self.config.options)}")
            return
        else:
            native = value
        self._attr_native_value = native
        self._refresh_expiry()
        self.write_state()


class MqttBinarySensor(MqttEntity, BinarySensorEntity):
    """A binary sensor: ``payload_on`` / ``payload_off`` on ``state_topic``."""

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._off_handle: asyncio.TimerHandle | None = None

    async def _subscribe(self) -> None:
        assert self.config.state_topic is not None  # noqa: S101 - required by the schema
        await self._listen(self.config.state_topic, self._on_state)

    async def will_remove(self) -> None:
        """Cancel the timers."""
        await super().will_remove()
        if self._off_handle is not None:
            self._off_handle.cancel()

    @callback
    def _on_state(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message)
        if value is None:
            return
        if value == self.config.payload_on:
            self._attr_is_on = True
        elif value == self.config.payload_off:
            self._attr_is_on = False
        elif value in (PAYLOAD_NONE, ""):
            self._attr_is_on = None
        else:
            self._reject(
                message,
                value,
                f"neither payload_on {self.config.payload_on!r} nor payload_off "
                f"{self.config.payload_off!r}",
            )
            return
        if self._off_handle is not None:
            self._off_handle.cancel()
            self._off_handle = None
        if self._attr_is_on and self.config.off_delay:
            self._off_handle = self.hub.runtime.loop.call_later(self.config.off_delay, self._off)
        self._refresh_expiry()
        self.write_state()

    @callback
    def _off(self) -> None:
        self._off_handle = None
        self._attr_is_on = False
        if self.added:
            self.write_state()


class MqttSwitch(MqttEntity, SwitchEntity):
    """A switch: ``payload_on``/``payload_off`` out, ``state_on``/``state_off`` in."""

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._attr_assumed_state = self.optimistic
        self._state_on = config.state_on if config.state_on is not None else config.payload_on
        self._state_off = config.state_off if config.state_off is not None else config.payload_off

    async def _subscribe(self) -> None:
        if self.config.state_topic is not None:
            await self._listen(self.config.state_topic, self._on_state)

    @callback
    def _on_state(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message)
        if value is None:
            return
        if value == self._state_on:
            self._attr_is_on = True
        elif value == self._state_off:
            self._attr_is_on = False
        elif value in (PAYLOAD_NONE, ""):
            self._attr_is_on = None
        else:
            self._reject(message, value, f"neither {self._state_on!r} nor {self._state_off!r}")
            return
        self.write_state()

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Publish ``payload_on``."""
        await self._command(self.config.payload_on)
        if self.optimistic:
            self._attr_is_on = True
            self.write_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Publish ``payload_off``."""
        await self._command(self.config.payload_off)
        if self.optimistic:
            self._attr_is_on = False
            self.write_state()


class MqttNumber(MqttEntity, NumberEntity):
    """A number within ``min``..``max``; values outside are refused before they are sent."""

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._attr_native_min_value = config.min
        self._attr_native_max_value = config.max
        self._attr_native_step = config.step
        self._attr_mode = config.mode
        self._attr_native_unit_of_measurement = config.unit_of_measurement
        self._attr_assumed_state = self.optimistic

    async def _subscribe(self) -> None:
        if self.config.state_topic is not None:
            await self._listen(self.config.state_topic, self._on_state)

    @callback
    def _on_state(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message)
        if value is None:
            return
        if value == self.config.payload_reset:
            self._attr_native_value = None
            self.write_state()
            return
        try:
            number = float(_number(value))
        except ValueError:
            self._reject(message, value, "not a number")
            return
        if not self.config.min <= number <= self.config.max:
            self._reject(message, value, f"outside {self.config.min:g} to {self.config.max:g}")
            return
        self._attr_native_value = number
        self.write_state()

    async def async_set_native_value(self, value: float) -> None:
        """Publish ``value``: ``12`` rather than ``12.0`` when it is whole, as HA does."""
        payload: int | float = int(value) if value.is_integer() else value
        await self._command(payload)
        if self.optimistic:
            self._attr_native_value = value
            self.write_state()


class MqttSelect(MqttEntity, SelectEntity):
    """A select among ``options``."""

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._attr_options = config.options or ()
        self._attr_assumed_state = self.optimistic

    async def _subscribe(self) -> None:
        if self.config.state_topic is not None:
            await self._listen(self.config.state_topic, self._on_state)

    @callback
    def _on_state(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message)
        if value is None:
            return
        if value in (PAYLOAD_NONE, ""):
            self._attr_current_option = None
        elif value not in self.options:
            self._reject(message, value, f"not one of {list(self.options)}")
            return
        else:
            self._attr_current_option = value
        self.write_state()

    async def async_select_option(self, option: str) -> None:
        """Publish ``option``."""
        await self._command(option)
        if self.optimistic:
            self._attr_current_option = option
            self.write_state()


class MqttButton(MqttEntity, ButtonEntity):
    """A button that publishes ``payload_press``."""

    async def async_press(self) -> None:
        """Publish ``payload_press``."""
        await self._command(self.config.payload_press)


class MqttClimate(MqttEntity, ClimateEntity):
    """A thermostat: mode, target temperature, current temperature and action on their topics."""

    # The temperatures and the action are attributes: they change with the values.
    _config_only_attributes = False

    def __init__(self, hub: MqttHub, config: EntityConfig) -> None:
        super().__init__(hub, config)
        self._attr_hvac_modes = config.modes
        self._attr_min_temp = config.min_temp
        self._attr_max_temp = config.max_temp
        self._attr_target_temp_step = config.temp_step
        self._attr_temperature_unit = config.temperature_unit
        for template in (
            config.mode_state_template,
            config.mode_command_template,
            config.temperature_state_template,
            config.temperature_command_template,
            config.current_temperature_template,
            config.action_template,
        ):
            bind(template, hub.runtime)
        if config.mode_state_topic is None and HVACMode.OFF in config.modes:
            self._attr_hvac_mode = HVACMode.OFF

    def _optimistic_for(self, state_topic: str | None) -> bool:
        if self.config.optimistic is not None:
            return self.config.optimistic
        return state_topic is None

    async def _subscribe(self) -> None:
        config = self.config
        if config.mode_state_topic is not None:
            await self._listen(config.mode_state_topic, self._on_mode)
        if config.temperature_state_topic is not None:
            await self._listen(config.temperature_state_topic, self._on_target)
        if config.current_temperature_topic is not None:
            await self._listen(config.current_temperature_topic, self._on_current)
        if config.action_topic is not None:
            await self._listen(config.action_topic, self._on_action)

    def _temperature(self, message: ReceivedMessage, template: Any) -> float | None:
        value = self._state_payload(message, template)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            self._reject(message, value, "not a temperature")
            return None

    @callback
    def _on_mode(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message, self.config.mode_state_template)
        if value is None:
            return
        try:
            mode = HVACMode(value)
        except ValueError:
            self._reject(message, value, "not an HVAC mode")
            return
        if mode not in self.hvac_modes:
            self._reject(
                message, value, f"not one of the modes {[m.value for m in self.hvac_modes]}"
            )
            return
        self._attr_hvac_mode = mode
        self.write_state()

    @callback
    def _on_target(self, message: ReceivedMessage) -> None:
        value = self._temperature(message, self.config.temperature_state_template)
        if value is not None:
            self._attr_target_temperature = value
            self.write_state()

    @callback
    def _on_current(self, message: ReceivedMessage) -> None:
        value = self._temperature(message, self.config.current_temperature_template)
        if value is not None:
            self._attr_current_temperature = value
            self.write_state()

    @callback
    def _on_action(self, message: ReceivedMessage) -> None:
        value = self._state_payload(message, self.config.action_template)
        if value is None:
            return
        if value in (PAYLOAD_NONE, ""):
            self._attr_hvac_action = None
        else:
            try:
                self._attr_hvac_action = HVACAction(value)
            except ValueError:
                self._reject(message, value, "not an HVAC action")
                return
        self.write_state()

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Publish the mode to ``mode_command_topic``."""
        await self._command(
            hvac_mode.value,
            topic=self.config.mode_command_topic,
            template=self.config.mode_command_template,
        )
        if self._optimistic_for(self.config.mode_state_topic):
            self._attr_hvac_mode = hvac_mode
            self.write_state()

    async def async_set_temperature(self, temperature: float) -> None:
        """Publish the setpoint to ``temperature_command_topic``."""
        await self._command(
            temperature,
            topic=self.config.temperature_command_topic,
            template=self.config.temperature_command_template,
        )
        if self._optimistic_for(self.config.temperature_state_topic):
            self._attr_target_temperature = temperature
            self.write_state()


#: The entity class of each domain.
ENTITY_CLASSES: Final[dict[str, Callable[[MqttHub, EntityConfig], MqttEntity]]] = {
    "sensor": MqttSensor,
    "binary_sensor": MqttBinarySensor,
    "switch": MqttSwitch,
    "number": MqttNumber,
    "select": MqttSelect,
    "button": MqttButton,
    "climate": MqttClimate,
}


def create_entity(hub: MqttHub, config: EntityConfig) -> MqttEntity:
    """The entity for ``config``."""
    return ENTITY_CLASSES[config.domain](hub, config)


def disabled_by_default(hub: MqttHub, entity: MqttEntity) -> bool:
    """Register an ``enabled_by_default: false`` entity as disabled the first time it is seen.

    Only the first time: a user who enabled it in the registry keeps it enabled. Returns
    whether the entity is disabled now (the entity platform then leaves it out).
    """
    config = entity.config
    if config.enabled_by_default or config.unique_id is None:
        return False
    if entity.has_entity_id:
        object_id = entity.entity_id.partition(".")[2]
    else:
        object_id = slugify(entity.friendly_name() or DOMAIN)
    entry = hub.runtime.entity_registry.get_or_create(
        config.domain,
        DOMAIN,
        config.unique_id,
        suggested_object_id=object_id,
        disabled_by="integration",
    )
    return entry.disabled
