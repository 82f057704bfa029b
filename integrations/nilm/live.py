"""Live disaggregation of one meter: its power sensor in, per-appliance sensors out.

The meter's power sensor (W, or kW / MW by its unit) is resampled to the model's period
(``resample.py``) on every state change and on a timer (so a silent sensor still ages into a
gap). Every complete window of ``window_length`` samples is disaggregated; windows that arrive
together (after a restart of the sensor, or a slow loop) are batched into one inference. A
window holding a missing sample gives no prediction: the power and on/off sensors turn
unavailable until the window is whole again, and the energy sensors keep their total. The
totals also survive a restart (restore state): an energy sensor counts on from where it was.

The prediction describes the sample at the manifest's ``output_index``: the sensors lag the
meter by ``(window_length - output_index) * sample_period_s`` seconds, shown as the
``predicted_for`` attribute (``ATTR_PREDICTED_FOR``), which the panel shows by the state.

After a restart the window is filled from the recorder's history of the power sensor
(``start(history)``), so the sensors come back at once instead of a window later; a reading recorded
more than ``MAX_RESUME_GAP_S`` before the start does not bridge the time the runtime was down.

Each appliance's three sensors belong to one device ("House fridge (NILM)") whose suggested
area is the appliance's configured area, else the meter's: the panel shows them in that room.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from core import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    DeviceInfo,
    Entity,
    Event,
    Runtime,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
    callback,
)
from core.const import ATTR_PREDICTED_FOR, EVENT_STATE_CHANGED
from core.isolated import WorkerDied, WorkerUnavailable
from core.restore_state import RestoreEntity
from core.state import finite_number

from .const import DOMAIN, MAX_HOLD_S, MAX_RESUME_GAP_S, WINDOW_NOTIFICATION_PREFIX
from .manifest import ModelRefused
from .registry import ModelEntry
from .resample import Resampler
from .schema import MeterConfig
from .worker import MAX_WINDOWS_PER_CALL, InferenceClient

_LOGGER = logging.getLogger(__name__)

#: Recorded readings of a power sensor, oldest first: (epoch s, state, attributes).
Readings = list[tuple[float, str | None, Mapping[str, Any]]]
#: What answers the recorded readings of the meter's power sensor before now.
History = Callable[[], Awaitable[Readings]]

#: Words of appliance names written in capitals in the sensors' names ("House EV charger power").
ACRONYMS = {"ev": "EV"}
#: The model of every NILM device (the panel leaves such devices out of meters and plant).
DEVICE_MODEL = "NILM estimate"

#: The key of an energy sensor's total (kWh, not rounded) in its extra restore data, as in
#: Home Assistant's RestoreSensor.
RESTORE_NATIVE_VALUE = "native_value"

#: Factors from a power sensor's unit to W.
UNIT_FACTORS = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}


class _ApplianceEntity(Entity):
    """What the three sensors of one appliance share."""

    _attr_should_poll = False

    def _setup(self, meter: MeterConfig, appliance: str, kind: str, area: str | None) -> None:
        label = " ".join(ACRONYMS.get(w, w) for w in appliance.split("_"))
        self._attr_unique_id = f"nilm_{meter.key}_{appliance}_{kind}"
        self._attr_name = f"{meter.name} {label} {kind}"
        self._attr_device_info = DeviceInfo(
            identifiers=frozenset({(DOMAIN, f"{meter.key}_{appliance}")}),
            name=f"{meter.name} {label} (NILM)",
            manufacturer="Edgewise",
            # The panel knows this model: an estimate is neither a meter nor plant equipment.
            model=DEVICE_MODEL,
            suggested_area=area,
        )

    def set_value(
        self, value: float | bool | None, attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Show ``value`` (None: unavailable) with ``attributes``; write it once added."""
        available = value is not None
        if not available and not self._attr_available:
            return
        self._attr_available = available
        if value is not None:
            self._store(value)
        if attributes is not None:
            self._attr_extra_state_attributes = attributes
        if self._runtime is not None:
            self.write_state()

    def _store(self, value: float | bool) -> None:
        raise NotImplementedError

    @property
    def confidence(self) -> float | None:
        """The confidence last shown."""
        attrs = self._attr_extra_state_attributes
        return None if attrs is None else attrs.get("confidence")


class _ApplianceSensor(_ApplianceEntity, SensorEntity):
    """A numeric sensor of an appliance."""

    def _store(self, value: float | bool) -> None:
        self._attr_native_value = float(value)


class NilmPowerSensor(_ApplianceSensor):
    """An appliance's disaggregated power (W)."""

    _attr_native_unit_of_measurement = "W"
    _attr_device_class = SensorDeviceClass.POWER
    _attr_state_class = SensorStateClass.MEASUREMENT
    _attr_suggested_display_precision = 0

    def __init__(self, meter: MeterConfig, appliance: str, area: str | None = None) -> None:
        super().__init__()
        self._setup(meter, appliance, "power", area)
        self._attr_available = False


