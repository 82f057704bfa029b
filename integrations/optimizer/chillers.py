"""Chiller sequencing and load distribution: which chillers run each hour, and at what load.

The structure decides the method. When nothing ties one hour to the next (no start penalty,
minimum on and off times of one hour), each hour is solved alone: every combination of available
chillers is enumerated and its load split exactly (for convex part-load curves by filling the
cheapest curve segments first; a non-convex curve gets a one-hour MILP). Otherwise one MILP
covers the horizon, with segment binaries for non-convex curves. Cooling delivered is at least
the demand: below its minimum load a chiller false-loads (the surplus is reported).

Imports NumPy and SciPy (through ``milp``): import this module only to solve.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from itertools import combinations
from typing import Any

from .chillers_input import Chiller, ChillerRequest
from .const import EPS, Status
from .deferrable_checks import Problem
from .inputs import slot_label
from .milp import INF, Model

_HOUR = timedelta(hours=1)


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
    if not request.coupled and all(c.convex for c in request.chillers):
        method = "per-hour enumeration"
        hours = [_enumerate_hour(request, h) for h in range(request.hours)]
        status = Status.OPTIMAL
    else:
        method = "milp" if request.coupled else "per-hour milp"
        blocks = [range(request.hours)] if request.coupled else [range(h, h + 1) for h in range(request.hours)]
        hours = []
        status = Status.OPTIMAL
        for block in blocks:
            left = time_limit - (time.perf_counter() - started)
            model, on, load, power, groups = _build(request, block)
            sol = model.solve(time_limit=max(left, 0.001))
            if sol.status is Status.INFEASIBLE:
                found = _diagnose(model, groups, max(left, 0.001))
                return _infeasible(found, time.perf_counter() - started)
            if sol.x is None:
                return {
                    "status": sol.status.value,
                    "message": f"no plan found: {sol.message}",
                    "problems": [],
                    "solve_time_s": time.perf_counter() - started,
                }
            if sol.status is Status.TIME_LIMIT:
                status = Status.TIME_LIMIT
            x = sol.x
            for h in block:
                flags = tuple(bool(round(x[on[i][h]])) for i in range(len(request.chillers)))
                hours.append(
                    _Hour(
                        on=flags,
                        load=tuple(float(x[load[i][h]]) for i in range(len(flags))),
                        power=tuple(float(x[power[i][h]]) for i in range(len(flags))),
                    )
                )
    return _result(request, hours, status, method, time.perf_counter() - started)


def _check(request: ChillerRequest) -> list[Problem]:
    problems = []
    for h, demand in enumerate(request.demand):
        up = [c for c in request.chillers if c.available[h]]
        capacity = sum(c.capacity for c in up)
        if demand > capacity + 1e-9:
            down = [c.name for c in request.chillers if not c.available[h]]
            when = slot_label(request.start, _HOUR, h, request.tz)
            reason = (
                f"demand {demand:g} kW exceeds the available capacity {capacity:g} kW"
                + (f" ({', '.join(down)} unavailable)" if down else "")
            )
            problems.append(
                Problem(
                    requirement=f"cooling demand in hour {h}" + (f" ({when})" if when else ""),
                    reason=reason,
                    slots=(h,),
                )
            )
    return problems


def _enumerate_hour(request: ChillerRequest, h: int) -> _Hour:
    """The exact least-power dispatch of one hour (convex curves): every combination tried."""
    demand = request.demand[h]
    chillers = request.chillers
    n = len(chillers)
    if demand <= EPS:
        return _Hour((False,) * n, (0.0,) * n, (0.0,) * n, 1)
    up = [i for i in range(n) if chillers[i].available[h]]
    # Every curve segment, cheapest per kW first, filled greedily above the minimum loads.
    segments = sorted(
        (slope, i, q1 - q0)
        for i in up
        for slope, (q0, _), (q1, _) in zip(
            chillers[i].slopes, chillers[i].curve, chillers[i].curve[1:], strict=False
        )
    )
    best: tuple[float, tuple[int, ...], list[float]] | None = None
    tried = 0
    for size in range(1, len(up) + 1):
        for subset in combinations(up, size):
            if sum(chillers[i].capacity for i in subset) < demand - 1e-9:
                continue
            tried += 1
            loads = {i: chillers[i].min_load for i in subset}
            power = sum(chillers[i].curve[0][1] for i in subset)
            rest = demand - sum(loads.values())
            members = set(subset)
            for slope, i, width in segments:
                if rest <= 1e-12:
                    break
                if i not in members:
                    continue
                take = min(width, rest)
                loads[i] += take
                power += slope * take
                rest -= take
            if best is None or power < best[0] - 1e-9:
                best = (power, subset, [loads.get(i, 0.0) for i in range(n)])
    assert best is not None  # noqa: S101 - _check made sure the capacity suffices
    _, subset, load = best
    flags = tuple(i in subset for i in range(n))
    power_each = tuple(chillers[i].power(load[i]) if flags[i] else 0.0 for i in range(n))
    return _Hour(flags, tuple(load), power_each, tried)


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
        m.row([(load[i][h], 1.0) for i in range(len(request.chillers))], request.demand[h], INF, name)
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
        m.row([(p, 1.0), (u, -p0), *((f, -s) for f, s in zip(fills, slopes, strict=True))], 0.0, 0.0, "")
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
            window = [(starts[t], 1.0) for t in range(max(block.start, h - chiller.min_on + 1), h + 1)]
            m.row([*window, (u[h], -1.0)], -INF, 0.0, name)
    if chiller.min_off > 1:
        name = f"min_off:{chiller.name}"
        groups[name] = f"{chiller.name} stays off at least {chiller.min_off} h once stopped"
        for h in block:
            window = [(stops[t], 1.0) for t in range(max(block.start, h - chiller.min_off + 1), h + 1)]
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
            reason += f" of {hour.combinations} feasible combinations"
        held = [
            chillers[i].name
            for i in range(len(chillers))
            if hour.on[i] and previous[i] and hour.load[i] <= chillers[i].min_load + EPS
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
        "energy_kwh": round(sum(r["power"] for r in rows), 6),
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

