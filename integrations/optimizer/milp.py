"""A small model builder over SciPy's ``milp`` (HiGHS): variables, rows in groups, one solve.

Rows carry a group name (``import_limit``, ``requirement:dishwasher``…) so that a diagnosis can
solve the same model with some groups left out and find which requirements conflict. NumPy and
SciPy are imported by this module; import it only when a solve is asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from .const import Status

INF = math.inf


@dataclass(frozen=True, slots=True)
class Solution:
    """What one solve gave: its status, the variable values and the objective."""

    status: Status
    x: np.ndarray | None
    objective: float | None
    seconds: float
    message: str


class Model:
    """Variables with bounds and integrality, and linear rows ``lo <= a.x <= hi`` in groups."""

    def __init__(self) -> None:
        self._lb: list[float] = []
        self._ub: list[float] = []
        self._int: list[int] = []
        self._rows: list[int] = []
        self._cols: list[int] = []
        self._vals: list[float] = []
        self._lo: list[float] = []
        self._hi: list[float] = []
        self.row_groups: list[str] = []
        self.cost: dict[int, float] = {}

    @property
    def size(self) -> int:
        """The number of variables."""
        return len(self._lb)

    def var(self, lb: float = 0.0, ub: float = INF, *, integer: bool = False) -> int:
        """A new variable; returns its index."""
        self._lb.append(lb)
        self._ub.append(ub)
        self._int.append(1 if integer else 0)
        return len(self._lb) - 1

    def vars(self, n: int, lb: float = 0.0, ub: float = INF, *, integer: bool = False) -> list[int]:
        """``n`` new variables of the same bounds."""
        return [self.var(lb, ub, integer=integer) for _ in range(n)]

    def binary(self) -> int:
        """A new 0/1 variable."""
        return self.var(0.0, 1.0, integer=True)

    @property
    def lower(self) -> list[float]:
        """The variables' lower bounds."""
        return self._lb

    @property
    def upper(self) -> list[float]:
        """The variables' upper bounds."""
        return self._ub

    def matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The rows as coordinates (row, column, value) and their bounds (lo, hi)."""
        return (
            np.asarray(self._rows, dtype=np.int64),
            np.asarray(self._cols, dtype=np.int64),
            np.asarray(self._vals, dtype=float),
            np.asarray(self._lo, dtype=float),
            np.asarray(self._hi, dtype=float),
        )

    def fix(self, index: int, value: float) -> None:
        """Fix a variable's value through its bounds."""
        self._lb[index] = value
        self._ub[index] = value

    def row(
        self, terms: Iterable[tuple[int, float]], lo: float, hi: float, group: str = ""
    ) -> None:
        """Add ``lo <= sum(coef * x[i]) <= hi`` to ``group``."""
        r = len(self._lo)
        for i, a in terms:
            if a != 0.0:
                self._rows.append(r)
                self._cols.append(i)
                self._vals.append(a)
        self._lo.append(lo)
        self._hi.append(hi)
        self.row_groups.append(group)

    def add_cost(self, index: int, coef: float) -> None:
        """Add ``coef * x[index]`` to the objective (minimised)."""
        self.cost[index] = self.cost.get(index, 0.0) + coef

    def objective_vector(self, cost: dict[int, float] | None = None) -> np.ndarray:
        """The objective as a dense vector."""
        c = np.zeros(self.size)
        for i, a in (self.cost if cost is None else cost).items():
            c[i] = a
        return c

    def solve(
        self,
        *,
        cost: dict[int, float] | None = None,
        drop: frozenset[str] = frozenset(),
        extra: Sequence[tuple[dict[int, float], float, float]] = (),
        time_limit: float = 10.0,
        presolve: bool = True,
    ) -> Solution:
        """Solve to optimality (relative gap 0) within ``time_limit`` seconds.

        Args:
            cost: an objective other than the model's own.
            drop: row groups left out (for a diagnosis).
            extra: rows ``(terms, lo, hi)`` added for this solve only.
            presolve: whether HiGHS presolves (off helps a re-solve whose dense cost row
                presolve cannot use).
        """
        started = time.perf_counter()
        c = self.objective_vector(cost)
        rows = np.asarray(self._rows, dtype=np.int64)
        cols = np.asarray(self._cols, dtype=np.int64)
        vals = np.asarray(self._vals, dtype=float)
        lo = list(self._lo)
        hi = list(self._hi)
        n_rows = len(lo)
        if drop:
            keep = np.array([g not in drop for g in self.row_groups], dtype=bool)
            mask = keep[rows] if len(rows) else np.zeros(0, dtype=bool)
            new_index = np.cumsum(keep) - 1
            rows, cols, vals = new_index[rows[mask]], cols[mask], vals[mask]
            lo = [v for v, k in zip(lo, keep, strict=True) if k]
            hi = [v for v, k in zip(hi, keep, strict=True) if k]
            n_rows = len(lo)
        if extra:
            er, ec, ev = [], [], []
            for k, (terms, elo, ehi) in enumerate(extra):
                for i, a in terms.items():
                    er.append(n_rows + k)
                    ec.append(i)
                    ev.append(a)
                lo.append(elo)
                hi.append(ehi)
            rows = np.concatenate([rows, np.asarray(er, dtype=np.int64)])
            cols = np.concatenate([cols, np.asarray(ec, dtype=np.int64)])
            vals = np.concatenate([vals, np.asarray(ev, dtype=float)])
            n_rows = len(lo)
        constraints = []
        if n_rows:
            a = csr_array((vals, (rows, cols)), shape=(n_rows, self.size))
            constraints.append(LinearConstraint(a, np.asarray(lo), np.asarray(hi)))
        result = milp(
            c,
            constraints=constraints,
            integrality=np.asarray(self._int),
            bounds=Bounds(np.asarray(self._lb), np.asarray(self._ub)),
            options={
                "time_limit": max(time_limit, 0.001),
                "mip_rel_gap": 0.0,
                "disp": False,
                "presolve": presolve,
            },
        )
        seconds = time.perf_counter() - started
        x = None if result.x is None else np.asarray(result.x)
        if result.status == 0:
            status = Status.OPTIMAL
        elif result.status == 1:
            status = Status.TIME_LIMIT if x is not None else Status.TIME_LIMIT_NO_PLAN
        elif result.status == 2:
            status = Status.INFEASIBLE
        else:
            status = Status.ERROR
        objective = None if x is None else float(c @ x)
        return Solution(status, x, objective, seconds, str(result.message))
