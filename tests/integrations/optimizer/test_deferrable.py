"""The deferrable-load planner: exact optima, the earliest of equal plans, reasons, refusals."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from integrations.optimizer.deferrable import solve
from integrations.optimizer.deferrable_input import parse_deferrable
from integrations.optimizer.errors import OptimizerInputError


def plan(data: dict[str, Any], time_limit: float = 30.0) -> dict[str, Any]:
    return solve(parse_deferrable(data, UTC), time_limit)


def brute_force(data: dict[str, Any]) -> tuple[float, float]:
    """Least cost and, among least-cost plans, least slot-weighted energy; on/off loads only."""
    n = len(data["import_price"])
    dt = data.get("slot_minutes", 30) / 60
    export_price = data.get("export_price", [0.0] * n)
    pv = data.get("pv_forecast", [0.0] * n)
    base = data.get("base_load", [0.0] * n)
    limit = data.get("import_limit", math.inf)
    choices = []
    for load in data["loads"]:
        need = round(load["hours"] / dt)
        window = range(load.get("start_slot", 0), load.get("end_slot", n))
        if load.get("contiguous", True):
            options = [tuple(range(s, s + need)) for s in window if s + need <= window.stop]
        else:
            options = list(itertools.combinations(window, need))
        choices.append([(load["power"], o) for o in options])
    best: tuple[float, float] = (math.inf, math.inf)
    for combo in itertools.product(*choices):
        power = [0.0] * n
        for p, slots in combo:
            for t in slots:
                power[t] += p
        cost = 0.0
        ok = True
        for t in range(n):
            net = base[t] + power[t] - pv[t]
            if net > limit + 1e-9:
                ok = False
                break
            cost += max(net, 0) * data["import_price"][t] * dt - max(-net, 0) * export_price[t] * dt
        if not ok:
            continue
        lateness = sum(p * (t + 1) * dt for p, slots in combo for t in slots)
        key = (round(cost, 9), round(lateness, 9))
        best = min(best, key)
    return best


def lateness_of(result: dict[str, Any], dt: float) -> float:
    return sum(p * (t + 1) * dt for load in result["loads"] for t, p in enumerate(load["power"]))


@pytest.mark.parametrize("seed", range(8))
def test_plan_matches_brute_force_and_is_earliest_among_equal_costs(seed: int) -> None:
    rnd = random.Random(seed)  # noqa: S311 - seeded test data
    n = 8
    data = {
        "slot_minutes": 60,
        # Few distinct prices, so ties between plans are common.
        "import_price": [rnd.choice([0.1, 0.2, 0.3]) for _ in range(n)],
        "export_price": [0.05] * n,
        "pv_forecast": [rnd.choice([0.0, 0.0, 1.5, 3.0]) for _ in range(n)],
        "base_load": [0.5] * n,
        "import_limit": 4.0,
        "loads": [
            {"name": "a", "power": 2.0, "hours": 2, "contiguous": seed % 2 == 0},
            {"name": "b", "power": 1.5, "hours": 3, "start_slot": 1, "end_slot": 7,
             "contiguous": seed % 3 != 0},
        ],
    }  # fmt: skip
    cost, lateness = brute_force(data)
    result = plan(data)

    assert result["status"] == "optimal"
    assert result["objective"] == pytest.approx(cost, abs=1e-6)
    assert lateness_of(result, 1.0) == pytest.approx(lateness, abs=1e-4)


def test_contiguous_load_runs_as_one_block_in_the_cheapest_window() -> None:
    prices = [0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.3]
    result = plan(
        {"slot_minutes": 60, "import_price": prices,
         "loads": [{"name": "dishwasher", "power": 2.0, "hours": 3}]}
    )  # fmt: skip

    assert result["loads"][0]["slots"] == [4, 5, 6]
    assert "part of its one block (slots 4-6)" in result["slots"][5]["reasons"]["dishwasher"]
    assert result["objective"] == pytest.approx(2.0 * 0.3)


def test_split_load_takes_the_cheapest_slots_and_the_earliest_of_equal_ones() -> None:
    prices = [0.3, 0.1, 0.2, 0.1, 0.1, 0.3]
    result = plan(
        {"slot_minutes": 60, "import_price": prices,
         "loads": [{"name": "pump", "power": 1.0, "hours": 2, "contiguous": False}]}
    )  # fmt: skip

    assert result["loads"][0]["slots"] == [1, 3]
    assert result["tie_break"] == "earliest of the equal-cost plans"
    reason = result["slots"][3]["reasons"]["pump"]
    assert "lowest of 6" in reason
    assert "earliest of equal-price slots (also slot 4)" in reason


def test_variable_load_stays_between_minimum_and_nominal_power() -> None:
    prices = [0.1, 0.1, 0.3, 0.3]
    result = plan(
        {"slot_minutes": 60, "import_price": prices, "base_load": 1.0, "import_limit": 6.0,
         "loads": [{"name": "ev", "power": 7.4, "min_power": 4.1, "energy": 14.0,
                    "contiguous": False}]}
    )  # fmt: skip

    power = result["loads"][0]["power"]
    assert sum(power) == pytest.approx(14.0)
    assert all(p == 0 or 4.1 - 1e-6 <= p <= 7.4 + 1e-6 for p in power)
    # 9.9 kWh in the cheap slots, 4.1 kWh (the minimum) in the first dear one; earliest first.
    assert power == pytest.approx([5.0, 4.9, 4.1, 0.0])
    assert "import limit 6 kW binding" in result["slots"][0]["reasons"]["ev"]


def test_pv_only_load_runs_on_surplus_only() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1, 0.3, 0.3, 0.1], "export_price": 0.05,
         "pv_forecast": [0, 3.0, 3.0, 0], "base_load": 0.5,
         "loads": [{"name": "pool", "power": 2.0, "hours": 2, "pv_only": True}]}
    )  # fmt: skip

    assert result["loads"][0]["slots"] == [1, 2]
    assert all(s["grid_import"] <= 1e-6 for s in result["slots"][1:3])
    assert "PV surplus covers it" in result["slots"][1]["reasons"]["pool"]


def test_optional_load_runs_only_where_it_pays() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.3] * 4, "export_price": 0.05,
         "pv_forecast": [0, 2.0, 0, 0],
         "loads": [{"name": "boiler", "power": 2.0, "hours": 3, "optional": True,
                    "value": 0.1, "contiguous": False}]}
    )  # fmt: skip

    assert result["loads"][0]["slots"] == [1]


def test_battery_charges_cheap_and_discharges_dear() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1, 0.4], "base_load": [0.0, 2.0],
         "battery": {"capacity": 4.0, "charge_power": 2.0, "charge_efficiency": 1.0,
                     "discharge_efficiency": 1.0, "soc_min": 0.0, "soc_max": 1.0,
                     "soc_initial": 0.0, "soc_final": 0.0}}
    )  # fmt: skip

    assert result["slots"][0]["battery_charge"] == pytest.approx(2.0)
    assert result["slots"][1]["battery_discharge"] == pytest.approx(2.0)
    assert result["objective"] == pytest.approx(0.2)


def test_demand_charge_spreads_the_load() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1, 0.1, 0.1, 0.1], "demand_charge": 1.0,
         "loads": [{"name": "ev", "power": 4.0, "min_power": 0.0, "energy": 8.0,
                    "contiguous": False}]}
    )  # fmt: skip

    assert result["cost"]["peak_import"] == pytest.approx(2.0)
    assert result["objective"] == pytest.approx(0.8 + 2.0)


def test_dst_day_slot_times_follow_the_clock_change() -> None:
    tz = ZoneInfo("Europe/Amsterdam")
    # 2026-03-29: clocks go from 02:00 to 03:00; 46 half-hour slots make the local day.
    data = {
        "slot_minutes": 30, "start": "2026-03-29T00:00:00+01:00", "time_zone": "Europe/Amsterdam",
        "import_price": [0.2] * 46,
        "loads": [{"name": "heater", "power": 1.0, "hours": 1,
                   "start_time": "2026-03-29T03:00:00", "end_time": "2026-03-29T04:00:00"}],
    }  # fmt: skip
    request = parse_deferrable(data, tz)
    result = solve(request, 30.0)

    assert request.loads[0].start == 4  # 00:00, 00:30, 01:00, 01:30, then 03:00
    assert result["slots"][4]["time"] == "2026-03-29T03:00:00+02:00"
    assert result["slots"][3]["time"] == "2026-03-29T01:30:00+01:00"
    assert result["slots"][-1]["time"] == "2026-03-29T23:30:00+02:00"
    assert result["loads"][0]["slots"] == [4, 5]


# --- infeasible requests, explained --------------------------------------------------------------


def test_window_too_short_is_explained() -> None:
    result = plan(
        {"slot_minutes": 30, "import_price": [0.1] * 12,
         "loads": [{"name": "dishwasher", "power": 2.0, "hours": 2, "start_slot": 4,
                    "end_slot": 7}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    assert result["problems"][0]["load"] == "dishwasher"
    assert "dishwasher needs 2 h inside a 1.5 h window (slots 4-6)" in result["message"]


def test_import_limit_below_minimum_power_names_the_slots() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1] * 6, "base_load": 0.0, "import_limit": 3.0,
         "pv_forecast": [0, 0, 0, 0, 2.0, 2.0],
         "loads": [{"name": "EV", "power": 7.4, "min_power": 4.1, "energy": 12.0,
                    "contiguous": False}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    problem = result["problems"][0]
    assert problem["slots"] == [0, 1, 2, 3]
    assert (
        "import limit 3 kW (with PV and battery) is below EV's minimum 4.1 kW in slots 0-3"
        in (problem["reason"])
    )


def test_base_load_over_the_import_limit_is_explained() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1] * 3, "base_load": [1.0, 5.0, 1.0],
         "import_limit": 3.0}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    assert result["problems"][0]["slots"] == [1]


def test_pv_only_load_without_enough_surplus_is_explained() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1] * 4, "pv_forecast": [0, 3.0, 0, 0],
         "loads": [{"name": "pool", "power": 2.0, "hours": 2, "pv_only": True}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    assert "runs on surplus PV only" in result["problems"][0]["reason"]


def test_unreachable_final_state_of_charge_is_explained() -> None:
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1] * 2,
         "battery": {"capacity": 10.0, "charge_power": 1.0, "soc_initial": 0.1,
                     "soc_final": 0.9}}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    assert result["problems"][0]["requirement"] == "battery final state of charge 90%"


def test_conflicting_requirements_are_found_by_dropping_groups() -> None:
    # Each load fits under the limit alone; together they do not: only the solver sees it.
    result = plan(
        {"slot_minutes": 60, "import_price": [0.1] * 3, "import_limit": 3.0,
         "loads": [{"name": "a", "power": 2.0, "hours": 2},
                   {"name": "b", "power": 2.0, "hours": 2},
                   {"name": "c", "power": 0.5, "hours": 1, "start_slot": 0, "end_slot": 3}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    requirements = {p["requirement"] for p in result["problems"]}
    assert requirements == {
        "the import limit of 3 kW",
        "a needs 2 h (2 slots at 2 kW)",
        "b needs 2 h (2 slots at 2 kW)",
    }
    assert "leaving out any one of these makes a plan possible" in result["message"]


def test_time_limit_returns_best_plan_marked_as_such() -> None:
    rnd = random.Random(3)  # noqa: S311 - seeded test data
    n = 96
    data = {
        "slot_minutes": 15,
        "import_price": [round(rnd.uniform(0.1, 0.4), 3) for _ in range(n)],
        "base_load": 0.3, "import_limit": 9.0,
        "battery": {"capacity": 10, "charge_power": 3, "soc_initial": 0.5},
        "loads": [{"name": f"l{i}", "power": 7.4, "min_power": 1.5 + i * 0.3, "energy": 9 + i,
                   "contiguous": False} for i in range(8)],
    }  # fmt: skip
    result = plan(data, time_limit=0.05)

    assert result["status"] in ("time_limit", "time_limit_no_plan")
    if result["status"] == "time_limit":
        assert "best plan found so far" in result["message"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"pv_forecast": [1.0] * 5}, "pv_forecast", "has 5 values, the horizon has 4 slots"),
        ({"import_price": [0.1, math.nan, 0.1, 0.1]}, "import_price.1", "finite"),
        ({"loads": [{"name": "x", "power": 1, "hours": -1}]}, "loads.0.hours", "at least 0"),
        (
            {"loads": [{"name": "x", "power": 1, "hours": 1, "end_slot": 9}]},
            "loads.0.end_slot",
            "outside the horizon",
        ),
        (
            {"loads": [{"name": "x", "power": 1, "hours": 1, "start_slot": 3, "end_slot": 2}]},
            "loads.0.end_slot",
            "at or before it starts",
        ),
        (
            {"loads": [{"name": "x", "power": 1, "min_power": 2, "hours": 1}]},
            "loads.0.min_power",
            "above the nominal",
        ),
        (
            {"battery": {"capacity": 5, "charge_power": 1, "soc_min": 0.8, "soc_max": 0.2}},
            "battery.soc_min",
            "above soc_max",
        ),
        (
            {"battery": {"capacity": 5, "charge_power": 1, "soc_min": 0.2, "soc_initial": 0.1}},
            "battery.soc_initial",
            "outside the battery's bounds",
        ),
        ({"slot_minutes": 7}, "slot_minutes", "must be one of"),
        ({"loads": [{"name": "x", "power": 1, "hour": 1}]}, "loads.0.hour", "unknown key"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    data = {"slot_minutes": 60, "import_price": [0.1] * 4, **change}

    with pytest.raises(OptimizerInputError) as caught:
        parse_deferrable(data, UTC)

    assert caught.value.field == field
    assert words in caught.value.message


def test_fall_back_day_has_fifty_half_hours_with_both_two_oclocks() -> None:
    # 2026-10-25: clocks go from 03:00 back to 02:00; the local day has 50 half-hour slots.
    request = parse_deferrable(
        {"slot_minutes": 30, "start": "2026-10-25T00:00:00+02:00",
         "time_zone": "Europe/Amsterdam", "import_price": [0.2] * 50,
         "loads": [{"name": "heater", "power": 1.0, "hours": 1,
                    "start_time": "2026-10-25T02:00:00+01:00"}]},
        UTC,
    )  # fmt: skip
    result = solve(request, 30.0)

    times = [slot["time"] for slot in result["slots"]]
    assert times[4] == "2026-10-25T02:00:00+02:00"
    assert times[6] == "2026-10-25T02:00:00+01:00"
    assert times[-1] == "2026-10-25T23:30:00+01:00"
    assert result["loads"][0]["slots"] == [6, 7]


@pytest.mark.parametrize("seed", range(3))
def test_large_instances_match_their_known_optima(seed: int) -> None:
    # One load alone without PV: a block's optimum is the cheapest window, a split load's the
    # cheapest slots; 96 quarter-hours are far beyond brute force.
    rnd = random.Random(seed)  # noqa: S311 - seeded test data
    prices = [round(rnd.uniform(0.05, 0.5), 4) for _ in range(96)]
    dt, power, slots = 0.25, 3.0, 13
    block = min(sum(prices[s : s + slots]) for s in range(96 - slots + 1)) * power * dt
    split = sum(sorted(prices)[:slots]) * power * dt
    for contiguous, expected in ((True, block), (False, split)):
        result = plan(
            {"slot_minutes": 15, "import_price": prices,
             "loads": [{"name": "x", "power": power, "slots": slots,
                        "contiguous": contiguous}]}
        )  # fmt: skip
        assert result["objective"] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_set_model_gives_the_general_models_optimum_and_earliest_plan(seed: int) -> None:
    # On/off loads without a battery take the set model (relaxations proven integral); the
    # general MILP with its tie-breaking second solve must agree on cost and lateness.
    rnd = random.Random(100 + seed)  # noqa: S311 - seeded test data
    n = 48
    data: dict[str, Any] = {
        "slot_minutes": 30,
        "import_price": [rnd.choice([0.12, 0.18, 0.25, 0.3]) for _ in range(n)],
        "export_price": [rnd.choice([0.0, 0.05, 0.1]) for _ in range(n)],
        "pv_forecast": [round(max(0.0, 5 * math.sin(math.pi * (t - 14) / 22)), 2)
                        if 14 <= t <= 36 else 0.0 for t in range(n)],
        "base_load": [round(rnd.uniform(0.2, 0.8), 2) for _ in range(n)],
        "import_limit": 9.0,
        "export_limit": 3.0 if seed % 2 else None,
        "loads": [
            {"name": "dishwasher", "power": 2.0, "hours": 2, "contiguous": seed % 3 != 0},
            {"name": "washer", "power": 1.5, "hours": 1.5, "start_slot": 12, "end_slot": 44,
             "contiguous": seed % 2 == 0},
            {"name": "ev", "power": 7.4, "hours": 4, "end_slot": 40, "contiguous": seed < 3},
            {"name": "pool", "power": 1.0, "hours": 3, "pv_only": True, "contiguous": False},
        ],
    }  # fmt: skip
    request = parse_deferrable(data, UTC)
    fast = solve(request, 30.0)
    general = solve(request, 30.0, sets=False)

    assert fast["method"].startswith("per-slot set model")
    assert general["method"].startswith("milp")
    assert fast["status"] == general["status"] == "optimal"
    assert fast["objective"] == pytest.approx(general["objective"], abs=1e-6)
    # The MILP's values are within HiGHS's integrality tolerance (1e-6) of whole; the set
    # model's plans are whole.
    assert lateness_of(fast, 0.5) == pytest.approx(lateness_of(general, 0.5), abs=1e-4)
    for slot in fast["slots"]:
        assert slot["grid_import"] <= 9.0 + 1e-9
        assert slot["loads"]["pool"] <= max(slot["pv"] - slot["base_load"], 0.0) + 1e-9


def test_battery_or_variable_loads_use_the_general_model() -> None:
    data = {
        "slot_minutes": 60, "import_price": [0.3, 0.1, 0.2, 0.1],
        "loads": [{"name": "ev", "power": 7.4, "min_power": 4.1, "energy": 9,
                   "contiguous": False}],
    }  # fmt: skip
    result = plan(data)

    assert result["status"] == "optimal"
    assert result["method"].startswith("milp")
    assert result["loads"][0]["slots"] == [1, 3]
