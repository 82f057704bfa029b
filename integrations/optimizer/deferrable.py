"""Deferrable loads, PV and a battery against prices: the exact least-cost plan, explained.

The plan is the optimum of a mixed-integer programme solved by HiGHS through SciPy's ``milp``
with a relative gap of 0. Among plans of equal cost the earliest is chosen: a second solve keeps
the cost at the optimum (within 1e-9 of it, relative) and minimises each load's slot-weighted
energy. On/off loads without a battery or demand charge are first tried on a tighter model
(``deferrable_slots``) whose linear relaxations usually prove both optima at once, without
branching. Imports NumPy and SciPy (through ``milp``): import this module only to solve.

Formulation (per slot ``t`` of ``dt`` hours): grid import ``g``, export ``x``, curtailed PV
``k``, battery charge ``c`` and discharge ``d``, state of charge ``e``, each load's power ``p``:
``g - x + d - c - k - sum(p) = base - pv``. An on/off contiguous load is one start among its
feasible starts (a tight formulation: the block's slots follow from the start); an on/off split
load is one binary per slot; a variable load is semi-continuous (0, or min..nominal) with a
binary per slot, contiguous ones with at most one start.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from . import deferrable_slots
from .const import EPS, Status
from .deferrable_checks import Problem, check, requirement_text
from .deferrable_input import DeferrableRequest, Load
from .inputs import runs, slot_label, span
from .milp import INF, Model, Solution

#: Relative slack on the optimal cost while the earliest plan is searched for.
TIE_TOLERANCE = 1e-9
#: How a plan was proven optimal (the result's ``method``).
METHOD_SETS = "per-slot set model: both linear relaxations integral, so exact without branching"
METHOD_MILP = "milp (HiGHS, gap 0), then a second solve for the earliest of equal-cost plans"


@dataclass(slots=True)
class _Vars:
    """Where each quantity sits in the model."""

    g: list[int] = field(default_factory=list)
    x: list[int] = field(default_factory=list)
    k: list[int] = field(default_factory=list)
    c: list[int] = field(default_factory=list)
    d: list[int] = field(default_factory=list)
    e: list[int] = field(default_factory=list)
    peak: int | None = None
    p: list[dict[int, int]] = field(default_factory=list)
    on: list[dict[int, int]] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)


def build(request: DeferrableRequest) -> tuple[Model, _Vars]:
    """The model of ``request`` and where its variables are."""
    m = Model()
    v = _Vars()
    n, dt = request.slots, request.dt
    battery = request.battery
    any_negative = any(p < 0 for p in request.import_price + request.export_price)
    arbitrage = any(e > i for e, i in zip(request.export_price, request.import_price, strict=True))
    for t in range(n):
        v.g.append(m.var())
        v.x.append(m.var())
        v.k.append(m.var(0.0, request.pv[t]))
        m.add_cost(v.g[t], request.import_price[t] * dt)
        m.add_cost(v.x[t], -request.export_price[t] * dt)
    if request.import_limit is not None:
        v.groups["import_limit"] = f"the import limit of {request.import_limit:g} kW"
        for t in range(n):
            m.row([(v.g[t], 1.0)], -1.0, request.import_limit, "import_limit")
    if request.export_limit is not None:
        v.groups["export_limit"] = f"the export limit of {request.export_limit:g} kW"
        for t in range(n):
            m.row([(v.x[t], 1.0)], -1.0, request.export_limit, "export_limit")
    if arbitrage:
        # Exporting what is imported in the same slot would be paid: forbid doing both.
        for t in range(n):
            b = m.binary()
            m.row([(v.g[t], 1.0), (b, -1e4)], -INF, 0.0, "")
            m.row([(v.x[t], 1.0), (b, 1e4)], -INF, 1e4, "")
    if request.demand_charge > 0:
        v.peak = m.var()
        m.add_cost(v.peak, request.demand_charge)
        for t in range(n):
            m.row([(v.peak, 1.0), (v.g[t], -1.0)], 0.0, float("inf"), "")
    if battery is not None:
        cap = battery.capacity
        v.c = [m.var(0.0, battery.charge_power) for _ in range(n)]
        v.d = [m.var(0.0, battery.discharge_power) for _ in range(n)]
        v.e = [m.var(battery.soc_min * cap, battery.soc_max * cap) for _ in range(n + 1)]
        m.fix(v.e[0], battery.soc_initial * cap)
        for t in range(n):
            m.row(
                [
                    (v.e[t + 1], 1.0),
                    (v.e[t], -1.0),
                    (v.c[t], -battery.charge_efficiency * dt),
                    (v.d[t], dt / battery.discharge_efficiency),
                ],
                0.0,
                0.0,
                "",
            )
            if any_negative:
                # With negative prices charging and discharging at once would burn energy.
                b = m.binary()
                m.row([(v.c[t], 1.0), (b, -battery.charge_power)], -INF, 0.0, "")
                m.row(
                    [(v.d[t], 1.0), (b, battery.discharge_power)], -INF, battery.discharge_power, ""
                )
        v.groups["battery_final"] = f"the battery's final state of charge {battery.soc_final:.0%}"
        m.row([(v.e[n], 1.0)], battery.soc_final * cap - 1e-9, float("inf"), "battery_final")
    for load in request.loads:
        _add_load(m, v, load, request)
    pv_only = [i for i, load in enumerate(request.loads) if load.pv_only]
    if pv_only:
        names = ", ".join(request.loads[i].name for i in pv_only)
        v.groups["pv_only"] = f"{names} run on surplus PV only"
        for t in range(n):
            surplus = max(request.pv[t] - request.base_load[t], 0.0)
            terms = [(v.p[i][t], 1.0) for i in pv_only if t in v.p[i]]
            if terms:
                m.row(terms, -1.0, surplus, "pv_only")
    for t in range(n):
        terms = [(v.g[t], 1.0), (v.x[t], -1.0), (v.k[t], -1.0)]
        if battery is not None:
            terms += [(v.d[t], 1.0), (v.c[t], -1.0)]
        terms += [(power[t], -1.0) for power in v.p if t in power]
        rhs = request.base_load[t] - request.pv[t]
        m.row(terms, rhs, rhs, "")
    return m, v


def _add_load(m: Model, v: _Vars, load: Load, request: DeferrableRequest) -> None:
    dt = request.dt
    window = load.window
    power = {t: m.var(0.0, load.power) for t in window}
    on: dict[int, int] = {}
    v.p.append(power)
    v.on.append(on)
    group = f"requirement:{load.name}"
    v.groups[group] = requirement_text(load, dt)
    if load.optional:
        for t in window:
            m.add_cost(power[t], -load.value * dt)
    if load.on_off and load.contiguous and not load.optional:
        length = load.slots
        if length == 0:
            for t in window:
                m.fix(power[t], 0.0)
            return
        starts = {s: m.binary() for s in range(load.start, load.end - length + 1)}
        m.row([(b, 1.0) for b in starts.values()], 1.0, 1.0, group)
        for t in window:
            covering = [(b, -load.power) for s, b in starts.items() if s <= t < s + length]
            m.row([(power[t], 1.0), *covering], 0.0, 0.0, "")
        on.update(starts)
        return
    if load.on_off:
        for t in window:
            on[t] = m.binary()
            m.row([(power[t], 1.0), (on[t], -load.power)], 0.0, 0.0, "")
        total = [(on[t], 1.0) for t in window]
        low = 0.0 if load.optional else float(load.slots)
        m.row(total, low, float(load.slots), group)
    else:
        if load.min_power > 0 or load.contiguous:
            for t in window:
                on[t] = m.binary()
                m.row([(power[t], 1.0), (on[t], -load.power)], -INF, 0.0, "")
                m.row([(power[t], 1.0), (on[t], -load.min_power)], 0.0, INF, "")
        energy = [(power[t], dt) for t in window]
        low = 0.0 if load.optional else load.energy
        m.row(energy, low, load.energy, group)
        if on:
            # Valid cuts that tighten the relaxation: the energy needs at least E / (P dt)
            # running slots and allows at most E / (min dt) of them.
            fewest = 0 if load.optional else math.ceil(load.energy / (load.power * dt) - 1e-9)
            most = (
                math.floor(load.energy / (load.min_power * dt) + 1e-9)
                if load.min_power > 0
                else len(window)
            )
            m.row([(on[t], 1.0) for t in window], fewest, most, group)
    if load.contiguous and on:
        # At most one start: a slot on whose predecessor is off.
        group_c = f"contiguous:{load.name}"
        v.groups[group_c] = f"{load.name} runs in one block"
        start_terms: list[tuple[int, float]] = []
        for t in window:
            y = m.binary()
            start_terms.append((y, 1.0))
            prev = [(on[t - 1], 1.0)] if t - 1 in on else []
            m.row([(y, 1.0), (on[t], -1.0), *prev], 0.0, 1.0, "")
        m.row(start_terms, 0.0, 1.0, group_c)


def solve(request: DeferrableRequest, time_limit: float, *, sets: bool = True) -> dict[str, Any]:
    """The plan of ``request``, or why there is none. See README.md for the output.

    ``sets=False`` always solves the general model (the set model's results are compared with
    it in the tests).
    """
    started = time.perf_counter()
    problems = check(request)
    if problems:
        return _infeasible(request, problems, time.perf_counter() - started)
    if sets and deferrable_slots.eligible(request):
        set_model = deferrable_slots.build(request)
        exact = (
            None
            if set_model is None
            else deferrable_slots.solve_by_relaxation(set_model, TIE_TOLERANCE)
        )
        if set_model is not None and exact is not None:
            model, v = build(request)
            x = _from_sets(request, model, v, set_model, exact.x)
            sol = Solution(Status.OPTIMAL, x, exact.cost, exact.seconds, "")
            return _result(
                request, v, sol, "earliest of the equal-cost plans",
                time.perf_counter() - started, method=METHOD_SETS,
            )  # fmt: skip
    model, v = build(request)
    first = model.solve(time_limit=time_limit)
    if first.status is Status.INFEASIBLE:
        found = diagnose(request, model, v, time_limit)
        return _infeasible(request, found, time.perf_counter() - started)
    if first.x is None or first.objective is None:
        return {
            "status": first.status.value,
            "message": f"no plan found: {first.message}",
            "solve_time_s": time.perf_counter() - started,
            "problems": [],
        }
    best = first
    tie_break = "not needed"
    if first.status is Status.OPTIMAL and request.loads:
        remaining = time_limit - (time.perf_counter() - started)
        best, tie_break = _earliest(model, v, request, first, remaining)
    return _result(request, v, best, tie_break, time.perf_counter() - started, method=METHOD_MILP)


def _from_sets(
    request: DeferrableRequest,
    model: Model,
    v: _Vars,
    sets: deferrable_slots.SlotModel,
    chosen: Any,
) -> Any:
    """The general model's variables for the plan of the set model's 0/1 ``chosen``."""
    import numpy as np  # noqa: PLC0415 - NumPy only when solving

    x = np.zeros(model.size)
    for j in np.flatnonzero(chosen[: len(sets.choice)] > 0.5):
        t, running = sets.choice[j]
        x[v.g[t]], x[v.x[t]], x[v.k[t]] = sets.flows[j]
        for i in running:
            x[v.p[i][t]] = request.loads[i].power
            if not request.loads[i].contiguous:
                x[v.on[i][t]] = 1.0
    for i, first in sets.starts.items():
        for s, index in first.items():
            if chosen[index] > 0.5:
                x[v.on[i][s]] = 1.0
    return x


def _earliest(
    model: Model, v: _Vars, request: DeferrableRequest, first: Solution, remaining: float
) -> tuple[Solution, str]:
    assert first.objective is not None  # noqa: S101 - an optimal solve has one
    z = first.objective
    lateness: dict[int, float] = {}
    for power in v.p:
        for t, i in power.items():
            lateness[i] = (t + 1) * request.dt
    if remaining <= 0:
        return first, "skipped: no time left"
    bound = z + TIE_TOLERANCE * max(1.0, abs(z))
    second = model.solve(
        cost=lateness,
        extra=[(dict(model.cost), -float("inf"), bound)],
        time_limit=remaining,
        # Measured on the benchmark's plans: without a battery HiGHS finds the earliest plan
        # several times faster unpresolved (the dense cost row defeats presolve); with one,
        # presolve pays.
        presolve=request.battery is not None,
    )
    if second.x is None or second.status is not Status.OPTIMAL:
        return first, f"skipped: {second.status.value}"
    cost = model.objective_vector() @ second.x
    return (
        Solution(Status.OPTIMAL, second.x, float(cost), first.seconds + second.seconds, ""),
        "earliest of the equal-cost plans",
    )


def diagnose(
    request: DeferrableRequest, model: Model, v: _Vars, time_limit: float
) -> list[Problem]:
    """The smallest set of constraint groups that cannot hold together (a deletion filter).

    Each group (the import limit, one load's requirement, the final state of charge…) is left
    out in turn; one whose absence keeps the model infeasible is not part of the conflict. What
    remains is irreducible: leaving out any one of them makes a plan possible.
    """
    deadline = time.perf_counter() + time_limit
    groups = sorted(v.groups)
    zero: dict[int, float] = {}

    def feasible(active: list[str]) -> bool | None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        drop = frozenset(g for g in groups if g not in active)
        result = model.solve(cost=zero, drop=drop, time_limit=left)
        if result.status in (Status.OPTIMAL, Status.TIME_LIMIT):
            return True
        if result.status is Status.INFEASIBLE:
            return False
        return None

    if feasible([]) is not False:
        active = list(groups)
        for group in groups:
            trial = [g for g in active if g != group]
            if feasible(trial) is False:
                active = trial
        if active:
            names = "; ".join(v.groups[g] for g in active)
            return [
                Problem(
                    requirement=v.groups[g],
                    reason=(
                        f"cannot hold together with the rest of: {names} (leaving out any one "
                        "of these makes a plan possible)"
                        if len(active) > 1
                        else "cannot be met with the forecasts, prices and limits given"
                    ),
                    load=g.split(":", 1)[1] if ":" in g else None,
                )
                for g in active
            ]
    return [
        Problem(
            requirement="the energy balance",
            reason="no plan balances the forecasts even with every optional constraint removed",
        )
    ]


def _infeasible(
    request: DeferrableRequest, problems: list[Problem], seconds: float
) -> dict[str, Any]:
    return {
        "status": Status.INFEASIBLE.value,
        "message": "; ".join(f"{p.requirement}: {p.reason}" for p in problems),
        "problems": [p.as_dict() for p in problems],
        "objective": None,
        "solve_time_s": seconds,
        "slot_minutes": request.slot_minutes,
        "slots": [],
        "loads": [],
    }


def _result(
    request: DeferrableRequest,
    v: _Vars,
    sol: Solution,
    tie_break: str,
    seconds: float,
    *,
    method: str,
) -> dict[str, Any]:
    assert sol.x is not None  # noqa: S101 - called with a plan
    x = sol.x
    n, dt = request.slots, request.dt

    def val(i: int | None) -> float:
        if i is None:
            return 0.0
        value = float(x[i])
        return 0.0 if abs(value) < EPS else round(value, 6)

    grid = [val(i) for i in v.g]
    export = [val(i) for i in v.x]
    powers = [[val(p.get(t)) for t in range(n)] for p in v.p]
    reasons = [
        _reasons(request, load, power=powers[i], grid=grid, export=export, v=v, x=x)
        for i, load in enumerate(request.loads)
    ]
    slots = []
    for t in range(n):
        slot: dict[str, Any] = {
            "index": t,
            "time": slot_label(request.start, request.slot, t, request.tz),
            "import_price": request.import_price[t],
            "export_price": request.export_price[t],
            "pv": request.pv[t],
            "base_load": request.base_load[t],
            "grid_import": grid[t],
            "grid_export": export[t],
            "pv_curtailed": val(v.k[t]),
            "loads": {load.name: powers[i][t] for i, load in enumerate(request.loads)},
            "reasons": {
                load.name: reasons[i][t] for i, load in enumerate(request.loads) if t in reasons[i]
            },
        }
        if request.battery is not None:
            slot["battery_charge"] = val(v.c[t])
            slot["battery_discharge"] = val(v.d[t])
            slot["soc"] = round(float(x[v.e[t + 1]]) / request.battery.capacity, 6)
        slots.append(slot)
    loads = []
    for i, load in enumerate(request.loads):
        running = [t for t in range(n) if powers[i][t] > EPS]
        loads.append(
            {
                "name": load.name,
                "energy": round(sum(powers[i]) * dt, 6),
                "required_energy": load.energy,
                "slots": running,
                "first_slot": running[0] if running else None,
                "last_slot": running[-1] if running else None,
                "power": powers[i],
            }
        )
    import_cost = sum(g * p * dt for g, p in zip(grid, request.import_price, strict=True))
    export_revenue = sum(e * p * dt for e, p in zip(export, request.export_price, strict=True))
    peak = max(grid) if grid else 0.0
    demand = request.demand_charge * peak
    value = sum(
        load.value * sum(powers[i]) * dt for i, load in enumerate(request.loads) if load.optional
    )
    status = sol.status
    return {
        "status": status.value,
        "message": (
            "optimal"
            if status is Status.OPTIMAL
            else "the time limit was reached: this is the best plan found so far, "
            "not proven optimal"
        ),
        "objective": round(import_cost - export_revenue + demand - value, 6),
        "cost": {
            "import": round(import_cost, 6),
            "export_revenue": round(export_revenue, 6),
            "demand_charge": round(demand, 6),
            "peak_import": peak,
            "optional_value": round(value, 6),
        },
        "tie_break": tie_break,
        "method": method,
        "solve_time_s": seconds,
        "slot_minutes": request.slot_minutes,
        "start": None if request.start is None else request.start.isoformat(),
        "problems": [],
        "slots": slots,
        "loads": loads,
    }


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _reasons(
    request: DeferrableRequest,
    load: Load,
    *,
    power: list[float],
    grid: list[float],
    export: list[float],
    v: _Vars,
    x: Any,
) -> dict[int, str]:
    """Why each slot the load runs in was chosen."""
    window = list(load.window)
    running = [t for t in window if power[t] > EPS]
    prices = sorted(request.import_price[t] for t in window)
    out: dict[int, str] = {}
    block = f"its one block ({span(running[0], running[-1] + 1)})" if running else ""
    for t in running:
        price = request.import_price[t]
        rank = prices.index(price) + 1
        parts = []
        surplus = request.pv[t] - request.base_load[t]
        if grid[t] <= EPS and surplus >= power[t] - EPS:
            parts.append(
                f"PV surplus covers it (forgoing export at {request.export_price[t]:g}/kWh)"
            )
        elif request.battery is not None and float(x[v.d[t]]) > 1e-3:
            parts.append(f"battery discharging {float(x[v.d[t]]):.3g} kW")
        parts.append(
            f"import price {price:g}/kWh is the {_ordinal(rank)} lowest of {len(window)} "
            f"in its window ({span(load.start, load.end)})"
        )
        if load.contiguous and len(running) > 1:
            parts.append(f"part of {block}, the least-cost block")
        if request.import_limit is not None and grid[t] >= request.import_limit - 1e-6:
            parts.append(f"import limit {request.import_limit:g} kW binding")
        if not load.on_off and EPS < power[t] < load.power - EPS:
            parts.append(f"runs at {power[t]:.3g} kW, between its minimum and nominal power")
        later_equal = [
            u for u in window if u > t and u not in running and request.import_price[u] == price
        ]
        if later_equal:
            parts.append(f"earliest of equal-price slots (also {runs(later_equal[:3])})")
        out[t] = "; ".join(parts)
    return out
