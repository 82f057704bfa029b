"""Live disaggregation of one meter: its power sensor in, per-appliance sensors out.

The meter's power sensor (W, or kW / MW by its unit) is resampled to the model's period
(``resample.py``) on every state change and on a timer (so a silent sensor still ages into a
gap). Every complete window of ``window_length`` samples is disaggregated; windows that arrive
together (after a restart of the sensor, or a slow loop) are batched into one inference. A
window holding a missing sample gives no prediction: the power and on/off sensors turn
unavailable until the window is whole again, and the energy sensors keep their total.

The prediction describes the sample at the manifest's ``output_index``: the sensors lag the
meter by ``(window_length - output_index) * sample_period_s`` seconds, shown as the
``predicted_for`` attribute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from core import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    Entity,
    Event,
    Runtime,
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
    callback,
)
from core.const import EVENT_STATE_CHANGED

from .const import MAX_HOLD_S
from .registry import LoadedModel
from .resample import Resampler
from .schema import MeterConfig

_LOGGER = logging.getLogger(__name__)

#: Factors from a power sensor's unit to W.
UNIT_FACTORS = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}
#: Most windows in one inference.
_CHUNK = 1024


class _ApplianceEntity(Entity):
    """What the three sensors of one appliance share."""

    _attr_should_poll = False

    def _setup(self, meter: MeterConfig, appliance: str, kind: str) -> None:
        label = appliance.replace("_", " ")
        self._attr_unique_id = f"nilm_{meter.key}_{appliance}_{kind}"
        self._attr_name = f"{meter.name} {label} {kind}"

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

    def __init__(self, meter: MeterConfig, appliance: str) -> None:
        super().__init__()
        self._setup(meter, appliance, "power")
        self._attr_available = False


class NilmOnSensor(_ApplianceEntity, BinarySensorEntity):
    """Whether an appliance runs, by the model's on-probability."""

    _attr_device_class = BinarySensorDeviceClass.RUNNING

    def __init__(self, meter: MeterConfig, appliance: str) -> None:
        super().__init__()
        self._setup(meter, appliance, "running")
        self._attr_available = False

    def _store(self, value: float | bool) -> None:
        self._attr_is_on = bool(value)


class NilmEnergySensor(_ApplianceSensor):
    """An appliance's disaggregated energy (kWh), the sum of its predicted power."""

    _attr_native_unit_of_measurement = "kWh"
    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_suggested_display_precision = 4

    def __init__(self, meter: MeterConfig, appliance: str) -> None:
        super().__init__()
        self._setup(meter, appliance, "energy")
        self._attr_native_value = 0.0


class MeterDisaggregator:
    """Feeds one meter's readings through a model and keeps its appliance sensors current."""

    def __init__(self, runtime: Runtime, meter: MeterConfig, model: LoadedModel) -> None:
        self.runtime = runtime
        self.meter = meter
        self.model = model
        manifest = model.manifest
        self.period = manifest.sample_period_s
        self.resampler = Resampler(self.period, MAX_HOLD_S)
        self.buffer = np.full(manifest.window_length, np.nan, np.float32)
        self.buffer_end = 0  # epoch s of the end of the last sample in the buffer
        self.power = {a: NilmPowerSensor(meter, a) for a in manifest.appliance_names}
        self.running = {a: NilmOnSensor(meter, a) for a in manifest.appliance_names}
        self.energy = {a: NilmEnergySensor(meter, a) for a in manifest.appliance_names}
        self.energy_kwh = dict.fromkeys(manifest.appliance_names, 0.0)
        self.windows = 0  # windows disaggregated, for the benchmark and the tests
        self._unit_warned: str | None = None
        self._removers: list[Callable[[], None]] = []

    @property
    def entities(self) -> list[SensorEntity | BinarySensorEntity]:
        """Every sensor of this meter."""
        return [*self.power.values(), *self.running.values(), *self.energy.values()]

    def start(self) -> None:
        """Listen to the power sensor, read its current state, and tick every period."""
        self._removers.append(self.runtime.bus.listen(EVENT_STATE_CHANGED, self._changed))
        scheduler = self.runtime.scheduler
        if scheduler is not None:
            self._removers.append(
                scheduler.every(
                    timedelta(seconds=self.period),
                    self._tick,
                    name=f"nilm.tick[{self.meter.key}]",
                )
            )
        state = self.runtime.states.get(self.meter.power_sensor)
        self._reading(state.state if state else None, state.attributes if state else {})

    def stop(self) -> None:
        """Stop listening and ticking."""
        for remove in self._removers:
            remove()
        self._removers.clear()

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
        self._samples(self.resampler.advance(due.timestamp()))

    def _reading(self, state: str | None, attributes: Any) -> None:
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
        self._samples(self.resampler.add(self._now(), value))

    def _samples(self, samples: list[tuple[int, float]]) -> None:
        if not samples:
            return
        self.buffer_end = samples[-1][0] + self.period
        values = np.array([v for _, v in samples], np.float32)
        for start in range(0, len(values), _CHUNK):
            self._window_batch(values[start : start + _CHUNK])

    def _window_batch(self, values: np.ndarray) -> None:
        """Disaggregate the windows that end at each of ``values`` (one inference)."""
        length = len(self.buffer)
        extended = np.concatenate([self.buffer, values])
        self.buffer = extended[-length:].copy()
        # Window k (1 ... len(values)) ends at the k-th new value.
        windows = np.lib.stride_tricks.sliding_window_view(extended, length)[1:]
        finite = np.isfinite(extended)
        # A window is whole when no missing sample lies in it: count them with a cumulative sum.
        missing = np.concatenate([[0], np.cumsum(~finite)])
        whole = (missing[length + 1 :] - missing[1 : len(values) + 1]) == 0
        if not whole[-1]:
            self._set_unavailable()
        if not whole.any():
            return
        power, prob = self.model.predict(np.ascontiguousarray(windows[whole]))
        self.windows += int(whole.sum())
        for index, name in enumerate(self.model.manifest.appliance_names):
            self.energy_kwh[name] += float(power[:, index].sum()) * self.period / 3.6e6
        if whole[-1]:
            self._publish(power[-1], prob[-1])
        self._publish_energy()

    def _predicted_for(self) -> str:
        m = self.model.manifest
        lag = (m.window_length - m.output_index) * m.sample_period_s
        return datetime.fromtimestamp(self.buffer_end - lag, UTC).isoformat()

    def _publish(self, power: np.ndarray, prob: np.ndarray) -> None:
        when = self._predicted_for()
        for i, name in enumerate(self.model.manifest.appliance_names):
            on = bool(prob[i] > 0.5)
            attrs = {
                "confidence": round(float(prob[i] if on else 1 - prob[i]), 3),
                "predicted_for": when,
                "model": self.model.manifest.id,
            }
            self.power[name].set_value(round(float(power[i]), 1), attrs)
            self.running[name].set_value(on, attrs)

    def _publish_energy(self) -> None:
        for name, sensor in self.energy.items():
            sensor.set_value(
                round(self.energy_kwh[name], 6),
                {"confidence": self.power[name].confidence, "model": self.model.manifest.id},
            )

    def _set_unavailable(self) -> None:
        for sensor in (*self.power.values(), *self.running.values()):
            sensor.set_value(None)
