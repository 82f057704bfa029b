"""The tariff's sensors: price now, slot type now, next change, next peak, cheapest windows.

Each sensor is written by ``Prices``' boundary timer (and each new forecast), so it steps
exactly when the data does; none polls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core import SensorDeviceClass, SensorEntity

from .const import SlotType
from .window import WindowError, cheapest

if TYPE_CHECKING:
    from .prices import Change, Prices


def _window_label(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest:02d}" if rest else f"{hours}h"


class TariffSensor(SensorEntity):
    """A sensor that follows ``Prices``."""

    def __init__(self, prices: Prices, key: str, name: str) -> None:
        super().__init__()
        self.prices = prices
        self._attr_unique_id = f"tariff_{key}"
        self._attr_name = name

    def on_change(self, _change: Change) -> None:
        """Write the state (called at each boundary and each new forecast)."""
        if self.added:
            self.write_state()

    async def added_to_runtime(self) -> None:
        """Follow the prices."""
        await super().added_to_runtime()
        self.on_remove(self.prices.subscribe(self.on_change))
        self.on_change(self.prices.snapshot())


class PriceSensor(TariffSensor):
    """The price per kWh now."""

    _attr_device_class = SensorDeviceClass.MONETARY
    _attr_icon = "mdi:cash"

    def __init__(self, prices: Prices) -> None:
        super().__init__(prices, "price", "Electricity price")
        self._attr_native_unit_of_measurement = f"{prices.config.currency}/kWh"

    @property
    def native_value(self) -> float | None:
        """The current segment's price; unknown over a hole."""
        segment = self.prices.current()
        return None if segment is None else segment.price

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The slot's bounds, the resolution, and what went wrong reading the data."""
        segment = self.prices.current()
        plan = self.prices.config.plan
        return {
            "slot_start": segment.start.isoformat() if segment else None,
            "slot_end": segment.end.isoformat() if segment else None,
            "resolution_minutes": self.prices.timeline.resolution.total_seconds() / 60,
            "mixed_resolution": self.prices.mixed,
            "problem": self.prices.error,
            "fixed_daily_charge": plan.fixed_daily_charge if plan else None,
            "export_price": plan.export_price if plan else None,
        }


class SlotTypeSensor(TariffSensor):
    """``peak``, ``standard`` or ``off_peak`` now."""

    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [t.value for t in SlotType]
    _attr_icon = "mdi:clock-time-four-outline"

    def __init__(self, prices: Prices) -> None:
        super().__init__(prices, "slot_type", "Tariff slot")

    @property
    def native_value(self) -> str | None:
        """The current segment's type."""
        segment = self.prices.current()
        return None if segment is None else segment.kind.value


class NextChangeSensor(TariffSensor):
    """When the price or slot type next changes."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP

    def __init__(self, prices: Prices) -> None:
        super().__init__(prices, "next_change", "Next price change")

    @property
    def native_value(self) -> datetime | None:
        """The next change."""
        return self.prices.next_change()


class NextPeakSensor(TariffSensor):
    """When the next peak band starts."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP

    def __init__(self, prices: Prices) -> None:
        super().__init__(prices, "next_peak", "Next peak start")

    @property
    def native_value(self) -> datetime | None:
        """The next peak start."""
        return self.prices.next_peak()


class CheapestWindowSensor(TariffSensor):
    """The start of the cheapest window of one duration in the known horizon."""

    _attr_device_class = SensorDeviceClass.TIMESTAMP
    _attr_icon = "mdi:piggy-bank"

    def __init__(self, prices: Prices, duration: timedelta) -> None:
        label = _window_label(duration)
        super().__init__(prices, f"cheapest_{label}", f"Cheapest {label} window")
        self.duration = duration
        self._window: dict[str, Any] | None = None

    def on_change(self, change: Change) -> None:
        """Search again (from now to the end of the known prices)."""
        self._window = None
        end = self.prices.timeline.end
        if end is not None:
            try:
                plan = cheapest(self.prices.timeline, self.duration, change.when, end)
            except WindowError:
                plan = None
            if plan is not None:
                self._window = plan.as_dict()
        super().on_change(change)

    @property
    def native_value(self) -> datetime | None:
        """The window's start."""
        if self._window is None:
            return None
        return datetime.fromisoformat(str(self._window["start"]))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The window's end and average price."""
        window = self._window or {}
        return {
            "end": window.get("end"),
            "average_price": window.get("average_price"),
            "duration_minutes": self.duration.total_seconds() / 60,
        }
