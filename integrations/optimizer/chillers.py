"""Chiller sequencing and load distribution: which chillers run each hour, and at what load.

The structure decides the method (``chiller_enum`` does the enumeration and the DPs):

* every hour's least power for every set of running chillers is enumerated exactly (each curve
  cut into convex runs; loads split by filling the cheapest segments first);
* nothing ties the hours together: each hour takes its cheapest set;
* start penalties: a dynamic programme over the sets, hour by hour;
* minimum on and off times of up to 2 h: the same DP with the chillers that may not change yet
  in its state;
* longer minimum times: a MILP with one binary per hour and enumerated set;
* plants too large to enumerate: a MILP with segment binaries for non-convex curves.

Cooling delivered is at least the demand: below its minimum load a chiller false-loads (the
surplus is reported).

Imports NumPy and SciPy (through ``milp``): import this module only to solve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from .chiller_enum import (
    MAX_ASSIGNMENTS,
    SetCosts,
    assignments_count,
    set_costs,
    shortest_sequence,
    shortest_sequence_locked,
)
from .chillers_input import Chiller, ChillerRequest
from .const import EPS, Status
from .deferrable_checks import Problem
from .inputs import slot_label
from .milp import INF, Model

_HOUR = timedelta(hours=1)
#: Most chillers for the DP with minimum times (its state grows as 4 ** chillers).
MAX_DP_LOCKED = 8


@dataclass(frozen=True, slots=True)
class _Hour:
    """One hour's dispatch: on flags, loads and electric power per chiller."""

    on: tuple[bool, ...]
    load: tuple[float, ...]
    power: tuple[float, ...]
    combinations: int = 0


def solve(request: ChillerRequest, time_limit: float) -> dict[str, Any]:
    """The least-cost sequence, or why none exists. See README.md for the output."""
    started = time.perf_counter()
    problems = _check(request)
    if problems:
        return _infeasible(problems, time.perf_counter() - started)
    timed = any(c.min_on > 1 or c.min_off > 1 for c in request.chillers)
    short_times = all(c.min_on <= 2 and c.min_off <= 2 for c in request.chillers)
    costs = set_costs(request) if assignments_count(request) <= MAX_ASSIGNMENTS else None
    status = Status.OPTIMAL
    if costs is not None and (
        not timed or (short_times and len(request.chillers) <= MAX_DP_LOCKED)
    ):
        if not request.coupled:
            method = "per-hour enumeration"
        elif not timed:
            method = "per-hour enumeration with dynamic programming over starts"
        else:
            method = "per-hour enumeration with dynamic programming over starts and minimum times"
        path = (
            shortest_sequence_locked(request, costs) if timed else shortest_sequence(request, costs)
        )
        if path is None:
            # Only minimum times can leave no sequence: let the MILP's diagnosis say which.
            model, _, groups = _build_sets(request, costs)
            left = time_limit - (time.perf_counter() - started)
            found = _diagnose(model, groups, max(left, 0.001))
            return _infeasible(found, time.perf_counter() - started)
        hours = _hours_of(request, costs, path)
    elif costs is not None:
        method = "milp over the enumerated sets of running chillers"
        model, chosen, groups = _build_sets(request, costs)
        sol = model.solve(time_limit=time_limit)
        if sol.status is Status.INFEASIBLE:
            left = time_limit - (time.perf_counter() - started)
            found = _diagnose(model, groups, max(left, 0.001))
            return _infeasible(found, time.perf_counter() - started)
        if sol.x is None:
            return _no_plan(sol.status, sol.message, time.perf_counter() - started)
        status = sol.status
        x = sol.x
        path = [_chosen_set(sets, x) for sets in chosen]
        hours = _hours_of(request, costs, path)
    else:
        method = "milp"
        model, on, load, power, groups = _build(request, range(request.hours))
        sol = model.solve(time_limit=time_limit)
        if sol.status is Status.INFEASIBLE:
            left = time_limit - (time.perf_counter() - started)
            found = _diagnose(model, groups, max(left, 0.001))
            return _infeasible(found, time.perf_counter() - started)
        if sol.x is None:
            return _no_plan(sol.status, sol.message, time.perf_counter() - started)
        status = sol.status
        x = sol.x
        hours = [
            _Hour(
                on=tuple(bool(round(x[on[i][h]])) for i in range(len(request.chillers))),
                load=tuple(float(x[load[i][h]]) for i in range(len(request.chillers))),
                power=tuple(float(x[power[i][h]]) for i in range(len(request.chillers))),
            )
            for h in range(request.hours)
        ]
    return _result(request, hours, status, method, time.perf_counter() - started)


