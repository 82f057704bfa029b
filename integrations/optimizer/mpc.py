"""Setpoint optimisation (MPC) for one zone: a first-order RC model, identified from history.

The zone follows ``C dT/dt = (T_out - T)/R + Q_hvac + Q_gains`` (kJ/K, K/kW, kW), held constant
over a slot and solved exactly, as the simulator's zones are: with ``a = exp(-dt / (R C))``,
``T[k+1] = a T[k] + (1 - a) (T_out[k] + R (Q_heat[k] - Q_cool[k] + gains[k]))``.

``identify`` fits ``R`` and ``C`` to recorded temperatures by least squares. ``solve`` finds the
least-cost heating and cooling that keeps the zone in its comfort band every slot (a linear
programme), and the setpoints that follow it. A band that cannot be met is found exactly before
the solve by propagating the interval of reachable temperatures slot by slot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from .const import EPS, Status
from .deferrable_input import slot_minutes, time_zone
from .errors import OptimizerInputError
from .inputs import mapping, moment, number, series, slot_label, unknown_keys

_KEYS = frozenset(
    {
        "slot_minutes", "start", "time_zone", "temperature", "outdoor", "gains", "price",
        "comfort_low", "comfort_high", "zone", "history", "heating_capacity",
        "cooling_capacity", "heating_cop", "cooling_cop", "time_limit",
    }
)  # fmt: skip
_HISTORY_KEYS = frozenset({"step_s", "temperature", "outdoor", "hvac", "gains"})


@dataclass(frozen=True, slots=True)
class ZoneModel:
    """A zone's envelope: resistance to outdoors (K/kW) and capacitance (kJ/K)."""

    resistance: float
    capacitance: float
    #: Root-mean-square error of the one-step prediction on the history it was fitted to, K.
    rmse: float | None = None

    @property
    def tau(self) -> float:
        """The time constant ``R C``, s."""
        return self.resistance * self.capacitance


@dataclass(frozen=True, slots=True)
class SetpointRequest:
    """One zone's setpoint problem over a horizon of slots."""

    slot_minutes: int
    start: datetime | None
    tz: tzinfo
    temperature: float
    outdoor: tuple[float, ...]
    gains: tuple[float, ...]
    price: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    zone: ZoneModel
    heating_capacity: float
    cooling_capacity: float
    heating_cop: float
    cooling_cop: float
    time_limit: float | None

    @property
    def slots(self) -> int:
        """The horizon, slots."""
        return len(self.outdoor)


def identify(
    step_s: float,
    temperature: list[float],
    outdoor: list[float],
    hvac: list[float],
    gains: list[float] | None = None,
) -> ZoneModel:
    """Fit R and C to a history sampled every ``step_s`` seconds (least squares).

    ``hvac`` is the heat the HVAC gave the zone (kW, negative when cooling), ``gains`` other
    known heat (solar, internal), each held over the step that starts at the sample. The fit is
    ``T[k+1] - T_out[k] = a (T[k] - T_out[k]) + b Q[k] + c``, so ``R = b / (1 - a)`` and
    ``C = -step / (R ln a)``; ``c`` takes up a constant unknown gain.

    Raises:
        OptimizerInputError: too little history, or one that does not identify a stable zone.
    """
    import numpy as np  # noqa: PLC0415 - NumPy only when a model is fitted

    n = len(temperature)
    if n < 10:
        raise OptimizerInputError("needs at least 10 samples", field="history.temperature")
    for key, values in (("outdoor", outdoor), ("hvac", hvac), ("gains", gains)):
        if values is not None and len(values) != n:
            raise OptimizerInputError(
                f"has {len(values)} samples, temperature has {n}", field=f"history.{key}"
            )
    t = np.asarray(temperature, dtype=float)
    out = np.asarray(outdoor, dtype=float)
    heat = np.asarray(hvac, dtype=float) + (
        0.0 if gains is None else np.asarray(gains, dtype=float)
    )
    y = t[1:] - out[:-1]
    x = np.column_stack([t[:-1] - out[:-1], heat[:-1], np.ones(n - 1)])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if not 0.0 < a < 1.0 or b <= 0.0:
        raise OptimizerInputError(
            f"does not identify a stable zone (decay {a:.4g}, heat gain {b:.4g}): the history "
            "needs the HVAC heat to vary and the zone to respond",
            field="history",
        )
    resistance = b / (1.0 - a)
    capacitance = -step_s / (resistance * math.log(a))
    rmse = float(np.sqrt(np.mean((x @ coef - y) ** 2)))
    return ZoneModel(resistance, capacitance, rmse)


