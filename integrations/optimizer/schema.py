"""The ``optimizer:`` section of ``configuration.yaml``.

```yaml
optimizer:
  cache_validity: 300   # s a result is served again for the same input (0: never cached)
  time_limit: 10        # s a solve may take before its best plan so far is returned
  keep_results: 500     # results kept with their input in optimizer_results.db
  isolate_solver: true  # solve in a separate process that ends when idle (SciPy's ~60 MiB
  solver_idle_timeout: 120  # never stay in the runtime); false: solve in the runtime
```

Every key is optional; a bare ``optimizer:`` takes the defaults. The solver (SciPy) is imported
on the first solve, not at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from .const import (
    CONF_CACHE_VALIDITY,
    CONF_ISOLATE_SOLVER,
    CONF_KEEP_RESULTS,
    CONF_SOLVER_IDLE_TIMEOUT,
    CONF_TIME_LIMIT,
    DEFAULT_CACHE_VALIDITY,
    DEFAULT_ISOLATE_SOLVER,
    DEFAULT_KEEP_RESULTS,
    DEFAULT_SOLVER_IDLE_TIMEOUT,
    DEFAULT_TIME_LIMIT,
)


@dataclass(frozen=True, slots=True)
class OptimizerConfig:
    """The optimizer's settings."""

    cache_validity: float = DEFAULT_CACHE_VALIDITY
    time_limit: float = DEFAULT_TIME_LIMIT
    keep_results: int = DEFAULT_KEEP_RESULTS
    isolate_solver: bool = DEFAULT_ISOLATE_SOLVER
    solver_idle_timeout: float = DEFAULT_SOLVER_IDLE_TIMEOUT


def _to_config(data: dict[str, Any]) -> OptimizerConfig:
    return OptimizerConfig(
        cache_validity=data[CONF_CACHE_VALIDITY],
        time_limit=data[CONF_TIME_LIMIT],
        keep_results=data[CONF_KEEP_RESULTS],
        isolate_solver=data[CONF_ISOLATE_SOLVER],
        solver_idle_timeout=data[CONF_SOLVER_IDLE_TIMEOUT],
    )


CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema(
        {
            vol.Optional(CONF_CACHE_VALIDITY, default=DEFAULT_CACHE_VALIDITY): vol.All(
                vol.Coerce(float), vol.Range(min=0, max=86400)
            ),
            vol.Optional(CONF_TIME_LIMIT, default=DEFAULT_TIME_LIMIT): vol.All(
                vol.Coerce(float), vol.Range(min=0.01, max=600)
            ),
            vol.Optional(CONF_KEEP_RESULTS, default=DEFAULT_KEEP_RESULTS): vol.All(
                int, vol.Range(min=0, max=100_000)
            ),
            vol.Optional(CONF_ISOLATE_SOLVER, default=DEFAULT_ISOLATE_SOLVER): bool,
            vol.Optional(CONF_SOLVER_IDLE_TIMEOUT, default=DEFAULT_SOLVER_IDLE_TIMEOUT): vol.All(
                vol.Coerce(float), vol.Range(min=0, max=86400)
            ),
        }
    ),
    _to_config,
)