class NilmOnSensor(_ApplianceEntity, BinarySensorEntity):
    """Whether an appliance runs, by the model's on-probability."""

    _attr_device_class = BinarySensorDeviceClass.RUNNING

    def __init__(self, meter: MeterConfig, appliance: str, area: str | None = None) -> None:
        super().__init__()
        self._setup(meter, appliance, "running", area)
        self._attr_available = False

    def _store(self, value: float | bool) -> None:
        self._attr_is_on = bool(value)


class NilmEnergySensor(_ApplianceSensor, RestoreEntity):
    """An appliance's disaggregated energy (kWh), the sum of its predicted power.

    Like Home Assistant's RestoreSensor, the total survives a restart (``core.restore_state``):
    it is read back when the sensor is added, before its first state is written, and the sum
    goes on from it. A stored total that is not a number of kWh >= 0 is dropped with a warning
    naming the sensor: its total starts again from 0.
    """

    _attr_native_unit_of_measurement = "kWh"
    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_suggested_display_precision = 4

    def __init__(self, meter: MeterConfig, appliance: str, area: str | None = None) -> None:
        super().__init__()
        self._setup(meter, appliance, "energy", area)
        #: The sum so far, not rounded (the state is rounded to the display precision).
        self.total_kwh = 0.0
        self._attr_native_value = 0.0

    def add(self, kwh: float) -> None:
        """Add ``kwh`` to the total; ``publish`` shows it."""
        self.total_kwh += kwh

    def publish(self, attributes: Mapping[str, Any]) -> None:
        """Show the total with ``attributes``."""
        self.set_value(round(self.total_kwh, 6), attributes)

    @property
    def extra_restore_data(self) -> dict[str, Any] | None:
        """The total as it is, not rounded to the state's display precision."""
        return {RESTORE_NATIVE_VALUE: self.total_kwh}

    async def added_to_runtime(self) -> None:
        """Take the stored total back, from its extra data, else from its state."""
        await super().added_to_runtime()
        last = await self.last_state()
        if last is None:
            return  # a new sensor: it counts from 0
        extra = await self.last_extra_data()
        stored: object = last.state
        if extra is not None and RESTORE_NATIVE_VALUE in extra:
            stored = extra[RESTORE_NATIVE_VALUE]
        total = _stored_total(stored)
        if total is None:
            _LOGGER.warning(
                "%s: the stored energy total %r is not a number of kWh >= 0; the total starts "
                "again from 0",
                self.entity_id,
                stored,
            )
            return
        self.total_kwh += total
        self._attr_native_value = round(self.total_kwh, 6)


def _stored_total(stored: object) -> float | None:
    """``stored`` as a total in kWh; None when it is not a finite number >= 0."""
    total = finite_number(stored)
    return total if total is not None and total >= 0 else None


