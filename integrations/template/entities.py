"""Template sensors and binary sensors: entities whose state, attributes, icon, name and
availability are templates, each re-rendered only when what it read changes.

Every template of an entity is tracked on its own (``core.template.TemplateTracker``); results
that arrive together (one state change read by several templates) are written as one state.
Templates see ``this``: the entity's own current state.

As in Home Assistant: a state template that fails makes the entity ``unknown`` and is logged
once per distinct error; an availability template that fails leaves the entity available; a
numeric sensor (one with a unit or a state class) whose template renders something that is not a
number is ``unknown``, logged. A binary sensor is on when its template renders a true value
(``true``, ``on``, ``yes``, ``1``, a non-zero number). ``delay_on``/``delay_off`` hold a change
back for that long and drop it if the template changes back in the meantime; the first state
after start-up is shown at once.

A trigger-based entity (a block with ``triggers:``) renders only when a trigger fires, so, as in
Home Assistant, it takes its last state and attributes back after a restart (through
``core.restore_state``) until a trigger fires again; a binary sensor that was on keeps its
``auto_off`` time across the restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import voluptuous as vol

from core import BinarySensorEntity, Runtime, SensorEntity, validators
from core.bus import Event, callback
from core.collection import CollectionEntity, Item
from core.const import (
    ATTR_ICON,
    EVENT_EDGEWISE_STARTED,
    MAX_STATE_LENGTH,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    CoreState,
)
from core.context import Context
from core.entity import Entity, StateType
from core.restore_state import RestoreEntity
from core.state import State
from core.template import Template, TemplateError, TemplateTracker, attach, render_complex
from core.timers import Cancel

from .const import (
    ATTR_ENTITY_PICTURE,
    CONF_ATTRIBUTES,
    CONF_AVAILABILITY,
    CONF_ICON,
    CONF_NAME,
    CONF_PICTURE,
    CONF_SENSOR,
    CONF_STATE,
    CONF_TEMPLATE_TYPE,
)
from .schema import (
    BinarySensorConfig,
    SensorConfig,
    TemplateConfig,
    TemplateEntityConfig,
    stored_config,
)

_LOGGER = logging.getLogger(__name__)

_ATTRIBUTE_PREFIX = f"{CONF_ATTRIBUTES}."
#: The extra restore data of a trigger-based binary sensor: when its ``auto_off`` is due.
_AUTO_OFF_TIME = "auto_off_time"
#: The extra restore data of a trigger-based sensor: its rendered value, type kept.
_NATIVE_VALUE = "native_value"


def result_as_boolean(result: Any) -> bool:
    """Whether a rendered result means on: true, a non-zero number, or on/yes/true/1/enable."""
    if result is None:
        return False
    try:
        return validators.boolean(result)
    except vol.Invalid:
        return isinstance(result, float) and result != 0


class _ThisVariables(Mapping[str, Any]):
    """The variables of an entity's templates: ``this``, its current state, read per render."""

    __slots__ = ("_entity",)

    def __init__(self, entity: Entity) -> None:
        self._entity = entity

    def __getitem__(self, key: str) -> Any:
        if key != "this":
            raise KeyError(key)
        entity = self._entity
        if not entity.added:
            return None
        state = entity.runtime.states.get(entity.entity_id)
        return state if state is not None else State(entity.entity_id, STATE_UNKNOWN)

    def __iter__(self) -> Iterator[str]:
        return iter(("this",))

    def __len__(self) -> int:
        return 1


