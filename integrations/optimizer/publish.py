"""A deferrable-load plan published as sensors, the way EMHASS publishes its own.

``sensor.<prefix>p_deferrable<i>`` holds load ``i``'s planned power in W for the current slot,
with the whole schedule in its ``deferrables_schedule`` attribute; ``sensor.<prefix>optim_status``
says how the solve ended; the grid, PV, load, battery and cost sensors follow EMHASS's names.
The states are refreshed at each slot boundary while the plan lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core.bus import callback
from core.runtime import Runtime
from core.timers import Cancel

_LOGGER = logging.getLogger(__name__)

_STATUS = {
    "optimal": "Optimal",
    "infeasible": "Infeasible",
    "time_limit": "Time limit (best plan so far)",
    "time_limit_no_plan": "Time limit (no plan)",
}


def current_slot(plan: dict[str, Any], now: datetime) -> int | None:
    """The index of the plan's slot that contains ``now`` (0 for a plan without times)."""
    slots = plan.get("slots") or []
    if not slots:
        return None
    if slots[0].get("time") is None:
        return 0
    step = timedelta(minutes=plan["slot_minutes"])
    for slot in slots:
        begin = datetime.fromisoformat(slot["time"])
        if begin <= now < begin + step:
            return int(slot["index"])
    return None


def states_of(
    plan: dict[str, Any], index: int | None, prefix: str
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Entity id -> (state, attributes) for the plan at slot ``index``."""
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    status = plan.get("status", "error")
    result[f"sensor.{prefix}optim_status"] = (
        _STATUS.get(status, status),
        {"friendly_name": "Optimisation status", "message": plan.get("message", "")},
    )
    slots = plan.get("slots") or []
    objective = plan.get("objective")
    result[f"sensor.{prefix}total_cost_fun_value"] = (
        "unknown" if objective is None else f"{objective:g}",
        {"friendly_name": "Plan cost", "problems": plan.get("problems", [])},
    )
    for i, load in enumerate(plan.get("loads") or []):
        key = f"p_deferrable{i}"
        # EMHASS's schedule entries, with the slot's reason added (the panel shows it).
        schedule = [
            {
                "date": s["time"],
                key: round(s["loads"][load["name"]] * 1000),
                "reason": s["reasons"].get(load["name"]),
            }
            for s in slots
        ]
        now = 0 if index is None else round(load["power"][index] * 1000)
        result[f"sensor.{prefix}{key}"] = (
            str(now),
            {
                "friendly_name": f"Deferrable load {i} ({load['name']})",
                "load_name": load["name"],
                "unit_of_measurement": "W",
                "device_class": "power",
                "deferrables_schedule": schedule,
                "reason": None if index is None else slots[index]["reasons"].get(load["name"]),
            },
        )
    series: dict[str, tuple[str, Callable[[dict[str, Any]], float], str | None]] = {
        "p_pv_forecast": ("PV forecast", lambda s: s["pv"] * 1000, "W"),
        "p_load_forecast": ("Load forecast", lambda s: s["base_load"] * 1000, "W"),
        "p_grid_forecast": (
            "Grid forecast",
            lambda s: (s["grid_import"] - s["grid_export"]) * 1000,
            "W",
        ),
        "unit_load_cost": ("Import price", lambda s: s["import_price"], None),
        "unit_prod_price": ("Export price", lambda s: s["export_price"], None),
    }
    if slots and "soc" in slots[0]:
        series["p_batt_forecast"] = (
            "Battery forecast",
            lambda s: (s["battery_discharge"] - s["battery_charge"]) * 1000,
            "W",
        )
        series["soc_batt_forecast"] = ("Battery state of charge", lambda s: s["soc"] * 100, "%")
    for key, (name, value, unit) in series.items():
        forecasts = [{"date": s["time"], key: round(value(s), 4)} for s in slots]
        attributes: dict[str, Any] = {"friendly_name": name, "forecasts": forecasts}
        if unit:
            attributes["unit_of_measurement"] = unit
        state = "unknown" if index is None else f"{round(value(slots[index]), 4):g}"
        result[f"sensor.{prefix}{key}"] = (state, attributes)
    return result


class Publisher:
    """Keeps the published sensors of the latest plan current, slot by slot."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cancel: Cancel | None = None
        self.published: set[str] = set()

    def publish(self, plan: dict[str, Any], prefix: str = "") -> list[str]:
        """Publish ``plan`` now and at each of its slot boundaries; returns the entity ids."""
        self.stop()
        now = self._runtime.clock.now()
        states = states_of(plan, current_slot(plan, now), prefix)
        for entity_id, (state, attributes) in states.items():
            self._runtime.states.set(entity_id, state, attributes)
        self.published = set(states)
        self._schedule_next(plan, prefix, now)
        return sorted(states)

    def _schedule_next(self, plan: dict[str, Any], prefix: str, now: datetime) -> None:
        scheduler = self._runtime.scheduler
        slots = plan.get("slots") or []
        if scheduler is None or not slots or slots[0].get("time") is None:
            return
        later = [datetime.fromisoformat(s["time"]) for s in slots]
        later = [t for t in later if t > now]
        if not later:
            return

        @callback
        def refresh(_when: datetime) -> None:
            self._cancel = None
            self.publish(plan, prefix)

        self._cancel = scheduler.at(later[0], refresh, name="optimizer.publish")

    def stop(self) -> None:
        """Stop refreshing (the sensors keep their last state)."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
