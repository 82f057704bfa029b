"""Constants of the optimizer integration."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "optimizer"
NAME: Final = "Optimizer"

SERVICE_PLAN_DEFERRABLE_LOADS: Final = "plan_deferrable_loads"
SERVICE_SEQUENCE_CHILLERS: Final = "sequence_chillers"
SERVICE_OPTIMIZE_SETPOINTS: Final = "optimize_setpoints"
SERVICE_PUBLISH_PLAN: Final = "publish_plan"
SERVICE_APPLY_PLAN: Final = "apply_plan"

CONF_CACHE_VALIDITY: Final = "cache_validity"
CONF_TIME_LIMIT: Final = "time_limit"
CONF_KEEP_RESULTS: Final = "keep_results"
CONF_ISOLATE_SOLVER: Final = "isolate_solver"
CONF_SOLVER_IDLE_TIMEOUT: Final = "solver_idle_timeout"

#: How long a result is served from the cache for the same input, s.
DEFAULT_CACHE_VALIDITY: Final = 300.0
#: A solve that runs longer returns the best plan found so far, marked as such, s.
DEFAULT_TIME_LIMIT: Final = 10.0
#: Results kept in the results table (the oldest are deleted).
DEFAULT_KEEP_RESULTS: Final = 500
#: Solve in a separate process, so SciPy never enters the runtime's memory.
DEFAULT_ISOLATE_SOLVER: Final = True
#: The solver process ends after this long without a solve, s.
DEFAULT_SOLVER_IDLE_TIMEOUT: Final = 120.0

#: Longest horizon accepted, slots (a week of 15-minute slots).
MAX_SLOTS: Final = 7 * 96
#: Most deferrable loads in one request.
MAX_LOADS: Final = 32
#: Most chillers in one request.
MAX_CHILLERS: Final = 24
#: Most points of a chiller's part-load curve.
MAX_CURVE_POINTS: Final = 16
#: Slot lengths accepted, minutes.
SLOT_MINUTES: Final = (5, 10, 15, 20, 30, 60)

#: Numerical tolerance when reading a solution (kW, kWh).
EPS: Final = 1e-6


class Status(StrEnum):
    """How a solve ended."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    TIME_LIMIT_NO_PLAN = "time_limit_no_plan"
    ERROR = "error"