def _chosen_set(sets: dict[int, int], x: np.ndarray) -> int:
    """The set of running chillers whose binary is 1."""
    return max(sets, key=lambda s: float(x[sets[s]]))


def _no_plan(status: Status, message: str, seconds: float) -> dict[str, Any]:
    return {
        "status": status.value,
        "message": f"no plan found: {message}",
        "problems": [],
        "objective": None,
        "solve_time_s": seconds,
        "hours": [],
        "chillers": [],
    }


def _hours_of(request: ChillerRequest, costs: SetCosts, path: list[int]) -> list[_Hour]:
    """The dispatch of the chosen set of running chillers in each hour."""
    hours = []
    for h, chosen in enumerate(path):
        flags = tuple(bool(chosen >> i & 1) for i in range(len(request.chillers)))
        load = tuple(float(v) for v in costs.loads[h, chosen])
        hours.append(
            _Hour(
                on=flags,
                load=load,
                power=tuple(
                    c.power(q) if f else 0.0
                    for c, q, f in zip(request.chillers, load, flags, strict=True)
                ),
                combinations=int(np.isfinite(costs.power[h]).sum()),
            )
        )
    return hours


def _build_sets(
    request: ChillerRequest, costs: SetCosts
) -> tuple[Model, list[dict[int, int]], _Groups]:
    """One binary per hour and set of running chillers, costed by the exact enumeration.

    Much tighter than a model of each chiller's curve: the relaxation already knows each hour's
    exact cost of every set, so only the minimum on and off times are left to branch on.
    """
    m = Model()
    groups: dict[str, str] = {}
    n = len(request.chillers)
    chosen: list[dict[int, int]] = []
    u: list[dict[int, int]] = [{} for _ in range(n)]
    for h in range(request.hours):
        allowed = [
            s for s in range(1 << n)
            if all(request.chillers[i].available[h] or not s >> i & 1 for i in range(n))
        ]  # fmt: skip
        y = {s: m.binary() for s in allowed}
        chosen.append(y)
        m.row([(v, 1.0) for v in y.values()], 1.0, 1.0, "")
        short = [v for s, v in y.items() if not np.isfinite(costs.power[h, s])]
        for s, v in y.items():
            if np.isfinite(costs.power[h, s]):
                m.add_cost(v, request.price[h] * float(costs.power[h, s]))
        name = f"demand:{h}"
        groups[name] = f"cooling demand {request.demand[h]:g} kW in hour {h}"
        if short:
            m.row([(v, 1.0) for v in short], 0.0, 0.0, name)
        for i in range(n):
            u[i][h] = m.var(0.0, 1.0)
            m.row([(u[i][h], 1.0), *((v, -1.0) for s, v in y.items() if s >> i & 1)], 0.0, 0.0, "")
    for i, chiller in enumerate(request.chillers):
        _timing_rows(m, chiller, u[i], range(request.hours), groups)
    return m, chosen, _Groups(groups)