class TemplateEntity(Entity):
    """What template sensors and binary sensors share: trackers, results, one write per burst."""

    def __init__(self, runtime: Runtime, config: TemplateEntityConfig) -> None:
        """Bind the entity's templates to ``runtime`` and render its name for its entity id."""
        super().__init__()
        self._attr_unique_id = config.unique_id
        self._configure(runtime, config)

    def _configure(self, runtime: Runtime, config: TemplateEntityConfig) -> None:
        """Take ``config`` (at creation, and when an item created through the API changes)."""
        self._config = config
        attach(config.templates(), runtime)
        self._rendered_name = _render_name(config.name)
        self._results: dict[str, Any] = {}
        self._ready = False
        self._write_pending = False
        self._cancel_trackers: list[Callable[[], None]] = []

    # --- what the templates rendered ---------------------------------------------------------

    @property
    def name(self) -> str | None:
        """The rendered name."""
        return self._rendered_name

    @property
    def available(self) -> bool:
        """False only when an availability template rendered a false value."""
        if CONF_AVAILABILITY not in self._results:
            return True
        result = self._results[CONF_AVAILABILITY]
        return isinstance(result, TemplateError) or result_as_boolean(result)

    @property
    def icon(self) -> str | None:
        """The rendered icon, if there is an icon template."""
        result = self._results.get(CONF_ICON)
        return None if result is None or isinstance(result, TemplateError) else str(result)

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """The rendered attributes; one whose template failed is None."""
        attrs: dict[str, Any] = {}
        for key, result in self._results.items():
            if key.startswith(_ATTRIBUTE_PREFIX):
                attrs[key[len(_ATTRIBUTE_PREFIX) :]] = (
                    None if isinstance(result, TemplateError) else result
                )
        picture = self._results.get(CONF_PICTURE)
        if picture is not None and not isinstance(picture, TemplateError):
            attrs[ATTR_ENTITY_PICTURE] = str(picture)
        return attrs or None

    # --- lifecycle ---------------------------------------------------------------------------

    async def added_to_runtime(self) -> None:
        """Track the templates, or attach the triggers of a trigger-based entity.

        Tracked templates have their first results before the first state is written; triggers
        are attached once the runtime runs, when every plugin's trigger platform exists.
        """
        await super().added_to_runtime()
        self.on_remove(self._stop_tracking)
        if not self._config.triggers:
            self._start_tracking()
            return
        if isinstance(self, RestoreEntity):
            last = await self.last_state()
            if last is not None:
                self._restore(last, await self.last_extra_data())
        self._ready = True
        runtime = self.runtime
        if runtime.state is CoreState.RUNNING:
            runtime.create_task(self._attach_triggers(), name=f"template[{self.entity_id}].attach")
        else:
            # Plugins' trigger platforms (mqtt...) exist once every integration is set up.
            self._cancel_trackers.append(
                runtime.bus.listen_once(EVENT_EDGEWISE_STARTED, self._on_started)
            )

    async def _on_started(self, event: Event[Any]) -> None:
        await self._attach_triggers()

    async def _attach_triggers(self) -> None:
        """Attach the block's triggers through the automation engine."""
        from automations.api import subscribe_trigger  # noqa: PLC0415 - only trigger blocks
        from automations.validation import InvalidConfig  # noqa: PLC0415 - same

        try:
            detach = await subscribe_trigger(
                self.runtime, [dict(t) for t in self._config.triggers], self._on_trigger
            )
        except InvalidConfig as err:
            _LOGGER.error("%s: its triggers are not attached: %s", self.entity_id, err)
            return
        if not self.added:
            detach()
            return
        self._cancel_trackers.append(detach)

    @callback
    def _on_trigger(self, data: dict[str, Any], context: Context | None) -> None:
        """A trigger fired: render every template once, with ``trigger`` and ``this``."""
        if not self.added:
            return
        this = _ThisVariables(self)["this"]
        variables: dict[str, Any] = {"this": this, "trigger": data.get("trigger")}
        try:
            variables.update(
                render_complex(self._config.variables, variables, runtime=self.runtime)
            )
        except TemplateError as err:
            _LOGGER.error(
                "%s: variables not rendered, the trigger is ignored: %s", self.entity_id, err
            )
            return
        if context is not None:
            self.set_context(context)
        for key, template in self._config.templates().items():
            template.name = f"{self.entity_id} {key}"
            try:
                result = template.render(variables)
            except TemplateError as err:
                result = err
            self._on_result(key, result)

    def _restore(self, last: State, extra: Mapping[str, Any] | None) -> None:
        """Take the last saved state and attributes back (trigger-based entities, at start)."""
        attributes = last.attributes
        for key in self._config.templates():
            if key.startswith(_ATTRIBUTE_PREFIX):
                name = key[len(_ATTRIBUTE_PREFIX) :]
                if name in attributes:
                    self._results[key] = attributes[name]
        if CONF_ICON in self._config.templates() and ATTR_ICON in attributes:
            self._results[CONF_ICON] = attributes[ATTR_ICON]
        if CONF_PICTURE in self._config.templates() and ATTR_ENTITY_PICTURE in attributes:
            self._results[CONF_PICTURE] = attributes[ATTR_ENTITY_PICTURE]
        if last.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            self._restore_state(last.state, extra)

    def _restore_state(self, state: str, extra: Mapping[str, Any] | None) -> None:
        self._results[CONF_STATE] = state

    def _start_tracking(self) -> None:
        variables = _ThisVariables(self)
        for key, template in self._config.templates().items():
            template.name = f"{self.entity_id} {key}"
            tracker = TemplateTracker(
                self.runtime,
                template,
                variables,
                partial(self._on_result, key),
                # Reading its own state must not make an entity render itself in a loop.
                ignore_entities=frozenset({self.entity_id}),
            )
            self._cancel_trackers.append(tracker.cancel)
            tracker.start()
        self._ready = True

    @callback
    def _stop_tracking(self) -> None:
        while self._cancel_trackers:
            self._cancel_trackers.pop()()

    def _reconfigure(self, config: TemplateEntityConfig) -> None:
        """Replace the templates of an added entity and render them at once."""
        self._stop_tracking()
        self._configure(self.runtime, config)
        self._start_tracking()
        self.write_state()

    @callback
    def _on_result(self, key: str, result: Any) -> None:
        if isinstance(result, TemplateError):
            _LOGGER.error("%s", result)
        if key == CONF_NAME:
            if not isinstance(result, TemplateError):
                self._rendered_name = str(result)
        elif key == CONF_STATE:
            self._on_state_result(result)
            return
        self._results[key] = result
        self._schedule_write()

    def _on_state_result(self, result: Any) -> None:
        self._results[CONF_STATE] = result
        self._schedule_write()

    @callback
    def _schedule_write(self) -> None:
        """Write soon, once for every result that arrives in the same loop iteration."""
        if not self._ready or self._write_pending or not self.added:
            return
        self._write_pending = True
        self.runtime.loop.call_soon(self._write_now)

    @callback
    def _write_now(self) -> None:
        self._write_pending = False
        if self.added:
            self.write_state()


