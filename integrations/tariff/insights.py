"""Day accounts per appliance, the nightly aggregation, and the 15-minute notification checks.

Every appliance has a day meter (a ``RunTracker`` run that is not a receipt): its energy is
costed in each price period it was drawn in. At local midnight the day's meters are closed and
new ones opened; at 00:30 the closed day is aggregated per appliance (energy, cost, carbon,
runtime, and the savings of the receipts that ended that day), kept in the store and added to
the ``sensor.<appliance>_tariff_cost`` and ``..._savings`` totals, which the recorder keeps as
long-term statistics for the day, week and month charts.

Every 15 minutes: a peak starting within ``peak_warning`` while non-essential loads run, a draw
above ``spike_factor`` times the usual for that hour (an hourly mean per appliance), a prepaid
balance under its threshold. Failed and missed schedules are told when they happen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from core import SensorDeviceClass, SensorEntity, SensorStateClass, callback
from core.entity_platform import entity_index
from core.state import finite_number

from .const import NOTIFY_INTERVAL
from .runs import RunTracker

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Prices
    from .schema import NotifyConfig
    from .store import TariffStore

_LOGGER = logging.getLogger(__name__)

#: Weight of the newest reading in an hour's usual draw.
USUAL_WEIGHT = 0.2


def _appliances(runtime: Runtime) -> list[Any]:
    return [e for e in entity_index(runtime) if e.domain == "appliance" and hasattr(e, "config")]


class DayTotalSensor(SensorEntity):
    """An appliance's tariff cost or savings, summed over aggregated days."""

    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_device_class = SensorDeviceClass.MONETARY

    def __init__(self, store: TariffStore, appliance: str, name: str, kind: str, unit: str) -> None:
        super().__init__()
        self.store = store
        self.appliance = appliance
        self.kind = kind
        key = appliance.split(".", 1)[1]
        self._attr_unique_id = f"tariff_{key}_{kind}"
        self._attr_name = f"{name} tariff {kind}"
        self._attr_native_unit_of_measurement = unit

    @property
    def native_value(self) -> float:
        """The sum over the stored days (savings may be negative on a day; the total is not
        allowed to fall: only positive days count)."""
        field = "cost" if self.kind == "cost" else "saving"
        return round(
            sum(
                max(d.get(field) or 0.0, 0.0)
                for d in self.store.days
                if d.get("appliance") == self.appliance
            ),
            4,
        )


