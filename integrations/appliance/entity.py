"""An appliance as an entity, and the energy, cost, carbon and runtime sensors it keeps.

``ApplianceEntity`` (``appliance.<name>``) shows ``off``, ``on``, ``running`` (on and drawing
more than ``running_threshold``) or ``scheduled`` (a ``run_for`` waits for its start); while its
backing switch is missing or unavailable it shows ``unknown`` with a ``problem`` attribute, and
its services fail with an error that names the switch. Every action goes through ``act``, which
records a control-log entry; the device write itself goes through the audited pipeline: the
backing switch's own service (``switch.turn_on`` ...) for a plug, ``core.audit.audited_write``
on the appliance for a virtual one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core import (
    Context,
    DeviceConnectError,
    Entity,
    Event,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
    callback,
)
from core.audit import audited_write
from core.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from core.restore_state import RestoreEntity
from core.state import State, finite_number

from .accounting import Meter, Totals
from .const import DOMAIN, ApplianceState, Result, Source
from .control_log import CONTEXT_SOURCES, ContextSources, ControlLog, ControlLogEntry

if TYPE_CHECKING:
    from .schema import ApplianceConfig, AppliancesConfig

_LOGGER = logging.getLogger(__name__)


def _number(state: State | None) -> float | None:
    return None if state is None else finite_number(state.state)


class ApplianceEntity(RestoreEntity, Entity):
    """One appliance: its state, its schedule, its accounts. Runs on the loop."""

    domain = DOMAIN
    _attr_icon = "mdi:power-plug"

    def __init__(self, config: ApplianceConfig, site: AppliancesConfig, log: ControlLog) -> None:
        super().__init__()
        self.config = config
        self.site = site
        self.log = log
        self._attr_unique_id = f"appliance_{config.key}"
        self._attr_name = config.name
        self.eco_mode = False
        #: A virtual appliance's own on/off state.
        self.virtual_on = False
        self.scheduled_start: datetime | None = None
        #: The next start another integration's schedule holds for it (the tariff's exact
        #: schedules); shown as ``scheduled`` while the appliance is off.
        self.planned_start: datetime | None = None
        self.run_until: datetime | None = None
        self._cancel_start: Callable[[], None] | None = None
        self._cancel_stop: Callable[[], None] | None = None
        self.meter: Meter | None = None
        self.sensors: list[ApplianceTotalSensor] = []
        self._unsubscribe: list[Callable[[], None]] = []

    # --- what it shows ------------------------------------------------------------------------

    @property
    def source_kind(self) -> str:
        """``plug`` when a switch backs it, else ``virtual``."""
        return "virtual" if self.config.virtual else "plug"

    @property
    def problem(self) -> str | None:
        """Why the backing switch cannot be used now, or None."""
        switch = self.config.switch
        if switch is None:
            return None
        state = self.runtime.states.get(switch)
        if state is None:
            return f"backing switch {switch} does not exist"
        if state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return f"backing switch {switch} is {state.state}"
        return None

    @property
    def is_on(self) -> bool | None:
        """Whether it is switched on; None when the backing switch cannot say."""
        if self.config.switch is None:
            return self.virtual_on
        if self.problem is not None:
            return None
        state = self.runtime.states.get(self.config.switch)
        return state is not None and state.state == STATE_ON

    @property
    def power(self) -> float:
        """The draw now, W: the power sensor's reading, else the nameplate while on."""
        if self.config.power_sensor is not None:
            reading = _number(self.runtime.states.get(self.config.power_sensor))
            if reading is not None:
                return max(reading, 0.0)
        return self.config.power if self.is_on else 0.0

    @property
    def state(self) -> str | None:
        """off, on, running or scheduled; None (unknown) while the switch cannot say."""
        if self.scheduled_start is not None:
            return ApplianceState.SCHEDULED.value
        on = self.is_on
        if on is None:
            return None
        if not on:
            if self.planned_start is not None:
                return ApplianceState.SCHEDULED.value
            return ApplianceState.OFF.value
        if self.config.virtual or self.power > self.config.running_threshold:
            return ApplianceState.RUNNING.value
        return ApplianceState.ON.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Tier, source, eco mode, power now, and today's energy, cost, carbon and runtime."""
        today = self.meter.today if self.meter is not None else Totals()
        return {
            "tier": self.config.tier.value,
            "source": self.source_kind,
            "eco_mode": self.eco_mode,
            "area": self.config.area,
            "nameplate_power": self.config.power,
            "switch": self.config.switch,
            "power_sensor": self.config.power_sensor,
            "power": round(self.power, 1),
            "energy_today": round(today.energy, 4),
            "cost_today": round(today.cost, 4),
            "carbon_today": round(today.carbon, 4),
            "runtime_today": round(today.runtime / 60.0, 1),
            "currency": self.site.currency,
            "scheduled_start": self.scheduled_start.isoformat() if self.scheduled_start else None,
            "run_until": self.run_until.isoformat() if self.run_until else None,
            "planned_start": self.planned_start.isoformat() if self.planned_start else None,
            "problem": self.problem,
        }

    # --- lifecycle ----------------------------------------------------------------------------

    async def added_to_runtime(self) -> None:
        """Restore the accounts and eco mode, follow the switch and sensors, tick the meter."""
        await super().added_to_runtime()
        runtime = self.runtime
        self.meter = Meter(runtime.core.tzinfo)
        if (extra := await self.last_extra_data()) is not None:
            self.eco_mode = bool(extra.get("eco_mode", False))
            self.virtual_on = bool(extra.get("virtual_on", False)) and self.config.virtual
            self.meter.total = Totals.from_dict(extra.get("total"))
            day = extra.get("day")
            if day == runtime.clock.now().astimezone(runtime.core.tzinfo).date().isoformat():
                self.meter.today = Totals.from_dict(extra.get("today"))
        self._refresh_meter()
        watched = [e for e in (self.config.switch, self.config.power_sensor) if e is not None]
        if self.site.carbon_sensor is not None:
            watched.append(self.site.carbon_sensor)
        if watched:
            self._unsubscribe.append(runtime.states.track(watched, self._on_change))
        if runtime.has_scheduler:
            self._unsubscribe.append(
                runtime.scheduler.every(
                    timedelta(seconds=60), self._tick, name=f"appliance[{self.config.key}].meter"
                )
            )

    async def will_remove(self) -> None:
        """Stop following and cancel schedules."""
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe.clear()
        self._clear_schedule()
        await super().will_remove()

    @property
    def extra_restore_data(self) -> dict[str, Any] | None:
        """The accounts and eco mode, for a restart."""
        meter = self.meter
        return {
            "eco_mode": self.eco_mode,
            "virtual_on": self.virtual_on,
            "total": meter.total.as_dict() if meter else None,
            "today": meter.today.as_dict() if meter else None,
            "day": meter.day.isoformat() if meter and meter.day else None,
        }

    # --- accounting ---------------------------------------------------------------------------

    @callback
    def _on_change(self, _event: Event[Any]) -> None:
        self._refresh_meter()
        self.write_state()
        self._write_sensors()

    @callback
    def _tick(self, _now: datetime) -> None:
        self._refresh_meter()
        self.write_state()
        self._write_sensors()

    def _refresh_meter(self) -> None:
        """Account for the time so far at the old values, then hold the new ones."""
        meter = self.meter
        if meter is None:
            return
        meter.advance(self.runtime.clock.now())
        meter.power = self.power
        meter.on = bool(self.is_on)
        meter.price = self.site.price
        intensity = self.site.carbon_intensity
        if self.site.carbon_sensor is not None:
            grams = _number(self.runtime.states.get(self.site.carbon_sensor))
            if grams is not None:
                intensity = max(grams, 0.0) / 1000.0
        meter.intensity = intensity

    def _write_sensors(self) -> None:
        for sensor in self.sensors:
            if sensor.added:
                sensor.write_state()

    def changed(self) -> None:
        """Account and write the state after an action changed something."""
        self._refresh_meter()
        if self.added:
            self.write_state()
        self._write_sensors()

    # --- actions ------------------------------------------------------------------------------

    async def act(
        self, action: str, context: Context, params: dict[str, Any], run: Callable[[], Any]
    ) -> None:
        """Run ``run`` for ``action`` and record the control-log entry, whatever the outcome.

        Raises:
            Whatever ``run`` raised, after it was recorded.
        """
        sources = self.runtime.data.setdefault(CONTEXT_SOURCES, ContextSources)
        source, detail = sources.classify(context)
        before = self.state_string()
        started = time.perf_counter()
        error: str | None = None
        try:
            await run()
        except Exception as err:
            error = str(err) or type(err).__name__
            raise
        finally:
            elapsed = round((time.perf_counter() - started) * 1000.0, 3)
            self.log.add(
                ControlLogEntry(
                    time=self.runtime.clock.now(),
                    appliance=self.entity_id,
                    action=action,
                    source=source,
                    source_detail=detail,
                    user_id=context.user_id,
                    context_id=context.id,
                    parent_context_id=context.parent_id,
                    state_before=before,
                    result=Result.ERROR if error is not None else Result.OK,
                    confirmation_ms=None if error is not None else elapsed,
                    error=error,
                    params=params,
                )
            )

    async def switch_to(self, on: bool, context: Context) -> None:
        """Switch the appliance, through its backing switch's audited service or, when virtual,
        through the audited pipeline on the appliance itself.

        Raises:
            DeviceConnectError: the backing switch does not exist or is unavailable.
        """
        if self.config.switch is None:

            async def write() -> None:
                self.virtual_on = on
                self.changed()

            service = "turn_on" if on else "turn_off"
            await audited_write(self.runtime, self, f"{DOMAIN}.{service}", {}, context, write)
            return
        if (problem := self.problem) is not None:
            raise DeviceConnectError(f"{self.config.name}: {problem}", device=self.config.switch)
        domain = self.config.switch.split(".", 1)[0]
        await self.runtime.services.call(
            domain,
            "turn_on" if on else "turn_off",
            target={"entity_id": self.config.switch},
            context=Context(user_id=context.user_id, parent_id=context.id),
        )
        self.changed()

    def schedule(self, start: datetime | None, until: datetime | None) -> None:
        """Hold a run: scheduled until ``start`` (None: already started), off at ``until``."""
        self._clear_schedule()
        scheduler = self.runtime.scheduler
        if scheduler is None:
            raise DeviceConnectError("the runtime has no scheduler", device=self.config.name)
        if start is not None:
            self.scheduled_start = start
            self._cancel_start = scheduler.at(
                start, self._scheduled_start, name=f"appliance[{self.config.key}].start"
            )
        self.run_until = until
        if until is not None:
            self._cancel_stop = scheduler.at(
                until, self._scheduled_stop, name=f"appliance[{self.config.key}].stop"
            )
        self.changed()

    def set_planned_start(self, start: datetime | None) -> None:
        """Show the next start another integration's schedule holds (None: none)."""
        if start != self.planned_start:
            self.planned_start = start
            self.changed()

    def clear_schedule(self) -> bool:
        """Cancel a waiting or running ``run_for``; True when there was one."""
        had = self.scheduled_start is not None or self.run_until is not None
        self._clear_schedule()
        if had:
            self.changed()
        return had

    def _clear_schedule(self) -> None:
        for cancel in (self._cancel_start, self._cancel_stop):
            if cancel is not None:
                cancel()
        self._cancel_start = self._cancel_stop = None
        self.scheduled_start = self.run_until = None

    def _schedule_context(self, what: str) -> Context:
        context = Context()
        self.runtime.data.setdefault(CONTEXT_SOURCES, ContextSources).tag(
            context.id, Source.SCHEDULE, what
        )
        return context

    async def _scheduled_start(self, _due: datetime) -> None:
        self.scheduled_start = None
        self._cancel_start = None
        context = self._schedule_context("run_for start")
        try:
            await self.act(
                "turn_on", context, {"scheduled": True}, lambda: self.switch_to(True, context)
            )
        except Exception as err:
            _LOGGER.warning("%s: the scheduled start failed: %s", self.config.name, err)
            self._clear_schedule()
            self.changed()

    async def _scheduled_stop(self, _due: datetime) -> None:
        self.run_until = None
        self._cancel_stop = None
        context = self._schedule_context("run_for end")
        try:
            await self.act(
                "turn_off", context, {"scheduled": True}, lambda: self.switch_to(False, context)
            )
        except Exception as err:
            _LOGGER.warning("%s: the scheduled stop failed: %s", self.config.name, err)


