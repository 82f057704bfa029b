"""Chiller sequencing: exact against brute force, structure used, infeasible hours named."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC
from functools import cache
from typing import Any

import pytest

from integrations.optimizer.chillers import solve
from integrations.optimizer.chillers_input import Chiller, parse_chillers
from integrations.optimizer.errors import OptimizerInputError


def sequence(data: dict[str, Any], time_limit: float = 30.0) -> dict[str, Any]:
    return solve(parse_chillers(data, UTC), time_limit)


def brute_force(data: dict[str, Any]) -> float:
    """Least cost over every on/off pattern and every integer load split (integer curves)."""
    request = parse_chillers(data, UTC)
    chillers, n = request.chillers, request.hours

    @cache
    def dispatch(h: int, on: tuple[int, ...]) -> float:
        """Least power for hour h with exactly the chillers ``on`` running."""
        if not on:
            return 0.0 if request.demand[h] == 0 else math.inf
        ranges = [range(int(chillers[i].min_load), int(chillers[i].capacity) + 1) for i in on]
        best = math.inf
        for loads in itertools.product(*ranges):
            if sum(loads) >= request.demand[h]:
                best = min(best, sum(chillers[i].power(q) for i, q in zip(on, loads, strict=True)))
        return best

    best = math.inf
    patterns = list(itertools.product((0, 1), repeat=len(chillers)))
    for plan in itertools.product(patterns, repeat=n):
        if not _timing_ok(plan, chillers):
            continue
        cost = 0.0
        for h, flags in enumerate(plan):
            if any(f and not chillers[i].available[h] for i, f in enumerate(flags)):
                cost = math.inf
                break
            on = tuple(i for i, f in enumerate(flags) if f)
            cost += request.price[h] * dispatch(h, on)
        starts = sum(
            c.start_penalty
            for i, c in enumerate(chillers)
            for h in range(n)
            if plan[h][i] and not (plan[h - 1][i] if h else c.initially_on)
        )
        best = min(best, cost + starts)
    return best


def _timing_ok(plan: tuple[tuple[int, ...], ...], chillers: tuple[Chiller, ...]) -> bool:
    for i, c in enumerate(chillers):
        states = [int(c.initially_on), *(p[i] for p in plan)]
        runs = [(k, len(list(g))) for k, g in itertools.groupby(states)]
        # Interior runs (not the first, which started before the horizon; not the last, cut off).
        for position, (state, length) in enumerate(runs):
            if position == 0 or position == len(runs) - 1:
                continue
            if state == 1 and length < c.min_on:
                return False
            if state == 0 and length < c.min_off:
                return False
    return True


CONVEX = [[2, 1.0], [5, 2.0], [8, 4.0], [10, 6.0]]
NONCONVEX = [[3, 2.0], [6, 2.8], [8, 4.5], [10, 5.0]]


def _data(seed: int, coupled: bool | str, curve: list[list[float]]) -> dict[str, Any]:
    """Three chillers over 3 h (4 h for ``coupled="long"``, with a 3 h minimum on time)."""
    rnd = random.Random(seed)  # noqa: S311 - seeded test data
    hours = 4 if coupled == "long" else 3
    return {
        "demand": [rnd.choice([0, 4, 9, 13, 17]) for _ in range(hours)],
        "price": [rnd.choice([0.1, 0.2]) for _ in range(hours)],
        "chillers": [
            {"name": "a", "curve": curve, "start_penalty": 0.5 if coupled else 0,
             "min_on_hours": (3 if coupled == "long" else 2) if coupled else 1},
            {"name": "b", "curve": [[1, 0.8], [4, 2.0], [7, 3.9]],
             "min_off_hours": 2 if coupled else 1},
            {"name": "c", "curve": [[2, 1.5], [6, 3.0]],
             "available": [True, rnd.random() < 0.5, True] + [True] * (hours - 3),
             "initially_on": bool(coupled)},
        ],
    }  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("coupled", [False, True, "long"])
@pytest.mark.parametrize("curve", [CONVEX, NONCONVEX], ids=["convex", "nonconvex"])
def test_sequence_matches_brute_force(
    seed: int, coupled: bool | str, curve: list[list[float]]
) -> None:
    data = _data(seed, coupled, curve)
    expected = brute_force(data)
    result = sequence(data)

    if math.isinf(expected):
        assert result["status"] == "infeasible"
    else:
        assert result["status"] == "optimal"
        assert result["objective"] == pytest.approx(expected, abs=1e-6)


def test_structure_picks_enumeration_dp_or_milp() -> None:
    assert sequence(_data(0, False, CONVEX))["method"] == "per-hour enumeration"
    assert sequence(_data(0, False, NONCONVEX))["method"] == "per-hour enumeration"
    penalties_only = _data(0, True, CONVEX)
    for chiller in penalties_only["chillers"]:
        chiller.pop("min_on_hours", None)
        chiller.pop("min_off_hours", None)
    assert sequence(penalties_only)["method"] == (
        "per-hour enumeration with dynamic programming over starts"
    )
    assert sequence(_data(0, True, CONVEX))["method"] == (
        "per-hour enumeration with dynamic programming over starts and minimum times"
    )
    longer = _data(0, True, CONVEX)
    longer["chillers"][0]["min_on_hours"] = 3
    assert sequence(longer)["method"] == "milp over the enumerated sets of running chillers"


def test_start_penalty_keeps_a_chiller_running_through_a_dip() -> None:
    chiller = {"name": "a", "curve": [[2, 1.0], [10, 5.0]], "start_penalty": 10.0}
    result = sequence({"demand": [8, 0, 8], "price": 1.0, "chillers": [chiller]})

    assert result["chillers"][0]["on_hours"] == [0, 1, 2]
    assert result["chillers"][0]["starts"] == 1
    assert "false-loaded" in result["hours"][1]["reason"]


def test_demand_above_capacity_names_the_hours() -> None:
    result = sequence(
        {"demand": [10, 30, 10, 25], "chillers": [
            {"name": "a", "capacity": 12, "cop": 4, "min_part_load": 0.2},
            {"name": "b", "capacity": 12, "cop": 4, "available": [True, True, True, False]}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    assert result["infeasible_hours"] == [1, 3]
    assert "demand 25 kW exceeds the available capacity 12 kW (b unavailable)" in result["message"]


def test_minimum_on_time_conflict_is_diagnosed() -> None:
    # b is needed in hour 1, is available in hours 1 and 3 only, must run 2 h once started.
    result = sequence(
        {"demand": [5, 15, 5, 5], "chillers": [
            {"name": "a", "capacity": 10, "cop": 4},
            {"name": "b", "capacity": 10, "cop": 4, "min_on_hours": 2,
             "available": [False, True, False, True]}]}
    )  # fmt: skip

    assert result["status"] == "infeasible"
    requirements = {p["requirement"] for p in result["problems"]}
    assert requirements == {
        "b runs at least 2 h once started",
        "cooling demand 15 kW in hour 1",
    }
    assert result["infeasible_hours"] == [1]


@pytest.mark.parametrize(
    ("curve", "field", "words"),
    [
        ([[2, 1.0], [5, 0.9]], "chillers.0.curve.1", "the curve is not increasing"),
        ([[2, 1.0], [5, 1.0]], "chillers.0.curve.1", "the curve is not increasing"),
        ([[5, 1.0], [2, 2.0]], "chillers.0.curve.1", "list the points by increasing cooling"),
        ([[5, 1.0]], "chillers.0.curve", "expected 2 to"),
        ([[2, math.nan], [5, 2.0]], "chillers.0.curve.0.1", "finite"),
    ],
)
def test_bad_curve_is_refused_naming_the_point(curve: list[Any], field: str, words: str) -> None:
    with pytest.raises(OptimizerInputError) as caught:
        parse_chillers({"demand": [1.0], "chillers": [{"name": "a", "curve": curve}]}, UTC)

    assert caught.value.field == field
    assert words in caught.value.message


def test_availability_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(OptimizerInputError) as caught:
        parse_chillers(
            {
                "demand": [1.0, 2.0],
                "chillers": [{"name": "a", "capacity": 5, "cop": 4, "available": [True]}],
            },
            UTC,
        )

    assert caught.value.field == "chillers.0.available"


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("coupled", [False, True])
def test_plants_too_large_to_enumerate_use_the_segment_milp_and_match_brute_force(
    seed: int, coupled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import integrations.optimizer.chillers as module

    monkeypatch.setattr(module, "MAX_ASSIGNMENTS", 0)
    data = _data(seed, coupled, NONCONVEX)
    expected = brute_force(data)
    result = sequence(data)

    assert result["method"] == "milp"
    if math.isinf(expected):
        assert result["status"] == "infeasible"
    else:
        assert result["objective"] == pytest.approx(expected, abs=1e-6)
