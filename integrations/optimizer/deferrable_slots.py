"""On/off loads without a battery: a tighter model with one binary per slot and set of loads.

When every load runs at its nominal power or not at all, nothing stores energy (no battery) and
nothing ties slots together but the loads' requirements (no demand charge), a slot's cost
depends only on which loads run in it. So the model chooses, per slot, one *set* of running
loads, whose cost is computed here exactly: the slot's own small linear programme (import,
export and curtailment against the limits) has a closed-form optimum when prices are not
negative and export never pays more than import. The model's relaxation is then the convex hull
of each slot's choices, much tighter than the general model's (whose fractional loads soak up
PV at the import price), and HiGHS proves the same optimum in a fraction of the time.

Imports NumPy and SciPy: import this module only to solve.

The plan is mapped back onto the general model's variables, so results, reasons and the tie
break's definition (least slot-weighted energy among least-cost plans) are unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_array

from .deferrable_input import DeferrableRequest
from .milp import Model

#: Most loads that may share a slot in this model (each slot has 2 ** loads sets).
MAX_SHARING = 6
#: Tolerance on the import limit, kW (as the brute force and the general model's rows).
_LIMIT_TOL = 1e-9


@dataclass(slots=True)
class SlotModel:
    """The set model, where each slot's sets are, and what each set means physically."""

    model: Model
    #: Per variable: its slot and the loads (indices) running in it.
    choice: list[tuple[int, tuple[int, ...]]]
    #: Per variable: grid import, export and curtailed PV of its slot, kW.
    flows: np.ndarray
    #: Per load index, the start binaries of a contiguous load (slot -> variable).
    starts: dict[int, dict[int, int]]
    #: Slot-weighted energy per variable (the tie break's objective).
    lateness: dict[int, float]


def eligible(request: DeferrableRequest) -> bool:
    """Whether the set model applies to ``request`` (and gives the same optimum)."""
    if request.battery is not None or request.demand_charge > 0 or not request.loads:
        return False
    if any(not load.on_off or load.optional for load in request.loads):
        return False
    prices = zip(request.import_price, request.export_price, strict=True)
    if any(imp < 0 or exp < 0 or exp > imp for imp, exp in prices):
        return False
    return all(
        sum(1 for load in request.loads if t in load.window) <= MAX_SHARING
        for t in range(request.slots)
    )


def _slot_flows(
    request: DeferrableRequest, t: int, extra: float
) -> tuple[float, float, float, float] | None:
    """Import, export, curtailment and cost of slot ``t`` with ``extra`` kW of loads running.

    None when the import limit cannot hold. Exact: with ``0 <= export price <= import price``
    importing only the deficit, and exporting what the export limit allows of a surplus (the
    rest curtailed), is optimal.
    """
    dt = request.dt
    net = request.base_load[t] + extra - request.pv[t]
    if net >= 0:
        if request.import_limit is not None and net > request.import_limit + _LIMIT_TOL:
            return None
        return net, 0.0, 0.0, request.import_price[t] * dt * net
    surplus = -net
    export = surplus if request.export_limit is None else min(surplus, request.export_limit)
    if surplus - export > request.pv[t] + _LIMIT_TOL:
        return None
    return 0.0, export, surplus - export, -request.export_price[t] * dt * export