def parse_setpoints(data: Mapping[str, Any], site_tz: tzinfo) -> SetpointRequest:
    """Read and check a request (the zone given by R and C, or by a history to fit).

    Raises:
        OptimizerInputError: with the key of the first bad value.
    """
    data = mapping(data, "request")
    unknown_keys(data, _KEYS, "")
    minutes = slot_minutes(data.get("slot_minutes", 15))
    tz = time_zone(data.get("time_zone"), site_tz)
    start = None if data.get("start") is None else moment(data["start"], "start", tz)
    if "outdoor" not in data:
        raise OptimizerInputError("is required (outdoor °C per slot)", field="outdoor")
    outdoor = series(data["outdoor"], "outdoor", None)
    n = len(outdoor)
    if n == 0:
        raise OptimizerInputError("must have at least one slot", field="outdoor")
    per_hour = 60 // minutes

    def band(key: str) -> list[float]:
        if key not in data:
            raise OptimizerInputError("is required (°C per hour or per slot)", field=key)
        value = data[key]
        if isinstance(value, list) and len(value) * per_hour == n and per_hour > 1:
            return [
                number(v, f"{key}.{i // per_hour}") for i, v in enumerate(_repeat(value, per_hour))
            ]
        return series(value, key, n)

    low, high = band("comfort_low"), band("comfort_high")
    for k, (lo, hi) in enumerate(zip(low, high, strict=True)):
        if lo > hi:
            raise OptimizerInputError(
                f"comfort low {lo:g} °C is above comfort high {hi:g} °C in slot {k}",
                field="comfort_low",
            )
    if data.get("zone") is not None:
        zone_data = mapping(data["zone"], "zone")
        unknown_keys(zone_data, frozenset({"resistance", "capacitance"}), "zone")
        zone = ZoneModel(
            number(zone_data.get("resistance"), "zone.resistance", minimum=0.0, strict_min=True),
            number(zone_data.get("capacitance"), "zone.capacitance", minimum=0.0, strict_min=True),
        )
    elif data.get("history") is not None:
        history = mapping(data["history"], "history")
        unknown_keys(history, _HISTORY_KEYS, "history")
        temps = series(history.get("temperature"), "history.temperature", None)
        zone = identify(
            number(history.get("step_s"), "history.step_s", minimum=0.0, strict_min=True),
            temps,
            series(history.get("outdoor"), "history.outdoor", len(temps)),
            series(history.get("hvac"), "history.hvac", len(temps)),
            None
            if history.get("gains") is None
            else series(history["gains"], "history.gains", len(temps)),
        )
    else:
        raise OptimizerInputError(
            "give the zone's resistance and capacitance, or a history", field="zone"
        )
    limit = data.get("time_limit")
    return SetpointRequest(
        slot_minutes=minutes,
        start=start,
        tz=tz,
        temperature=number(data.get("temperature"), "temperature"),
        outdoor=tuple(outdoor),
        gains=tuple(series(data.get("gains", 0.0), "gains", n)),
        price=tuple(series(data.get("price", 1.0), "price", n)),
        low=tuple(low),
        high=tuple(high),
        zone=zone,
        heating_capacity=number(data.get("heating_capacity", 0.0), "heating_capacity", minimum=0.0),
        cooling_capacity=number(data.get("cooling_capacity", 0.0), "cooling_capacity", minimum=0.0),
        heating_cop=number(
            data.get("heating_cop", 1.0), "heating_cop", minimum=0.0, strict_min=True
        ),
        cooling_cop=number(
            data.get("cooling_cop", 3.0), "cooling_cop", minimum=0.0, strict_min=True
        ),
        time_limit=None
        if limit is None
        else number(limit, "time_limit", minimum=0.0, strict_min=True),
    )


def _repeat(values: list[Any], times: int) -> list[Any]:
    return [v for v in values for _ in range(times)]


def _reachable(request: SetpointRequest) -> list[dict[str, Any]]:
    """The slots whose band cannot be met, found by propagating the reachable interval."""
    a = math.exp(-request.slot_minutes * 60 / request.zone.tau)
    r = request.zone.resistance
    low = high = request.temperature
    for k in range(request.slots):
        base = request.outdoor[k] + r * request.gains[k]
        coldest = a * low + (1 - a) * (base - r * request.cooling_capacity)
        warmest = a * high + (1 - a) * (base + r * request.heating_capacity)
        lo, hi = request.low[k], request.high[k]
        when = slot_label(request.start, timedelta(minutes=request.slot_minutes), k + 1, request.tz)
        at = f"slot {k}" + (f" (ending {when})" if when else "")
        if warmest < lo - 1e-9:
            return [
                {
                    "requirement": f"comfort low {lo:g} °C in {at}",
                    "reason": (
                        f"with full heating ({request.heating_capacity:g} kW) from the warmest "
                        f"reachable start the zone reaches at most {warmest:.2f} °C"
                    ),
                    "slots": [k],
                }
            ]
        if coldest > hi + 1e-9:
            return [
                {
                    "requirement": f"comfort high {hi:g} °C in {at}",
                    "reason": (
                        f"with full cooling ({request.cooling_capacity:g} kW) from the coolest "
                        f"reachable start the zone stays at least {coldest:.2f} °C"
                    ),
                    "slots": [k],
                }
            ]
        low, high = max(coldest, lo), min(warmest, hi)
    return []


