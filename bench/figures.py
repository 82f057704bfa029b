"""How every benchmark prints a figure: one JSON object per line (see ../shared/BENCH.md)."""

from __future__ import annotations

import json
import statistics


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
