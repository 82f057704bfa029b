"""The ``optimizer:`` section of ``configuration.yaml``.

```yaml
optimizer:
  cache_validity: 300   # s a result is served again for the same input (0: never cached)
  time_limit: 10        # s a solve may take before its best plan so far is returned
  keep_results: 500     # results kept with their input in optimizer_results.db
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
    CONF_KEEP_RESULTS,
    CONF_TIME_LIMIT,
    DEFAULT_CACHE_VALIDITY,
    DEFAULT_KEEP_RESULTS,
    DEFAULT_TIME_LIMIT,
)


@dataclass(frozen=True, slots=True)
class OptimizerConfig:
    """The optimizer's settings."""

    cache_validity: float = DEFAULT_CACHE_VALIDITY
    time_limit: float = DEFAULT_TIME_LIMIT
    keep_results: int = DEFAULT_KEEP_RESULTS


def _to_config(data: dict[str, Any]) -> OptimizerConfig:
    return OptimizerConfig(
        cache_validity=data[CONF_CACHE_VALIDITY],
        time_limit=data[CONF_TIME_LIMIT],
        keep_results=data[CONF_KEEP_RESULTS],
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
        }
    ),
    _to_config,
)