def solve(request: SetpointRequest, time_limit: float) -> dict[str, Any]:
    """The least-cost setpoint schedule that keeps the zone in its band. See README.md."""
    from .milp import Model  # noqa: PLC0415 - SciPy only when solving

    started = time.perf_counter()
    problems = _reachable(request)
    if problems:
        return {
            "status": Status.INFEASIBLE.value,
            "message": "; ".join(f"{p['requirement']}: {p['reason']}" for p in problems),
            "problems": problems,
            "objective": None,
            "solve_time_s": time.perf_counter() - started,
            "slots": [],
        }
    n, dt = request.slots, request.slot_minutes / 60
    a = math.exp(-request.slot_minutes * 60 / request.zone.tau)
    r = request.zone.resistance
    m = Model()
    temp = [m.var(-math.inf, math.inf) for _ in range(n + 1)]
    m.fix(temp[0], request.temperature)
    heat = [m.var(0.0, request.heating_capacity) for _ in range(n)]
    cool = [m.var(0.0, request.cooling_capacity) for _ in range(n)]
    for k in range(n):
        m.add_cost(heat[k], request.price[k] * dt / request.heating_cop)
        m.add_cost(cool[k], request.price[k] * dt / request.cooling_cop)
        rhs = (1 - a) * (request.outdoor[k] + r * request.gains[k])
        m.row(
            [(temp[k + 1], 1.0), (temp[k], -a), (heat[k], -(1 - a) * r), (cool[k], (1 - a) * r)],
            rhs,
            rhs,
        )
        m.row([(temp[k + 1], 1.0)], request.low[k], request.high[k], "comfort")
    sol = m.solve(time_limit=time_limit)
    if sol.x is None:
        return {
            "status": sol.status.value,
            "message": f"no schedule found: {sol.message}",
            "problems": [],
            "objective": None,
            "solve_time_s": time.perf_counter() - started,
            "slots": [],
        }
    x = sol.x
    slot = timedelta(minutes=request.slot_minutes)
    slots = []
    energy = cost = 0.0
    for k in range(n):
        t_end = float(x[temp[k + 1]])
        q_heat = max(float(x[heat[k]]), 0.0)
        q_cool = max(float(x[cool[k]]), 0.0)
        electric = q_heat / request.heating_cop + q_cool / request.cooling_cop
        energy += electric * dt
        cost += electric * dt * request.price[k]
        lo, hi = request.low[k], request.high[k]
        setpoint = min(
            max(round(t_end, 1), math.ceil(lo * 10 - 1e-9) / 10), math.floor(hi * 10 + 1e-9) / 10
        )
        slots.append(
            {
                "index": k,
                "time": slot_label(request.start, slot, k, request.tz),
                "outdoor": request.outdoor[k],
                "price": request.price[k],
                "comfort_low": lo,
                "comfort_high": hi,
                "temperature": round(t_end, 4),
                "setpoint": setpoint,
                "heating_kw": round(q_heat, 6),
                "cooling_kw": round(q_cool, 6),
                "electric_kw": round(electric, 6),
                "reason": _reason(
                    t_end, q_heat=q_heat, q_cool=q_cool, lo=lo, hi=hi, request=request, k=k
                ),
            }
        )
    return {
        "status": sol.status.value,
        "message": "optimal"
        if sol.status is Status.OPTIMAL
        else "the time limit was reached: this is the best schedule found so far",
        "objective": round(cost, 6),
        "energy_kwh": round(energy, 6),
        "zone": {
            "resistance": request.zone.resistance,
            "capacitance": request.zone.capacitance,
            "tau_h": request.zone.tau / 3600,
            "fit_rmse": request.zone.rmse,
        },
        "solve_time_s": time.perf_counter() - started,
        "slot_minutes": request.slot_minutes,
        "problems": [],
        "slots": slots,
    }


def _reason(
    t_end: float,
    *,
    q_heat: float,
    q_cool: float,
    lo: float,
    hi: float,
    request: SetpointRequest,
    k: int,
) -> str:
    later = request.price[k + 1 :]
    dearer = bool(later) and max(later) > request.price[k] + 1e-12
    if q_heat > EPS:
        if t_end > lo + 1e-3:
            return f"pre-heating to {t_end:.2f} °C above the {lo:g} °C bound" + (
                " before dearer slots" if dearer else ""
            )
        return f"heating to hold the comfort low bound {lo:g} °C"
    if q_cool > EPS:
        if t_end < hi - 1e-3:
            return f"pre-cooling to {t_end:.2f} °C below the {hi:g} °C bound" + (
                " before dearer slots" if dearer else ""
            )
        return f"cooling to hold the comfort high bound {hi:g} °C"
    return f"free-floating inside the band {lo:g}-{hi:g} °C"
