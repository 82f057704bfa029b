"""The Entity base class: one thing a user sees, turned into a state in the state machine.

An entity describes itself with ``_attr_*`` attributes (or properties that override them); the
entity platform (``core/entity_platform.py``) gives it an ``entity_id`` and a runtime, and from
then on ``write_state()`` turns what it describes into a State. Domain classes (sensor, switch,
number, ...) live in ``core/entities/``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .bus import callback
from .const import (
    ATTR_ASSUMED_STATE,
    ATTR_DEVICE_CLASS,
    ATTR_FRIENDLY_NAME,
    ATTR_ICON,
    ATTR_SUPPORTED_FEATURES,
    ATTR_UNIT_OF_MEASUREMENT,
    MAX_STATE_LENGTH,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from .context import Context
from .errors import DeviceError
from .limits import safe_repr

if TYPE_CHECKING:
    from .entity_platform import EntityPlatform
    from .entity_registry import RegistryEntry
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: What an entity's ``state`` property may return before it is turned into a string.
StateType = str | int | float | Decimal | date | datetime | None

#: How long a context set by a service call stays the reason of the entity's next state write.
#: A device that reports its new state through the next poll, not at once, still gets its state
#: attributed to the call, but a poll minutes later does not.
CONTEXT_RECENT_TIME = 5.0

#: Significant digits kept when a float is rendered without a display precision: enough for any
#: real measurement, few enough to drop binary noise such as ``0.30000000000000004``.
_FLOAT_DIGITS = 15


class EntityCategory(StrEnum):
    """Entities that are not the device's main function: its settings or its diagnostics."""

    CONFIG = "config"
    DIAGNOSTIC = "diagnostic"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What an entity knows about the device it belongs to, for the device registry."""

    identifiers: frozenset[tuple[str, str]] = frozenset()
    connections: frozenset[tuple[str, str]] = frozenset()
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    serial_number: str | None = None
    via_device: tuple[str, str] | None = None
    suggested_area: str | None = None
    configuration_url: str | None = None


def format_state_value(value: StateType, precision: int | None = None) -> str | None:
    """Render a native value as a state string; None stays None (the entity shows unknown).

    Floats are rounded to ``precision`` decimals when given, else rendered without binary noise;
    NaN and infinities are not values and give None.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        # bool is an int; a sensor that reports True means on, not 1.
        return "on" if value else "off"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if precision is not None:
        rounded = round(float(value), precision)
        return str(int(rounded)) if precision <= 0 else str(rounded)
    if isinstance(value, float):
        return repr(float(format(value, f".{_FLOAT_DIGITS}g")))
    return str(value)