class Insights:
    """Day meters, aggregation and notifications. Use on the loop."""

    def __init__(
        self,
        runtime: Runtime,
        prices: Prices,
        store: TariffStore,
        runs: RunTracker,
        config: NotifyConfig,
    ) -> None:
        self.runtime = runtime
        self.prices = prices
        self.store = store
        self.runs = runs
        self.config = config
        self.sensors: list[DayTotalSensor] = []
        self._cancels: list[Callable[[], None]] = []
        #: Usual draw per appliance and local hour, W.
        self.usual: dict[str, list[float | None]] = {}

    def start(self) -> None:
        """Open today's meters, arm midnight, 00:30 and the 15-minute checks."""
        scheduler = self.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - the runtime's core stage made it
        self._open_day(self.runtime.clock.now())
        self._cancels += [
            scheduler.daily(time(0, 0), self._on_midnight, name="tariff.day_meters"),
            scheduler.daily(time(0, 30), self._on_aggregate, name="tariff.aggregate"),
            scheduler.every(
                NOTIFY_INTERVAL,
                self._on_check,
                name="tariff.notify",
                start=self.runtime.clock.now() + NOTIFY_INTERVAL,
            ),
        ]

    def stop(self) -> None:
        """Cancel the timers (day meters stay open in the store)."""
        for cancel in self._cancels:
            cancel()
        self._cancels.clear()

    # -- day meters ----------------------------------------------------------------------------

    def _day(self, when: datetime) -> date:
        return when.astimezone(self.runtime.core.tzinfo).date()

    def _open_day(self, when: datetime) -> None:
        day = self._day(when).isoformat()
        for entity in _appliances(self.runtime):
            key = f"day:{entity.entity_id}:{day}"
            if key not in self.store.open_runs:
                self.runs.open(key, entity.entity_id, {"source": "day", "day": day})

    @callback
    def _on_midnight(self, when: datetime) -> None:
        """Close the day meters of days before ``when``'s local day, open the new day's."""
        today = self._day(when).isoformat()
        for key in [k for k in self.store.open_runs if k.startswith("day:")]:
            run = self.store.open_runs[key]
            if run.get("day") == today:
                continue
            closed = self.runs.close(key, receipt=False)
            if closed is not None:
                self.store.pending_days.append({**closed, "day": run.get("day")})
        self._open_day(when)

    @callback
    def _on_aggregate(self, when: datetime) -> None:
        """Aggregate each closed day per appliance, with the savings of its receipts."""
        self._on_midnight(when)  # a midnight missed (a restart at 00:10) is caught up here
        tz = self.runtime.core.tzinfo
        for row in self.store.pending_days:
            day, appliance = row["day"], row["appliance"]
            savings = sum(
                r.get("saving") or 0.0
                for r in self.store.receipts
                if r["appliance"] == appliance
                and datetime.fromisoformat(r["actual_end"]).astimezone(tz).date().isoformat() == day
            )
            self.store.days.append(
                {
                    "day": day,
                    "appliance": appliance,
                    "energy_kwh": row["energy_kwh"],
                    "cost": row["cost"],
                    "carbon_kg": row["carbon_kg"],
                    "runtime_s": row["runtime_s"],
                    "saving": round(savings, 6),
                    "currency": row["currency"],
                }
            )
        self.store.pending_days.clear()
        self.store.last_aggregated = when.isoformat()
        self.store.save()
        for sensor in self.sensors:
            if sensor.added:
                sensor.write_state()

    # -- notifications -------------------------------------------------------------------------

    @callback
    def _on_check(self, when: datetime) -> None:
        self.check(when)

    def check(self, when: datetime) -> list[str]:
        """Run the checks now; returns the notification ids raised."""
        raised = []
        running = [
            e
            for e in _appliances(self.runtime)
            if e.state in ("running", "on") and e.config.tier.value != "essential"
        ]
        peak = self.prices.next_peak()
        if peak is not None and running and when < peak <= when + self.config.peak_warning:
            minutes = round((peak - when).total_seconds() / 60)
            names = ", ".join(e.name or e.entity_id for e in running)
            self._notify(
                "tariff_peak_soon",
                "Peak soon",
                f"The peak starts in {minutes} min while {names} run.",
            )
            raised.append("tariff_peak_soon")
        hour = when.astimezone(self.runtime.core.tzinfo).hour
        for entity in _appliances(self.runtime):
            hours = self.usual.setdefault(entity.entity_id, [None] * 24)
            power = float(entity.power)
            usual = hours[hour]
            if usual is not None and usual > 1.0 and power > self.config.spike_factor * usual:
                notification = f"tariff_spike_{entity.entity_id}"
                self._notify(
                    notification,
                    "Consumption spike",
                    f"{entity.name or entity.entity_id} draws {power:.0f} W, "
                    f"usually {usual:.0f} W at this hour.",
                )
                raised.append(notification)
            hours[hour] = power if usual is None else usual + USUAL_WEIGHT * (power - usual)
        if self.config.prepaid_balance is not None:
            state = self.runtime.states.get(self.config.prepaid_balance)
            balance = finite_number(state.state) if state is not None else None
            if balance is not None and balance < self.config.balance_below:
                self._notify(
                    "tariff_prepaid_low",
                    "Prepaid balance low",
                    f"The prepaid balance is {balance:g}, below {self.config.balance_below:g}.",
                )
                raised.append("tariff_prepaid_low")
        return raised

    def _notify(self, notification_id: str, title: str, message: str) -> None:
        self.runtime.notifications.create(message, title=title, notification_id=notification_id)