def _check(request: ChillerRequest) -> list[Problem]:
    problems = []
    for h, demand in enumerate(request.demand):
        up = [c for c in request.chillers if c.available[h]]
        capacity = sum(c.capacity for c in up)
        if demand > capacity + 1e-9:
            down = [c.name for c in request.chillers if not c.available[h]]
            when = slot_label(request.start, _HOUR, h, request.tz)
            reason = f"demand {demand:g} kW exceeds the available capacity {capacity:g} kW" + (
                f" ({', '.join(down)} unavailable)" if down else ""
            )
            problems.append(
                Problem(
                    requirement=f"cooling demand in hour {h}" + (f" ({when})" if when else ""),
                    reason=reason,
                    slots=(h,),
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class _Groups:
    """Descriptions of the model's constraint groups, for a diagnosis."""

    text: dict[str, str]


def _build(
    request: ChillerRequest, block: range
) -> tuple[Model, list[dict[int, int]], list[dict[int, int]], list[dict[int, int]], _Groups]:
    m = Model()
    groups: dict[str, str] = {}
    on: list[dict[int, int]] = []
    load: list[dict[int, int]] = []
    power: list[dict[int, int]] = []
    for chiller in request.chillers:
        u: dict[int, int] = {}
        q: dict[int, int] = {}
        p: dict[int, int] = {}
        for h in block:
            u[h] = m.var(0.0, 1.0 if chiller.available[h] else 0.0, integer=True)
            q[h] = m.var(0.0, chiller.capacity)
            p[h] = m.var(0.0, chiller.curve[-1][1])
            m.add_cost(p[h], request.price[h])
            _curve_rows(m, chiller, u[h], q[h], p[h])
        on.append(u)
        load.append(q)
        power.append(p)
        _timing_rows(m, chiller, u, block, groups)
    for h in block:
        name = f"demand:{h}"
        groups[name] = f"cooling demand {request.demand[h]:g} kW in hour {h}"
        m.row(
            [(load[i][h], 1.0) for i in range(len(request.chillers))], request.demand[h], INF, name
        )
    return m, on, load, power, _Groups(groups)


def _curve_rows(m: Model, chiller: Chiller, u: int, q: int, p: int) -> None:
    """``q`` and ``p`` on the chiller's curve when ``u`` is 1, both 0 when it is 0."""
    curve = chiller.curve
    slopes = chiller.slopes
    q0, p0 = curve[0]
    if chiller.convex:
        # Segment fills: with rising slopes the cheap segments fill first by themselves.
        fills = [m.var(0.0, curve[k + 1][0] - curve[k][0]) for k in range(len(slopes))]
        for k, f in enumerate(fills):
            m.row([(f, 1.0), (u, -(curve[k + 1][0] - curve[k][0]))], -INF, 0.0, "")
        m.row([(q, 1.0), (u, -q0), *((f, -1.0) for f in fills)], 0.0, 0.0, "")
        m.row(
            [(p, 1.0), (u, -p0), *((f, -s) for f, s in zip(fills, slopes, strict=True))],
            0.0,
            0.0,
            "",
        )
        return
    # Non-convex: one binary per segment says which segment the operating point is on.
    picks = [m.binary() for _ in slopes]
    fills = [m.var(0.0, curve[k + 1][0] - curve[k][0]) for k in range(len(slopes))]
    m.row([(u, 1.0), *((z, -1.0) for z in picks)], 0.0, 0.0, "")
    for k, (z, f) in enumerate(zip(picks, fills, strict=True)):
        m.row([(f, 1.0), (z, -(curve[k + 1][0] - curve[k][0]))], -INF, 0.0, "")
    m.row(
        [(q, 1.0), *((z, -curve[k][0]) for k, z in enumerate(picks)), *((f, -1.0) for f in fills)],
        0.0,
        0.0,
        "",
    )
    m.row(
        [
            (p, 1.0),
            *((z, -curve[k][1]) for k, z in enumerate(picks)),
            *((f, -s) for f, s in zip(fills, slopes, strict=True)),
        ],
        0.0,
        0.0,
        "",
    )


def _timing_rows(
    m: Model, chiller: Chiller, u: dict[int, int], block: range, groups: dict[str, str]
) -> None:
    """Starts (penalised), and the minimum on and off times."""
    if len(block) == 1 and chiller.start_penalty == 0:
        return
    starts: dict[int, int] = {}
    stops: dict[int, int] = {}
    before = 1.0 if chiller.initially_on else 0.0
    for h in block:
        starts[h] = m.var(0.0, 1.0)
        stops[h] = m.var(0.0, 1.0)
        m.add_cost(starts[h], chiller.start_penalty)
        prev = [(u[h - 1], 1.0)] if h - 1 in u else []
        rhs = 0.0 if prev else before
        # start - stop = u[h] - u[h-1], with both at least 0: the least of them are the changes.
        m.row([(starts[h], 1.0), (stops[h], -1.0), (u[h], -1.0), *prev], -rhs, -rhs, "")
    if chiller.min_on > 1:
        name = f"min_on:{chiller.name}"
        groups[name] = f"{chiller.name} runs at least {chiller.min_on} h once started"
        for h in block:
            window = [
                (starts[t], 1.0) for t in range(max(block.start, h - chiller.min_on + 1), h + 1)
            ]
            m.row([*window, (u[h], -1.0)], -INF, 0.0, name)
    if chiller.min_off > 1:
        name = f"min_off:{chiller.name}"
        groups[name] = f"{chiller.name} stays off at least {chiller.min_off} h once stopped"
        for h in block:
            window = [
                (stops[t], 1.0) for t in range(max(block.start, h - chiller.min_off + 1), h + 1)
            ]
            m.row([*window, (u[h], 1.0)], -INF, 1.0, name)


def _diagnose(model: Model, groups: _Groups, time_limit: float) -> list[Problem]:
    """The irreducible set of groups that conflict (a deletion filter, as for deferrable loads)."""
    deadline = time.perf_counter() + time_limit
    names = sorted(groups.text)
    active = list(names)
    zero: dict[int, float] = {}
    for name in names:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        trial = [g for g in active if g != name]
        drop = frozenset(g for g in names if g not in trial)
        if model.solve(cost=zero, drop=drop, time_limit=left).status is Status.INFEASIBLE:
            active = trial
    text = "; ".join(groups.text[g] for g in active)
    return [
        Problem(
            requirement=groups.text[g],
            reason=f"cannot hold together with: {text} (leaving out any one makes a plan possible)",
            slots=(int(g.split(":")[1]),) if g.startswith("demand:") else (),
        )
        for g in active
    ]


def _infeasible(problems: list[Problem], seconds: float) -> dict[str, Any]:
    return {
        "status": Status.INFEASIBLE.value,
        "message": "; ".join(f"{p.requirement}: {p.reason}" for p in problems),
        "problems": [p.as_dict() for p in problems],
        "infeasible_hours": sorted({h for p in problems for h in p.slots}),
        "objective": None,
        "solve_time_s": seconds,
        "hours": [],
        "chillers": [],
    }


def _result(
    request: ChillerRequest, hours: list[_Hour], status: Status, method: str, seconds: float
) -> dict[str, Any]:
    chillers = request.chillers
    rows = []
    energy_cost = 0.0
    starts = [0] * len(chillers)
    previous = tuple(c.initially_on for c in chillers)
    for h, hour in enumerate(hours):
        delivered = sum(hour.load)
        electric = sum(hour.power)
        energy_cost += electric * request.price[h]
        started = [i for i in range(len(chillers)) if hour.on[i] and not previous[i]]
        for i in started:
            starts[i] += 1
        running = [chillers[i].name for i in range(len(chillers)) if hour.on[i]]
        reason = (
            f"{len(running)} running ({', '.join(running)}): the least-cost choice"
            if running
            else "no demand: all off"
        )
        if hour.combinations:
            reason += f" of {hour.combinations} feasible sets of chillers"
        held = [
            chillers[i].name
            for i in range(len(chillers))
            if hour.on[i]
            and previous[i]
            and hour.load[i] <= chillers[i].min_load + EPS
            and delivered > request.demand[h] + EPS
        ]
        if delivered > request.demand[h] + EPS:
            reason += f"; {delivered - request.demand[h]:.3g} kW false-loaded above the demand"
        if held:
            reason += f" (kept running: {', '.join(held)})"
        rows.append(
            {
                "index": h,
                "time": slot_label(request.start, _HOUR, h, request.tz),
                "demand": request.demand[h],
                "delivered": round(delivered, 6),
                "power": round(electric, 6),
                "price": request.price[h],
                "chillers": {
                    chillers[i].name: {
                        "on": hour.on[i],
                        "load": round(hour.load[i], 6),
                        "power": round(hour.power[i], 6),
                        "plr": round(hour.load[i] / chillers[i].capacity, 6),
                    }
                    for i in range(len(chillers))
                },
                "reason": reason,
            }
        )
        previous = hour.on
    penalties = sum(n * c.start_penalty for n, c in zip(starts, chillers, strict=True))
    return {
        "status": status.value,
        "message": "optimal"
        if status is Status.OPTIMAL
        else "the time limit was reached: this is the best plan found so far, not proven optimal",
        "method": method,
        "objective": round(energy_cost + penalties, 6),
        "cost": {"energy": round(energy_cost, 6), "start_penalties": round(penalties, 6)},
        "energy_kwh": round(sum(sum(hour.power) for hour in hours), 6),
        "solve_time_s": seconds,
        "problems": [],
        "hours": rows,
        "chillers": [
            {
                "name": c.name,
                "on_hours": [h for h, hour in enumerate(hours) if hour.on[i]],
                "starts": starts[i],
                "energy_kwh": round(sum(hour.power[i] for hour in hours), 6),
            }
            for i, c in enumerate(chillers)
        ],
    }
