"""Optimizer benchmarks: median solve times of the issue's four problems, and their optima.

    .venv/bin/python bench/optimizer.py            # about half a minute
    .venv/bin/python bench/optimizer.py --runs 5

Each solve is the full service path below the API: input checks, the model, the solve (for
deferrable loads also the second solve that picks the earliest of equal-cost plans), the result
with its reasons. The first solve of each problem (SciPy's import) is not timed.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from figures import emit

from integrations.optimizer import chillers, deferrable, mpc
from integrations.optimizer.chillers_input import parse_chillers
from integrations.optimizer.deferrable_input import parse_deferrable

SLOTS = 48


def home(contiguous: bool, battery: bool = False) -> dict[str, Any]:
    """A day of 30-minute slots: varied prices, PV, a base load, three loads, a 9 kW limit."""
    rnd = random.Random(18)  # noqa: S311 - seeded bench data
    prices = [
        round(0.22 + 0.08 * math.sin(2 * math.pi * (t - 14) / SLOTS) + rnd.uniform(-0.03, 0.03), 4)
        for t in range(SLOTS)
    ]
    pv = [
        round(max(0.0, 5.0 * math.sin(math.pi * (t - 14) / 22)), 3) if 14 <= t <= 36 else 0.0
        for t in range(SLOTS)
    ]
    base = [round(0.35 + 0.4 * (34 <= t <= 44) + rnd.uniform(0, 0.2), 3) for t in range(SLOTS)]
    data: dict[str, Any] = {
        "slot_minutes": 30,
        "import_price": prices,
        "export_price": 0.06,
        "pv_forecast": pv,
        "base_load": base,
        "import_limit": 9.0,
        "loads": [
            {"name": "dishwasher", "power": 2.0, "hours": 2, "contiguous": contiguous},
            {"name": "washer", "power": 1.5, "hours": 1.5, "start_slot": 12, "end_slot": 44,
             "contiguous": contiguous},
            {"name": "ev", "power": 7.4, "hours": 4, "end_slot": 40, "contiguous": contiguous},
        ],
    }  # fmt: skip
    if battery:
        data["loads"][2].update(min_power=4.1, contiguous=False)
        data["battery"] = {
            "capacity": 10.0,
            "charge_power": 3.0,
            "soc_min": 0.1,
            "soc_initial": 0.5,
        }
    return data


def _curve(capacity: float) -> list[list[float]]:
    """The simulator's part-load curve (best at 70 % load, pumps and fan included)."""
    points = []
    for plr in (0.15, 0.4, 0.7, 1.0):
        q = capacity * plr
        kw_per_ton = 0.6 * (0.85 + 0.15 * ((plr - 0.7) / 0.3) ** 2)
        points.append([round(q, 3), round(q / 3.517 * kw_per_ton + 1.5, 4)])
    return points


def plant(min_times: bool = False) -> dict[str, Any]:
    """Eight chillers of four sizes, a summer day's hourly demand, day and night prices."""
    sizes = [1400, 1400, 1000, 1000, 700, 700, 350, 350]
    demand = [
        round(1500 + 2500 * max(0.0, math.sin(math.pi * (h - 6) / 14)) if 6 <= h <= 20 else 900, 1)
        for h in range(24)
    ]
    extra = {"min_on_hours": 2, "min_off_hours": 2} if min_times else {}
    return {
        "demand": demand,
        "price": [0.10 if h < 7 or h > 21 else 0.25 for h in range(24)],
        "chillers": [
            {"name": f"ch{i + 1}", "curve": _curve(c), "start_penalty": 5.0, **extra}
            for i, c in enumerate(sizes)
        ],
    }


def zone() -> dict[str, Any]:
    """A day of 15-minute slots for one office zone (R 4 K/kW, C 8000 kJ/K)."""
    n = 96
    occupied = [8 <= h < 18 for h in range(24)]
    return {
        "slot_minutes": 15,
        "temperature": 18.0,
        "outdoor": [5 + 3 * math.sin(2 * math.pi * (k / 4 - 9) / 24) for k in range(n)],
        "gains": [1.5 if 8 <= k // 4 < 18 else 0.3 for k in range(n)],
        "price": [0.35 if 7 <= k // 4 < 21 else 0.15 for k in range(n)],
        "comfort_low": [21.0 if o else 16.0 for o in occupied],
        "comfort_high": [24.0 if o else 28.0 for o in occupied],
        "zone": {"resistance": 4.0, "capacitance": 8000.0},
        "heating_capacity": 8.0,
        "cooling_capacity": 8.0,
        "heating_cop": 3.0,
        "cooling_cop": 3.0,
    }


def measure(
    name: str, solve: Callable[[], dict[str, Any]], runs: int, what: str, target: str
) -> None:
    """Time ``solve`` ``runs`` times after one untimed solve; emit the time and the optimum."""
    result = solve()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = solve()
        times.append(time.perf_counter() - started)
    note = f"median of {runs}; {what}; status {result['status']}"
    if "method" in result:
        note += f"; method: {result['method']}"
    emit(f"opt_{name}_s", times, "s", f"{note}; target {target}")
    emit(f"opt_{name}_objective", [result["objective"] or 0.0], "", f"the optimum of {what}")


def main() -> None:
    """Print the optimizer's figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    split = parse_deferrable(home(contiguous=False), UTC)
    blocks = parse_deferrable(home(contiguous=True), UTC)
    with_battery = parse_deferrable(home(contiguous=False, battery=True), UTC)
    plant_day = parse_chillers(plant(), UTC)
    plant_timed = parse_chillers(plant(min_times=True), UTC)
    office = mpc.parse_setpoints(zone(), UTC)
    measure(
        "deferrable", lambda: deferrable.solve(split, 30), args.runs,
        "48 slots x 3 on/off loads in any slots, PV, 9 kW import limit", "< 0.1 s (EMHASS 0.245)",
    )  # fmt: skip
    measure(
        "deferrable_contiguous", lambda: deferrable.solve(blocks, 30), args.runs,
        "the same, each load one contiguous block", "< 0.1 s",
    )  # fmt: skip
    measure(
        "deferrable_battery", lambda: deferrable.solve(with_battery, 30), 1,
        "the same split loads with the EV variable 4.1-7.4 kW and a 10 kWh battery",
        "report (beyond the issue's benchmark)",
    )  # fmt: skip
    measure(
        "chillers", lambda: chillers.solve(plant_day, 30), args.runs,
        "8 chillers x 24 h, non-convex part-load curves, start penalties", "< 0.1 s (MILP 1.57)",
    )  # fmt: skip
    measure(
        "chillers_min_times", lambda: chillers.solve(plant_timed, 10), 1,
        "the same with minimum on and off times of 2 h", "report",
    )  # fmt: skip
    measure(
        "mpc", lambda: mpc.solve(office, 30), args.runs,
        "one zone, 24 h of 15-minute slots, occupied/unoccupied bands", "< 0.5 s",
    )  # fmt: skip


if __name__ == "__main__":
    main()