class Entity:
    """The base of every entity: identity, description, state, and lifecycle.

    Subclasses set ``_attr_*`` class or instance attributes, or override the properties. All
    methods run on the event loop.
    """

    #: The domain of the entity (``sensor``, ``switch``, ...); set by each domain class.
    domain: str = ""
    #: Seconds between polls when ``should_poll`` is true.
    scan_interval: float = 30.0
    #: The least time in seconds between two writes to the device, or None for no limit. Writes
    #: that come faster are coalesced by the audited write pipeline (``core/audit.py``).
    write_min_interval: float | None = None

    _attr_unique_id: str | None = None
    _attr_name: str | None = None
    _attr_has_entity_name: bool = False
    _attr_device_info: DeviceInfo | None = None
    _attr_device_class: str | None = None
    _attr_unit_of_measurement: str | None = None
    _attr_entity_category: EntityCategory | None = None
    _attr_icon: str | None = None
    _attr_available: bool = True
    _attr_should_poll: bool = False
    _attr_extra_state_attributes: Mapping[str, Any] | None = None
    _attr_assumed_state: bool = False
    _attr_supported_features: int | None = None
    _attr_state: StateType = None

    def __init__(self) -> None:
        self._entity_id: str | None = None
        self._runtime: Runtime | None = None
        #: The platform that added the entity; set by the platform.
        self.platform: EntityPlatform | None = None
        #: The entity's registry entry, when it has a unique id; kept current by the platform.
        self.registry_entry: RegistryEntry | None = None
        #: The id of the entity's device in the device registry, when it has one.
        self.device_id: str | None = None
        self._context: Context | None = None
        self._context_set_at = 0.0
        self._update_failed = False
        self._on_remove: list[Callable[[], None]] = []

    # --- identity ------------------------------------------------------------------------------

    @property
    def entity_id(self) -> str:
        """The entity's id.

        Raises:
            RuntimeError: before the platform gave it one.
        """
        if self._entity_id is None:
            raise RuntimeError(f"{self!r} has no entity id yet: it was not added to a runtime")
        return self._entity_id

    @entity_id.setter
    def entity_id(self, value: str) -> None:
        self._entity_id = value

    @property
    def has_entity_id(self) -> bool:
        """Whether the entity has been given an entity id (or asked for one)."""
        return self._entity_id is not None

    @property
    def runtime(self) -> Runtime:
        """The runtime the entity was added to.

        Raises:
            RuntimeError: before it was added.
        """
        if self._runtime is None:
            raise RuntimeError(f"{self!r} was not added to a runtime")
        return self._runtime

    @runtime.setter
    def runtime(self, value: Runtime) -> None:
        self._runtime = value

    @property
    def added(self) -> bool:
        """Whether the entity is added to a runtime."""
        return self._runtime is not None and self._entity_id is not None

    # --- description ---------------------------------------------------------------------------

    @property
    def unique_id(self) -> str | None:
        """An id, stable across restarts, that the registry keys the entity by."""
        return self._attr_unique_id

    @property
    def name(self) -> str | None:
        """The entity's own name (without the device name when ``has_entity_name``)."""
        return self._attr_name

    @property
    def has_entity_name(self) -> bool:
        """Whether ``name`` names the entity within its device (shown after the device name)."""
        return self._attr_has_entity_name

    @property
    def device_info(self) -> DeviceInfo | None:
        """The device the entity belongs to, for the device registry."""
        return self._attr_device_info

    @property
    def device_class(self) -> str | None:
        """What kind of thing the entity measures or controls."""
        return self._attr_device_class

    @property
    def unit_of_measurement(self) -> str | None:
        """The unit of the state."""
        return self._attr_unit_of_measurement

    @property
    def entity_category(self) -> EntityCategory | None:
        """Whether the entity is a setting or a diagnostic rather than the device's function."""
        return self._attr_entity_category

    @property
    def icon(self) -> str | None:
        """The icon (``mdi:...``)."""
        return self._attr_icon

    @property
    def available(self) -> bool:
        """Whether the entity's device can be reached."""
        return self._attr_available

    @property
    def should_poll(self) -> bool:
        """Whether the platform must call ``async_update`` every ``scan_interval`` seconds."""
        return self._attr_should_poll

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Attributes of the integration's own, beyond the domain's."""
        return self._attr_extra_state_attributes

    @property
    def assumed_state(self) -> bool:
        """Whether the state is assumed (the device cannot report it) rather than read."""
        return self._attr_assumed_state

    @property
    def supported_features(self) -> int | None:
        """A bit mask of the optional features of the domain the entity supports."""
        return self._attr_supported_features

    # --- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> StateType:
        """The entity's state; None means unknown."""
        return self._attr_state

    @property
    def state_attributes(self) -> dict[str, Any] | None:
        """Attributes the entity's domain defines."""
        return None

    @property
    def update_failed(self) -> bool:
        """Whether the last poll of the entity failed (it then shows as unavailable)."""
        return self._update_failed

    def state_string(self) -> str:
        """The state as written to the state machine, with ``unavailable``/``unknown``.

        A state longer than the state machine holds (``MAX_STATE_LENGTH``) is written as
        ``unknown``, with an error naming the entity, as Home Assistant does: the state machine
        would refuse it, and its error would end the task that wrote the state (a poll, a feed).
        """
        if not self.available or self._update_failed:
            return STATE_UNAVAILABLE
        rendered = format_state_value(self.state)
        if rendered is None:
            return STATE_UNKNOWN
        if len(rendered) > MAX_STATE_LENGTH:
            _LOGGER.error(
                "State of %s has %d characters, more than a state's %d; written as unknown: %s",
                self._entity_id or repr(self),
                len(rendered),
                MAX_STATE_LENGTH,
                safe_repr(rendered),
            )
            return STATE_UNKNOWN
        return rendered

    def friendly_name(self) -> str | None:
        """The name users see: registry name, else the entity's (device) name, else original."""
        entry = self.registry_entry
        if entry is not None and entry.name:
            return entry.name
        name = self.name
        if self.has_entity_name:
            device_name = self._device_name()
            if device_name:
                return f"{device_name} {name}" if name else device_name
        if name:
            return name
        return entry.original_name if entry is not None else None

    def _device_name(self) -> str | None:
        """The device's name as users see it: theirs in the device registry, else its own."""
        if self._runtime is not None and self.device_id is not None:
            device = self._runtime.device_registry.get(self.device_id)
            if device is not None:
                return device.name_by_user or device.name
        info = self.device_info
        return info.name if info is not None else None

    def all_attributes(self) -> dict[str, Any]:
        """Every attribute written with the state: domain, integration, then common ones."""
        attrs: dict[str, Any] = {}
        if self.available and not self._update_failed:
            # An unavailable entity's domain attributes would be stale values shown as current.
            if (domain_attrs := self.state_attributes) is not None:
                attrs.update(domain_attrs)
            if (extra := self.extra_state_attributes) is not None:
                attrs.update(extra)
        entry = self.registry_entry
        if (unit := self.unit_of_measurement) is not None:
            attrs[ATTR_UNIT_OF_MEASUREMENT] = unit
        device_class = entry.device_class if entry is not None and entry.device_class else None
        if device_class is None:
            device_class = self.device_class
        if device_class is not None:
            attrs[ATTR_DEVICE_CLASS] = str(device_class)
        icon = entry.icon if entry is not None and entry.icon else self.icon
        if icon is not None:
            attrs[ATTR_ICON] = icon
        if (friendly_name := self.friendly_name()) is not None:
            attrs[ATTR_FRIENDLY_NAME] = friendly_name
        if self.assumed_state:
            attrs[ATTR_ASSUMED_STATE] = True
        if (features := self.supported_features) is not None:
            attrs[ATTR_SUPPORTED_FEATURES] = features
        return attrs

    # --- writing the state ---------------------------------------------------------------------

    @callback
    def set_context(self, context: Context) -> None:
        """Make ``context`` the reason of the next state write (within ``CONTEXT_RECENT_TIME``)."""
        self._context = context
        self._context_set_at = time.monotonic()

    @callback
    def write_state(self) -> None:
        """Write the entity's current state and attributes to the state machine.

        The write carries the context set by the last service call on the entity, if recent,
        and clears it: later writes are the device's own doing. Must run on the event loop.

        Raises:
            RuntimeError: when the entity was not added to a runtime.
        """
        runtime = self.runtime
        entity_id = self.entity_id
        context = self._context
        if context is not None and time.monotonic() - self._context_set_at > CONTEXT_RECENT_TIME:
            context = None
        self._context = None
        runtime.states.set(entity_id, self.state_string(), self.all_attributes(), context=context)

    async def async_update(self) -> None:
        """Fetch new data from the device; polled entities implement it."""

    async def update_and_write(self) -> None:
        """Run ``async_update`` and write the state.

        A failure marks the entity unavailable; it is logged once per outage (an error), then at
        debug level until an update succeeds again (an info message).
        """
        try:
            await self.async_update()
        except Exception as err:  # an isolation boundary: one entity's poll only
            self._mark_update_failed(err)
        else:
            if self._update_failed:
                self._update_failed = False
                _LOGGER.info("%s is available again", self._entity_id or repr(self))
        if self.added:
            self.write_state()

    def _mark_update_failed(self, err: Exception) -> None:
        name = self._entity_id or repr(self)
        if self._update_failed:
            _LOGGER.debug("Update of %s failed again: %s", name, err)
            return
        self._update_failed = True
        if isinstance(err, DeviceError):
            _LOGGER.error("Update of %s failed, it is unavailable: %s", name, err)
        else:
            _LOGGER.error("Update of %s failed, it is unavailable", name, exc_info=err)

    @callback
    def schedule_update(self) -> None:
        """Run ``update_and_write`` soon, in a task of the runtime. Must run on the event loop."""
        self.runtime.create_task(self.update_and_write(), name=f"entity_update[{self.entity_id}]")

    # --- lifecycle -----------------------------------------------------------------------------

    async def added_to_runtime(self) -> None:
        """Called once the entity has an id and a runtime, before its first state is written."""

    async def will_remove(self) -> None:
        """Called before the entity is removed; release what ``added_to_runtime`` took."""

    @callback
    def on_remove(self, func: Callable[[], None]) -> None:
        """Call ``func`` (an unsubscribe, typically) when the entity is removed."""
        self._on_remove.append(func)

    async def remove(self) -> None:
        """Remove the entity from its runtime: run ``will_remove``, drop its state and index entry.

        Safe to call when the entity was never added or is already removed.
        """
        if not self.added:
            return
        try:
            await self.will_remove()
        finally:
            while self._on_remove:
                self._on_remove.pop()()
            if self.platform is not None:
                self.platform.forget(self)
            self.runtime.states.remove(self.entity_id)
            self._runtime = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._entity_id or self.name or self.unique_id}>"


class OnOffEntity(Entity):
    """An entity whose state is ``on`` or ``off`` (from ``is_on``): switches, binary sensors."""

    _attr_is_on: bool | None = None

    @property
    def is_on(self) -> bool | None:
        """Whether the entity is on; None when unknown."""
        return self._attr_is_on

    @property
    def state(self) -> StateType:
        """``on``, ``off``, or None (unknown)."""
        is_on = self.is_on
        if is_on is None:
            return None
        return STATE_ON if is_on else STATE_OFF
