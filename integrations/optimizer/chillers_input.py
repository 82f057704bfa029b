"""The chiller-sequencing request: chillers with part-load curves and an hourly demand.

Units: cooling and electric power in kW, prices per kWh, start penalties in the price's
currency, times ISO 8601. See README.md for a complete example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import pairwise
from typing import Any

from .const import MAX_CHILLERS, MAX_CURVE_POINTS
from .deferrable_input import time_zone
from .errors import OptimizerInputError
from .inputs import boolean, integer, mapping, moment, number, series, unknown_keys

_TOP_KEYS = frozenset({"demand", "price", "chillers", "start", "time_zone", "time_limit"})
_CHILLER_KEYS = frozenset(
    {
        "name", "curve", "capacity", "min_part_load", "cop", "start_penalty", "min_on_hours",
        "min_off_hours", "available", "initially_on",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Chiller:
    """A chiller: its part-load curve (cooling kW -> electric kW), start penalty, timings."""

    name: str
    #: Points (cooling kW, electric kW), cooling and power strictly increasing; the first is
    #: the minimum load, the last the capacity.
    curve: tuple[tuple[float, float], ...]
    start_penalty: float
    min_on: int
    min_off: int
    available: tuple[bool, ...]
    initially_on: bool

    @property
    def min_load(self) -> float:
        """The least cooling it delivers while running, kW."""
        return self.curve[0][0]

    @property
    def capacity(self) -> float:
        """The most cooling it delivers, kW."""
        return self.curve[-1][0]

    @property
    def slopes(self) -> tuple[float, ...]:
        """Electric kW per cooling kW on each segment."""
        return tuple((p1 - p0) / (q1 - q0) for (q0, p0), (q1, p1) in pairwise(self.curve))

    @property
    def convex(self) -> bool:
        """Whether each segment costs at least as much per kW as the one before."""
        s = self.slopes
        return all(b >= a - 1e-12 for a, b in pairwise(s))

    def power(self, load: float) -> float:
        """Electric power at ``load`` kW of cooling (interpolated on the curve)."""
        for (q0, p0), (q1, p1) in pairwise(self.curve):
            if load <= q1 + 1e-9:
                return p0 + (p1 - p0) * (max(load, q0) - q0) / (q1 - q0)
        return self.curve[-1][1]


@dataclass(frozen=True, slots=True)
class ChillerRequest:
    """Chillers, the hourly cooling demand and the price of electricity per hour."""

    demand: tuple[float, ...]
    price: tuple[float, ...]
    chillers: tuple[Chiller, ...]
    start: datetime | None
    tz: tzinfo
    time_limit: float | None

    @property
    def hours(self) -> int:
        """The horizon, hours."""
        return len(self.demand)

    @property
    def coupled(self) -> bool:
        """Whether anything ties one hour to the next (start penalties, minimum times)."""
        return any(c.start_penalty > 0 or c.min_on > 1 or c.min_off > 1 for c in self.chillers)


def parse_chillers(data: Mapping[str, Any], site_tz: tzinfo) -> ChillerRequest:
    """Read and check a request.

    Raises:
        OptimizerInputError: with the key of the first bad value (a curve that does not
            increase names the point).
    """
    data = mapping(data, "request")
    unknown_keys(data, _TOP_KEYS, "")
    if "demand" not in data:
        raise OptimizerInputError("is required (cooling kW per hour)", field="demand")
    demand = series(data["demand"], "demand", None, minimum=0.0)
    n = len(demand)
    if n == 0:
        raise OptimizerInputError("must have at least one hour", field="demand")
    price = series(data.get("price", 1.0), "price", n)
    tz = time_zone(data.get("time_zone"), site_tz)
    start = None if data.get("start") is None else moment(data["start"], "start", tz)
    items = data.get("chillers")
    if not isinstance(items, list) or not items:
        raise OptimizerInputError("expected a list of at least one chiller", field="chillers")
    if len(items) > MAX_CHILLERS:
        raise OptimizerInputError(f"at most {MAX_CHILLERS} chillers are accepted", field="chillers")
    chillers = tuple(_chiller(item, f"chillers.{i}", n) for i, item in enumerate(items))
    names = [c.name for c in chillers]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise OptimizerInputError(
                f"the name {name!r} is used twice", field=f"chillers.{i}.name"
            )
    limit = data.get("time_limit")
    return ChillerRequest(
        demand=tuple(demand),
        price=tuple(price),
        chillers=chillers,
        start=start,
        tz=tz,
        time_limit=None
        if limit is None
        else number(limit, "time_limit", minimum=0.0, strict_min=True),
    )


def _chiller(item: object, field: str, n: int) -> Chiller:
    data = mapping(item, field)
    unknown_keys(data, _CHILLER_KEYS, field)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise OptimizerInputError("every chiller needs a name", field=f"{field}.name")
    if data.get("curve") is not None:
        for key in ("capacity", "min_part_load", "cop"):
            if data.get(key) is not None:
                raise OptimizerInputError(
                    "give either a curve or capacity, min_part_load and cop", field=f"{field}.{key}"
                )
        curve = _curve(data["curve"], f"{field}.curve")
    else:
        capacity = number(data.get("capacity"), f"{field}.capacity", minimum=0.0, strict_min=True)
        mpl = number(
            data.get("min_part_load", 0.0), f"{field}.min_part_load", minimum=0.0, maximum=1.0
        )
        cop = number(data.get("cop"), f"{field}.cop", minimum=0.0, strict_min=True)
        if mpl >= 1.0:
            raise OptimizerInputError("must be below 1", field=f"{field}.min_part_load")
        curve = ((capacity * mpl, capacity * mpl / cop), (capacity, capacity / cop))
    available = data.get("available", True)
    if isinstance(available, bool):
        flags = (available,) * n
    else:
        if not isinstance(available, list) or len(available) != n:
            raise OptimizerInputError(
                f"expected true/false or a list of {n} true/false values, one per hour",
                field=f"{field}.available",
            )
        flags = tuple(boolean(v, f"{field}.available.{i}") for i, v in enumerate(available))
    return Chiller(
        name=name.strip(),
        curve=curve,
        start_penalty=number(data.get("start_penalty", 0.0), f"{field}.start_penalty", minimum=0.0),
        min_on=integer(data.get("min_on_hours", 1), f"{field}.min_on_hours", minimum=1),
        min_off=integer(data.get("min_off_hours", 1), f"{field}.min_off_hours", minimum=1),
        available=flags,
        initially_on=boolean(data.get("initially_on", False), f"{field}.initially_on"),
    )


def _curve(value: object, field: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_CURVE_POINTS:
        raise OptimizerInputError(
            f"expected 2 to {MAX_CURVE_POINTS} points [cooling kW, electric kW]", field=field
        )
    points: list[tuple[float, float]] = []
    for k, point in enumerate(value):
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise OptimizerInputError(
                f"expected [cooling kW, electric kW], got {point!r}", field=f"{field}.{k}"
            )
        q = number(point[0], f"{field}.{k}.0", minimum=0.0)
        p = number(point[1], f"{field}.{k}.1", minimum=0.0)
        if points:
            q0, p0 = points[-1]
            if q <= q0:
                raise OptimizerInputError(
                    f"cooling {q:g} kW does not increase on the previous point's {q0:g} kW: "
                    "list the points by increasing cooling",
                    field=f"{field}.{k}",
                )
            if p <= p0:
                raise OptimizerInputError(
                    f"the curve is not increasing: {q:g} kW of cooling draws {p:g} kW, no more "
                    f"than the {p0:g} kW drawn at {q0:g} kW",
                    field=f"{field}.{k}",
                )
        points.append((q, p))
    if points[-1][0] <= 0:
        raise OptimizerInputError("the capacity (last point) must be above 0 kW", field=field)
    return tuple(points)
