"""Runs and their receipts: energy metered per price period, cost, carbon and saving.

A run opens when a schedule (or the autopilot) starts an appliance and closes when it stops it.
While open, the appliance's power (its ``power`` attribute) is integrated exactly: at each of
its state changes and at each price boundary, the energy since the last reading is costed at
the price of the period it was drawn in, so costs come from the energy imported in each price
period. The receipt compares the cost with running at the average price of the moment the user
first asked (``baseline_price``, fixed when the schedule was made).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import Event, callback

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Change, Prices
    from .store import TariffStore

_LOGGER = logging.getLogger(__name__)

#: Draw above which an appliance counts as running, W.
RUNNING_W = 5.0
#: How long metering progress may wait before it is written, s.
METER_SAVE_DELAY = 60.0


def _power(runtime: Runtime, appliance: str) -> float:
    state = runtime.states.get(appliance)
    if state is None:
        return 0.0
    value = state.attributes.get("power")
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


class RunTracker:
    """The open runs, metered; receipts when they close. Use on the loop."""

    def __init__(
        self, runtime: Runtime, prices: Prices, store: TariffStore, carbon_intensity: float
    ) -> None:
        self.runtime = runtime
        self.prices = prices
        self.store = store
        self.carbon_intensity = carbon_intensity
        self._unsubscribe: dict[str, Callable[[], None]] = {}
        self._remove_prices: Callable[[], None] | None = None
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def start(self) -> None:
        """Resume metering the runs that were open at the last stop (from now on)."""
        now = self.runtime.clock.now()
        for key, run in self.store.open_runs.items():
            run["last_time"] = now.isoformat()
            run["last_power"] = _power(self.runtime, run["appliance"])
            self._follow(key, run["appliance"])
        self._remove_prices = self.prices.subscribe(self._on_prices)

    def close_all(self, prefix: str) -> None:
        """Close every open run whose key starts with ``prefix`` (receipts written)."""
        for key in [k for k in self.store.open_runs if k.startswith(prefix)]:
            self.close(key)

    def stop(self) -> None:
        """Stop metering (open runs stay open, in the store)."""
        now = self.runtime.clock.now()
        for key in list(self.store.open_runs):
            self._advance(key, now)
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        self._unsubscribe.clear()
        if self._remove_prices is not None:
            self._remove_prices()
        self.store.save()

    def open(self, key: str, appliance: str, info: dict[str, Any]) -> None:
        """Start metering a run (``info``: source, schedule, planned window, baseline price)."""
        if key in self.store.open_runs:
            return
        now = self.runtime.clock.now()
        self.store.open_runs[key] = {
            **info,
            "appliance": appliance,
            "actual_start": now.isoformat(),
            "last_time": now.isoformat(),
            "last_power": _power(self.runtime, appliance),
            "energy": 0.0,
            "cost": 0.0,
            "priced_energy": 0.0,
        }
        self._follow(key, appliance)
        self.store.save()

    def close(self, key: str, *, receipt: bool = True) -> dict[str, Any] | None:
        """Stop metering a run; returns its receipt (kept in the store unless ``receipt`` is
        false: a day meter's)."""
        run = self.store.open_runs.get(key)
        if run is None:
            return None
        now = self.runtime.clock.now()
        self._advance(key, now)
        del self.store.open_runs[key]
        if (unsubscribe := self._unsubscribe.pop(key, None)) is not None:
            unsubscribe()
        energy = run["energy"]
        baseline = run.get("baseline_price")
        result = {
            "id": key,
            "appliance": run["appliance"],
            "source": run.get("source", "schedule"),
            "schedule": run.get("schedule"),
            "planned_start": run.get("planned_start"),
            "planned_end": run.get("planned_end"),
            "actual_start": run["actual_start"],
            "actual_end": now.isoformat(),
            "energy_kwh": round(energy, 6),
            "cost": round(run["cost"], 6),
            "carbon_kg": round(energy * self.carbon_intensity, 6),
            "baseline_price": baseline,
            "saving": None if baseline is None else round(energy * baseline - run["cost"], 6),
            "unpriced_energy_kwh": round(energy - run["priced_energy"], 6),
            "runtime_s": round(run.get("runtime", 0.0), 3),
            "currency": self.prices.config.currency,
        }
        if receipt:
            self.store.receipts.append(result)
            for listener in list(self.listeners):
                listener(result)
        self.store.save()
        return result

    # -- metering ------------------------------------------------------------------------------

    def _follow(self, key: str, appliance: str) -> None:
        @callback
        def on_state(_event: Event[Any]) -> None:
            self._advance(key, self.runtime.clock.now())
            run = self.store.open_runs.get(key)
            state = self.runtime.states.get(appliance)
            if (
                run is not None
                and run.get("source") == "autopilot"
                and (state is None or state.state == "off")
            ):
                self.close(key)  # an autopilot-resumed run ends when the appliance stops

        self._unsubscribe[key] = self.runtime.states.track([appliance], on_state)

    def _on_prices(self, change: Change) -> None:
        for key in list(self.store.open_runs):
            self._advance(key, change.when)

    def _advance(self, key: str, now: datetime) -> None:
        """Account the energy since the last reading at its period's price; read the power."""
        run = self.store.open_runs.get(key)
        if run is None:
            return
        last = datetime.fromisoformat(run["last_time"])
        if now > last:
            energy = run["last_power"] * (now - last).total_seconds() / 3_600_000.0
            run["energy"] += energy
            if run["last_power"] > RUNNING_W:
                run["runtime"] = run.get("runtime", 0.0) + (now - last).total_seconds()
            # The interval never spans a boundary (each boundary advances every run), so the
            # price at its start holds for all of it.
            segment = self.prices.timeline.at(last)
            if segment is not None:
                run["cost"] += energy * segment.price
                run["priced_energy"] += energy
            run["last_time"] = now.isoformat()
        run["last_power"] = _power(self.runtime, run["appliance"])
        # Metering changes often: written within a minute (and at every stop), not each time.
        self.store.save(delay=METER_SAVE_DELAY)