class ApplianceTotalSensor(SensorEntity):
    """A running total of an appliance: energy, cost, carbon or runtime (long-term statistics).

    The appliance keeps (and restores) the totals; the sensor shows one of them.
    """

    _attr_state_class = SensorStateClass.TOTAL_INCREASING

    def __init__(self, appliance: ApplianceEntity, kind: str) -> None:
        super().__init__()
        config = appliance.config
        self.appliance = appliance
        self.kind = kind
        self._attr_unique_id = f"appliance_{config.key}_{kind}"
        self._attr_name = f"{config.name} {kind}"
        unit, device_class = {
            "energy": ("kWh", SensorDeviceClass.ENERGY),
            "cost": (appliance.site.currency, SensorDeviceClass.MONETARY),
            "carbon": ("kg", None),  # kg CO2e emitted: a mass, not the CO2 concentration class
            "runtime": ("h", SensorDeviceClass.DURATION),
        }[kind]
        self._attr_native_unit_of_measurement = unit
        self._attr_device_class = device_class

    @property
    def native_value(self) -> float | None:
        """The total so far."""
        meter = self.appliance.meter
        if meter is None:
            return None
        value = getattr(meter.total, self.kind)
        if self.kind == "runtime":
            value /= 3600.0
        return round(float(value), 4)
