"""The solvers' entry point, run in the solver process (or in a thread when not isolated).

Kept free of the runtime's modules so a spawned solver process imports only the optimizer's
pure modules, NumPy and SciPy. Errors in the input come back as values, not exceptions, so they
cross the process boundary unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from .errors import OptimizerInputError

KIND_DEFERRABLE = "deferrable"
KIND_CHILLERS = "chillers"
KIND_SETPOINTS = "setpoints"


def solve(kind: str, data: Mapping[str, Any], tz: tzinfo, limit: float) -> dict[str, Any]:
    """Solve one request of ``kind``; ``{"error": {"message", "field"}}`` for bad input."""
    try:
        if kind == KIND_DEFERRABLE:
            return _deferrable(data, tz, limit)
        if kind == KIND_CHILLERS:
            from .chillers import solve as solve_chillers  # noqa: PLC0415 - SciPy on demand
            from .chillers_input import parse_chillers  # noqa: PLC0415 - with it

            plant = parse_chillers(data, tz)
            return solve_chillers(plant, plant.time_limit or limit)
        if kind == KIND_SETPOINTS:
            from .mpc import parse_setpoints  # noqa: PLC0415 - SciPy on demand
            from .mpc import solve as solve_setpoints  # noqa: PLC0415 - with it

            zone = parse_setpoints(data, tz)
            return solve_setpoints(zone, zone.time_limit or limit)
    except OptimizerInputError as err:
        return {"error": {"message": err.message, "field": err.field}}
    raise ValueError(f"unknown problem kind {kind!r}")


def _deferrable(data: Mapping[str, Any], tz: tzinfo, limit: float) -> dict[str, Any]:
    from .deferrable import solve as solve_deferrable  # noqa: PLC0415 - SciPy on demand
    from .deferrable_input import parse_deferrable  # noqa: PLC0415 - with it
    from .emhass import from_emhass, is_emhass  # noqa: PLC0415 - with it

    emhass = is_emhass(data)
    native, ignored = from_emhass(data) if emhass else (dict(data), [])
    request = parse_deferrable(native, tz)
    result = solve_deferrable(request, request.time_limit or limit)
    result["input_format"] = "emhass" if emhass else "native"
    if ignored:
        result["ignored_parameters"] = ignored
    return result