class MeterDisaggregator:
    """Feeds one meter's readings through a model and keeps its appliance sensors current.

    Runs in the runtime process without numpy: the window is a ring of float32 samples, and the
    inference runs in the inference process (``worker.py``), one call per batch of samples,
    answered in order. While that process is down (restarting after a crash) the windows are
    skipped and the power and running sensors are unavailable; the energy keeps its total.
    """

    def __init__(
        self,
        runtime: Runtime,
        meter: MeterConfig,
        model: ModelEntry,
        client: InferenceClient,
        area: str | None = None,
    ) -> None:
        """Disaggregate ``meter`` with ``model``; ``area``: the meter's area when not configured."""
        self.runtime = runtime
        self.meter = meter
        self.model = model
        self.client = client
        manifest = model.manifest
        self.period = manifest.sample_period_s
        self.length = manifest.window_length
        self.resampler = Resampler(self.period, MAX_HOLD_S)
        self.buffer: deque[float] = deque([math.nan] * self.length, maxlen=self.length)
        self._whole_run = 0  # finite samples at the end of the buffer, in a row
        self.buffer_end = 0  # epoch s of the end of the last sample in the buffer
        self.gates = manifest.on_probabilities()
        names = manifest.appliance_names
        where = {a: dict(meter.areas).get(a, meter.area or area) for a in names}
        self.power = {a: NilmPowerSensor(meter, a, where[a]) for a in names}
        self.running = {a: NilmOnSensor(meter, a, where[a]) for a in names}
        self.energy = {a: NilmEnergySensor(meter, a, where[a]) for a in names}
        self.windows = 0  # windows disaggregated, for the benchmark and the tests
        self.skipped = 0  # whole windows not disaggregated (the inference process was down)
        self._unit_warned: str | None = None
        self._removers: list[Callable[[], None]] = []
        self._order = asyncio.Lock()  # batches are answered in the order they were taken
        self._started = 0.0  # epoch s of ``start``
        self._held: list[tuple[float, float | None]] | None = None  # readings while resuming
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def entities(self) -> list[SensorEntity | BinarySensorEntity]:
        """Every sensor of this meter."""
        return [*self.power.values(), *self.running.values(), *self.energy.values()]

    def start(self, history: History | None = None) -> None:
        """Listen to the power sensor, read its current state, and tick every period.

        With ``history`` (the power sensor's recorded readings before now, oldest first), the
        window is first filled from it in a task (``nilm.resume[meter]``, awaited by
        ``drained``); live readings wait for it meanwhile.
        """
        self._started = self._now()
        if history is not None:
            self._held = []
            task = self.runtime.create_task(self._resume(history), f"nilm.resume[{self.meter.key}]")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        self._removers.append(self.runtime.bus.listen(EVENT_STATE_CHANGED, self._changed))
        if self.runtime.has_scheduler:
            self._removers.append(
                self.runtime.scheduler.every(
                    timedelta(seconds=self.period),
                    self._tick,
                    name=f"nilm.tick[{self.meter.key}]",
                )
            )
        state = self.runtime.states.get(self.meter.power_sensor)
        self._reading(state.state if state else None, state.attributes if state else {})

    def stop(self) -> None:
        """Stop listening and ticking; inferences under way are dropped."""
        for remove in self._removers:
            remove()
        self._removers.clear()
        for task in self._pending:
            task.cancel()
        self._window_ready()

    def refuse(self) -> None:
        """Stop for good: the model was refused. The power and running sensors go unavailable."""
        self.stop()
        self._set_unavailable()

    async def drained(self) -> None:
        """Wait until every batch taken so far is answered (tests, benchmarks)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def fill(self, samples: list[float], end: int) -> None:
        """The window becomes ``samples``, ending at epoch ``end`` (benchmarks, tests)."""
        for value in samples[-self.length :]:
            self._push(value)
        self.buffer_end = end

    async def _resume(self, history: History) -> None:
        """Fill the window from the recorded readings before the start, then go live.

        The readings that arrived since the start were held (``_held``); they follow the
        recorded ones, and the window is disaggregated as usual from there, so the sensors are
        back at once after a restart. A last recorded reading older than ``MAX_RESUME_GAP_S``
        (before the start) holds only that long: the time the runtime was down stays missing.
        """
        started = self._started
        readings = await history()  # answers [] when the recorder cannot
        last: float | None = None
        for when, state, attributes in readings:
            if when >= started:
                break
            self._fill(self.resampler.add(when, self._value(state, attributes)))
            last = when
        bridged = last is not None and started - last <= MAX_RESUME_GAP_S
        if last is not None and not bridged:
            self._fill(self.resampler.add(last + MAX_RESUME_GAP_S, None))
        self._report_window(bridged=bridged)
        held, self._held = self._held, None
        for when, value in held or ():
            self._samples(self.resampler.add(when, value))
        self._samples(self.resampler.advance(self._now()))

    def _fill(self, samples: list[tuple[int, float]]) -> None:
        """Put recorded samples in the window without disaggregating them."""
        if samples:
            self.buffer_end = samples[-1][0] + self.period
        for _, value in samples:
            self._push(value)

    def _report_window(self, *, bridged: bool) -> None:
        """Say in the log how far the window is filled and when the sensors will appear.

        ``bridged``: the last recorded reading holds up to the start (a short restart).
        """
        # The start's reading completes the samples from the last recorded one up to now;
        # after a longer stop the time in between is missing and the window starts again.
        gap = max(self._started - self.buffer_end, 0.0) if bridged else 0.0
        whole = min(self._whole_run + int(gap // self.period), self.length) if bridged else 0
        if whole >= self.length:
            _LOGGER.info(
                "NILM %s: the window is filled from the recorder's history of %s",
                self.meter.name,
                self.meter.power_sensor,
            )
            return
        minutes = math.ceil((self.length - whole) * self.period / 60)
        _LOGGER.info(
            "NILM %s: %d of the %d samples of the window are recorded so far (%s); the appliance "
            "sensors are unavailable for about %d more minutes of readings",
            self.meter.name,
            whole,
            self.length,
            self.meter.power_sensor,
            minutes,
        )
        # Said where the panel's user looks too: the sensors are unavailable for a reason.
        ready_at = datetime.fromtimestamp(self._started + minutes * 60, self.runtime.core.tzinfo)
        self.runtime.notifications.create(
            f"{self.meter.name} needs {self.length * self.period / 60:g} minutes of readings of "
            f"{self.meter.power_sensor} before its model can estimate appliances, and "
            f"{whole * self.period // 60:g} minutes are recorded so far: the appliance estimates "
            f"appear at about {ready_at:%H:%M}. This notification then clears itself.",
            title=f"NILM {self.meter.name}: collecting readings",
            notification_id=self._window_notification,
        )

    @property
    def _window_notification(self) -> str:
        """The id of the notification that the window is being filled (``_report_window``)."""
        return f"{WINDOW_NOTIFICATION_PREFIX}{self.meter.key}"

    def _window_ready(self) -> None:
        """Clear the notification that the window is being filled, if it is up."""
        self.runtime.notifications.dismiss(self._window_notification)

    def _now(self) -> float:
        return self.runtime.clock.now().timestamp()

    @callback
    def _changed(self, event: Event[Any]) -> None:
        if event.data.get("entity_id") != self.meter.power_sensor:
            return
        new = event.data.get("new_state")
        self._reading(new.state if new else None, new.attributes if new else {})

    @callback
    def _tick(self, due: datetime) -> None:
        if self._held is None:
            self._samples(self.resampler.advance(due.timestamp()))

    def _reading(self, state: str | None, attributes: Any) -> None:
        value = self._value(state, attributes)
        if self._held is not None:
            self._held.append((self._now(), value))  # after the recorded ones, see _resume
        else:
            self._samples(self.resampler.add(self._now(), value))

    def _value(self, state: str | None, attributes: Any) -> float | None:
        """A reading in W; None when unavailable, not a number, or in an unknown unit."""
        value: float | None = None
        unit = attributes.get("unit_of_measurement", "W") if attributes else "W"
        factor = UNIT_FACTORS.get(unit)
        if factor is None:
            if self._unit_warned != unit:
                _LOGGER.warning(
                    "NILM %s: %s reports in %r, not W, kW or MW; readings ignored",
                    self.meter.name,
                    self.meter.power_sensor,
                    unit,
                )
                self._unit_warned = unit
        elif state is not None:
            try:
                value = float(state) * factor
            except ValueError:
                value = None  # unavailable, unknown
        return value

    def _push(self, value: float) -> None:
        # float32, as the model reads it (and as the child receives it).
        value = array("f", (value,))[0]
        self.buffer.append(value)
        self._whole_run = self._whole_run + 1 if math.isfinite(value) else 0

    def _samples(self, samples: list[tuple[int, float]]) -> None:
        if not samples:
            return
        self.buffer_end = samples[-1][0] + self.period
        windows: list[array[float]] = []
        for _, value in samples:
            self._push(value)
            if self._whole_run >= self.length:
                windows.append(array("f", self.buffer))
        whole_last = self._whole_run >= self.length
        if not whole_last:
            self._set_unavailable()
        if not windows:
            return
        for start in range(0, len(windows), MAX_WINDOWS_PER_CALL):
            batch = windows[start : start + MAX_WINDOWS_PER_CALL]
            last = whole_last and start + len(batch) == len(windows)
            task = self.runtime.create_task(
                self._infer(batch, last, self._predicted_for()), f"nilm.infer[{self.meter.key}]"
            )
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _infer(self, windows: list[array[float]], publish: bool, when: str) -> None:
        """Disaggregate ``windows`` (one call); publish the last one's answer if ``publish``."""
        async with self._order:
            try:
                power, prob = await self.client.predict(self.model, windows)
            except (WorkerUnavailable, WorkerDied, ModelRefused) as err:
                self.skipped += len(windows)
                _LOGGER.warning(
                    "NILM %s: %d windows skipped: %s", self.meter.name, len(windows), err
                )
                self._set_unavailable()
                return
        self.windows += len(windows)
        names = self.model.manifest.appliance_names
        for row in power:
            for index, name in enumerate(names):
                self.energy[name].add(row[index] * self.period / 3.6e6)
        if publish:
            self._publish(power[-1], prob[-1], when)
        self._publish_energy()

    def _predicted_for(self) -> str:
        m = self.model.manifest
        lag = (m.window_length - m.output_index) * m.sample_period_s
        return datetime.fromtimestamp(self.buffer_end - lag, UTC).isoformat()

    def _publish(self, power: list[float], prob: list[float], when: str) -> None:
        self._window_ready()
        for i, name in enumerate(self.model.manifest.appliance_names):
            on = prob[i] > self.gates[name]
            attrs = {
                "confidence": round(prob[i] if on else 1 - prob[i], 3),
                ATTR_PREDICTED_FOR: when,
                "model": self.model.manifest.id,
            }
            self.power[name].set_value(round(power[i], 1), attrs)
            self.running[name].set_value(on, attrs)

    def _publish_energy(self) -> None:
        for name, sensor in self.energy.items():
            sensor.publish(
                {"confidence": self.power[name].confidence, "model": self.model.manifest.id}
            )

    def _set_unavailable(self) -> None:
        for sensor in (*self.power.values(), *self.running.values()):
            sensor.set_value(None)