def _render_name(template: Template) -> str:
    """The entity's name when it is added; a failing name template falls back to its source."""
    try:
        return str(template.render(parse_result=False))
    except TemplateError as err:
        _LOGGER.error("%s", err)
        return template.source


class TemplateSensor(TemplateEntity, SensorEntity):
    """A ``template:`` sensor."""

    _sensor_config: SensorConfig
    _logged_value: object = None

    def _configure(self, runtime: Runtime, config: TemplateEntityConfig) -> None:
        assert isinstance(config, SensorConfig)  # noqa: S101 - the sensor's own config type
        super()._configure(runtime, config)
        self._sensor_config = config
        self._attr_native_unit_of_measurement = config.unit_of_measurement
        self._attr_device_class = config.device_class
        self._attr_state_class = config.state_class
        self._logged_value = None

    @property
    def native_value(self) -> StateType:
        """The rendered state; None (unknown) after an error, or a non-number when numeric."""
        result = self._results.get(CONF_STATE)
        if result is None or isinstance(result, TemplateError):
            return None
        config = self._sensor_config
        numeric = config.state_class is not None or config.unit_of_measurement is not None
        if isinstance(result, int | float) and not isinstance(result, bool):
            return result
        text = str(result)
        if text in (STATE_UNKNOWN, STATE_UNAVAILABLE, "None", ""):
            return None
        if numeric:
            try:
                return float(text)
            except ValueError:
                self._log_bad_value(
                    result, "is not a number, but the sensor has a unit or a state class"
                )
                return None
        if len(text) > MAX_STATE_LENGTH:
            self._log_bad_value(result, f"is longer than {MAX_STATE_LENGTH} characters")
            return None
        return text

    def _log_bad_value(self, value: object, why: str) -> None:
        if self._logged_value != value:
            self._logged_value = value
            _LOGGER.error(
                "%s: the state template rendered %r, which %s; the state is unknown",
                self.entity_id,
                str(value)[:60],
                why,
            )


