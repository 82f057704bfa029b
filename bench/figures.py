"""How every benchmark prints a figure: one JSON object per line (see ../shared/BENCH.md)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

# Every benchmark imports this module first, from bench/ (the script's directory, so on
# sys.path). Take bench/ off again: bench/automations.py would otherwise shadow the
# ``automations`` package for every benchmark that loads the built-in integrations.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def emit(metric: str, values: list[float] | list[int], unit: str, note: str) -> None:
    """Print one figure: the median of ``values``, with how many runs it came from."""
    print(
        json.dumps(
            {
                "metric": metric,
                "value": round(statistics.median(values), 3),
                "unit": unit,
                "runs": len(values),
                "note": note,
            }
        ),
        flush=True,
    )