def build(request: DeferrableRequest) -> SlotModel | None:
    """The set model of ``request``; None when some slot has no possible set (let the general
    model explain why)."""
    m = Model()
    loads = request.loads
    dt = request.dt
    choice: list[tuple[int, tuple[int, ...]]] = []
    flows: list[tuple[float, float, float]] = []
    lateness: dict[int, float] = {}
    running: list[dict[int, list[int]]] = [{} for _ in loads]  # load -> slot -> variables
    for t in range(request.slots):
        here = [i for i, load in enumerate(loads) if t in load.window and load.slots > 0]
        surplus = max(request.pv[t] - request.base_load[t], 0.0)
        terms = []
        for size in range(len(here) + 1):
            for subset in combinations(here, size):
                pv_only = sum(loads[i].power for i in subset if loads[i].pv_only)
                if pv_only > surplus + _LIMIT_TOL:
                    continue
                extra = sum(loads[i].power for i in subset)
                slot = _slot_flows(request, t, extra)
                if slot is None:
                    continue
                g, x, k, cost = slot
                index = m.binary()
                m.add_cost(index, cost)
                choice.append((t, subset))
                flows.append((g, x, k))
                if subset:
                    lateness[index] = extra * (t + 1) * dt
                for i in subset:
                    running[i].setdefault(t, []).append(index)
                terms.append((index, 1.0))
        if not terms:
            return None
        m.row(terms, 1.0, 1.0, "")
    starts: dict[int, dict[int, int]] = {}
    for i, load in enumerate(loads):
        group = f"requirement:{load.name}"
        if load.slots == 0:
            continue
        if load.contiguous:
            length = load.slots
            first = {s: m.binary() for s in range(load.start, load.end - length + 1)}
            if not first:
                return None
            m.row([(b, 1.0) for b in first.values()], 1.0, 1.0, group)
            for t in load.window:
                covering = [(b, -1.0) for s, b in first.items() if s <= t < s + length]
                on = [(index, 1.0) for index in running[i].get(t, [])]
                m.row([*on, *covering], 0.0, 0.0, "")
            starts[i] = first
        else:
            every = [(index, 1.0) for t in load.window for index in running[i].get(t, [])]
            m.row(every, float(load.slots), float(load.slots), group)
    return SlotModel(m, choice, np.asarray(flows, dtype=float).reshape(-1, 3), starts, lateness)


#: Distance from an integer below which a value of the relaxation counts as integral.
_INTEGRAL_TOL = 1e-9
#: Reduced costs beyond this fix a variable on the optimal face (HiGHS's are accurate far
#: below it on these unit-coefficient models).
_REDUCED_COST_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class LexResult:
    """The earliest least-cost choice of sets (0/1 per variable) and its cost."""

    x: np.ndarray
    cost: float
    seconds: float


def solve_by_relaxation(sm: SlotModel, tie_tolerance: float) -> LexResult | None:
    """The earliest of the least-cost plans, when the LP relaxations prove it; else None.

    1. The relaxation of the cost: an integral optimum is the optimum of the integer programme
       (the relaxation's optimum is a lower bound the integral plan reaches).
    2. The relaxation's optimal face: every optimal solution has the variables of nonzero
       reduced cost at their bound (complementary slackness with the optimal duals; every row
       is an equation), so fixing them keeps exactly the least-cost solutions, integral plans
       among them, without the dense cost row of a second solve.
    3. The least slot-weighted energy over that face: an integral optimum is the earliest of the
       least-cost plans.

    None when either relaxation is fractional or anything else is off; the caller then solves
    the integer programmes.
    """
    started = time.perf_counter()
    m = sm.model
    rows, cols, vals, lo, hi = m.matrix()
    if not np.array_equal(lo, hi):
        return None
    a = csr_array((vals, (rows, cols)), shape=(len(lo), m.size))
    cost = m.objective_vector()
    lateness = m.objective_vector(sm.lateness)
    lb = np.asarray(m.lower, dtype=float)
    ub = np.asarray(m.upper, dtype=float)
    first = linprog(cost, A_eq=a, b_eq=hi, bounds=np.column_stack([lb, ub]), method="highs-ds")
    if first.status != 0 or not _integral(first.x):
        return None
    reduced = np.asarray(first.lower.marginals) + np.asarray(first.upper.marginals)
    lb_face, ub_face = lb.copy(), ub.copy()
    at_lower = reduced > _REDUCED_COST_TOL
    at_upper = reduced < -_REDUCED_COST_TOL
    ub_face[at_lower] = lb[at_lower]
    lb_face[at_upper] = ub[at_upper]
    second = linprog(
        lateness, A_eq=a, b_eq=hi, bounds=np.column_stack([lb_face, ub_face]), method="highs-ds"
    )
    if second.status != 0 or not _integral(second.x):
        return None
    x = np.round(second.x)
    z = float(first.fun)
    plan_cost = float(cost @ x)
    feasible = np.allclose(a @ x, hi, rtol=0.0, atol=1e-9) and bool(np.all((x >= lb) & (x <= ub)))
    if not feasible or plan_cost > z + tie_tolerance * max(1.0, abs(z)):
        return None
    return LexResult(x, plan_cost, time.perf_counter() - started)


def _integral(x: np.ndarray | None) -> bool:
    return x is not None and bool(np.all(np.abs(x - np.round(x)) <= _INTEGRAL_TOL))