class TemplateBinarySensor(TemplateEntity, BinarySensorEntity):
    """A ``template:`` binary sensor, with optional ``delay_on``/``delay_off``."""

    _binary_config: BinarySensorConfig
    _cancel_delay: Cancel | None = None
    _cancel_auto_off: Cancel | None = None
    _auto_off_due_at: datetime | None = None

    def _configure(self, runtime: Runtime, config: TemplateEntityConfig) -> None:
        assert isinstance(config, BinarySensorConfig)  # noqa: S101 - its own config type
        super()._configure(runtime, config)
        self._binary_config = config
        self._attr_device_class = config.device_class
        for delay in (config.delay_on, config.delay_off):
            if isinstance(delay, Template):
                delay.runtime = runtime

    async def added_to_runtime(self) -> None:
        """Track the templates; a pending delay is dropped when the entity goes."""
        await super().added_to_runtime()
        self.on_remove(self._drop_delay)
        self.on_remove(self._drop_auto_off)

    def _restore_state(self, state: str, extra: Mapping[str, Any] | None) -> None:
        if state not in (STATE_ON, STATE_OFF):
            return
        self._attr_is_on = state == STATE_ON
        auto_off = self._binary_config.auto_off
        scheduler = self.runtime.scheduler
        if not self._attr_is_on or auto_off is None or scheduler is None:
            return
        due: datetime | None = None
        if extra and isinstance(extra.get(_AUTO_OFF_TIME), str):
            try:
                due = datetime.fromisoformat(extra[_AUTO_OFF_TIME])
            except ValueError:
                due = None
        if due is None or due <= scheduler.clock.now():
            self._attr_is_on = False  # its auto_off time passed while the runtime was down
            return
        self._auto_off_at(due)

    @property
    def extra_restore_data(self) -> dict[str, Any] | None:
        """When a pending ``auto_off`` is due, so that it still happens after a restart."""
        if self._auto_off_due_at is None:
            return None
        return {_AUTO_OFF_TIME: self._auto_off_due_at.isoformat()}

    def _on_state_result(self, result: Any) -> None:
        self._drop_delay()
        is_on = None if isinstance(result, TemplateError) else result_as_boolean(result)
        if not self._ready or is_on is None or is_on == self._attr_is_on:
            self._set(is_on)
            return
        delay = self._delay(
            self._binary_config.delay_on if is_on else self._binary_config.delay_off
        )
        scheduler = self.runtime.scheduler
        if delay is None or delay <= timedelta(0) or scheduler is None:
            self._set(is_on)
            return
        self._cancel_delay = scheduler.at(
            scheduler.clock.now() + delay,
            partial(self._delay_over, is_on),
            name=f"template[{self.entity_id}].{'delay_on' if is_on else 'delay_off'}",
        )

    def _delay(self, delay: timedelta | Template | None) -> timedelta | None:
        if not isinstance(delay, Template):
            return delay
        try:
            return validators.time_period(delay.render(_ThisVariables(self)))
        except TemplateError as err:
            _LOGGER.error("%s; no delay", err)
        except vol.Invalid as err:
            _LOGGER.error(
                "%s: the delay template %s rendered no time period: %s",
                self.entity_id,
                delay.label,
                err,
            )
        return None

    @callback
    def _delay_over(self, is_on: bool, due: datetime) -> None:
        self._cancel_delay = None
        self._set(is_on)

    def _set(self, is_on: bool | None) -> None:
        self._attr_is_on = is_on
        self._schedule_write()
        auto_off = self._binary_config.auto_off
        if is_on and auto_off is not None and self._config.triggers:
            scheduler = self.runtime.scheduler
            if scheduler is not None:
                self._auto_off_at(scheduler.clock.now() + auto_off)

    def _auto_off_at(self, due: datetime) -> None:
        self._drop_auto_off()
        scheduler = self.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - callers checked
        self._auto_off_due_at = due
        self._cancel_auto_off = scheduler.at(
            due, self._auto_off_due, name=f"template[{self.entity_id}].auto_off"
        )

    @callback
    def _auto_off_due(self, due: datetime) -> None:
        self._cancel_auto_off = None
        self._auto_off_due_at = None
        self._set(False)

    @callback
    def _drop_auto_off(self) -> None:
        self._auto_off_due_at = None
        if self._cancel_auto_off is not None:
            self._cancel_auto_off()
            self._cancel_auto_off = None

    @callback
    def _drop_delay(self) -> None:
        if self._cancel_delay is not None:
            self._cancel_delay()
            self._cancel_delay = None


class StoredTemplateSensor(TemplateSensor, CollectionEntity):
    """A template sensor created through the API: its entity id is ``sensor.<item id>``."""

    def __init__(self, runtime: Runtime, item: Item) -> None:
        """Create the sensor of a stored item."""
        CollectionEntity.__init__(self, item)
        self._configure(runtime, stored_config(item.config))

    async def update_item(self, item: Item) -> None:
        """Take the item's new options: new templates, rendered and written at once."""
        self.item = item
        self._reconfigure(stored_config(item.config))


class StoredTemplateBinarySensor(TemplateBinarySensor, CollectionEntity):
    """A template binary sensor created through the API: ``binary_sensor.<item id>``."""

    def __init__(self, runtime: Runtime, item: Item) -> None:
        """Create the binary sensor of a stored item."""
        CollectionEntity.__init__(self, item)
        self._configure(runtime, stored_config(item.config))

    async def update_item(self, item: Item) -> None:
        """Take the item's new options; a pending delay is dropped."""
        self.item = item
        self._drop_delay()
        self._reconfigure(stored_config(item.config))


def stored_entity_factory(runtime: Runtime) -> Callable[[Item], CollectionEntity]:
    """Makes the entity of a template item created through the API."""

    def make(item: Item) -> CollectionEntity:
        if item.config[CONF_TEMPLATE_TYPE] == CONF_SENSOR:
            return StoredTemplateSensor(runtime, item)
        return StoredTemplateBinarySensor(runtime, item)

    return make


class TriggerTemplateSensor(TemplateSensor, RestoreEntity):
    """A trigger-based template sensor: its last state and attributes survive a restart."""

    @property
    def extra_restore_data(self) -> dict[str, Any] | None:
        """The rendered value as it was (``1300`` stays an int, not the state's text)."""
        value = self.native_value
        return None if value is None else {_NATIVE_VALUE: value}

    def _restore_state(self, state: str, extra: Mapping[str, Any] | None) -> None:
        value = extra.get(_NATIVE_VALUE) if extra else None
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        self._results[CONF_STATE] = value if ok else state


class TriggerTemplateBinarySensor(TemplateBinarySensor, RestoreEntity):
    """A trigger-based template binary sensor: its last state (and auto_off) survive a restart."""


def build_entities(runtime: Runtime, config: TemplateConfig) -> list[Entity]:
    """The entities of a validated ``template:`` section, sensors first."""
    entities: list[Entity] = [
        (TriggerTemplateSensor if sensor.triggers else TemplateSensor)(runtime, sensor)
        for sensor in config.sensors
    ]
    entities.extend(
        (TriggerTemplateBinarySensor if binary.triggers else TemplateBinarySensor)(runtime, binary)
        for binary in config.binary_sensors
    )
    return entities
