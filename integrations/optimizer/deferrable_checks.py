"""Why a deferrable-load request cannot be met: checks that name the load and the slots.

Run before any solve (pure Python): each finding is a requirement that no plan can meet on its
own. Conflicts between requirements that each could be met are found after the solve by
``deferrable.diagnose`` (dropping groups of constraints).
"""

from __future__ import annotations

from dataclasses import dataclass

from .deferrable_input import DeferrableRequest, Load
from .inputs import runs, span

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Problem:
    """A requirement that cannot be met, and why."""

    requirement: str
    reason: str
    load: str | None = None
    slots: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "requirement": self.requirement,
            "reason": self.reason,
            "load": self.load,
            "slots": list(self.slots),
        }


def hours(slots: float, dt: float) -> str:
    """``2 h`` or ``1.5 h`` for a number of slots."""
    return f"{slots * dt:g} h"


def requirement_text(load: Load, dt: float) -> str:
    """What the load needs, in words."""
    if load.optional:
        return f"{load.name} may run up to {load.energy:g} kWh"
    if load.on_off:
        return (
            f"{load.name} needs {hours(load.slots, dt)} ({load.slots} slots at {load.power:g} kW)"
        )
    return f"{load.name} needs {load.energy:g} kWh at {load.min_power:g}-{load.power:g} kW"


def longest_run(usable: list[bool]) -> int:
    """The longest run of consecutive True values."""
    best = current = 0
    for ok in usable:
        current = current + 1 if ok else 0
        best = max(best, current)
    return best


def check(request: DeferrableRequest) -> list[Problem]:
    """Every requirement that cannot be met on its own, with the slots that stop it."""
    problems: list[Problem] = []
    dt = request.dt
    battery = request.battery
    discharge = 0.0 if battery is None else battery.discharge_power
    headroom: list[float] | None = None
    if request.import_limit is not None:
        limit = request.import_limit
        headroom = [
            limit + pv + discharge - base
            for pv, base in zip(request.pv, request.base_load, strict=True)
        ]
        short = [t for t, h in enumerate(headroom) if h < -_EPS]
        if short:
            t0 = short[0]
            problems.append(
                Problem(
                    requirement=f"the base load within the import limit of {limit:g} kW",
                    reason=(
                        f"the base load ({request.base_load[t0]:g} kW in slot {t0}) exceeds "
                        f"the import limit {limit:g} kW plus PV ({request.pv[t0]:g} kW) and "
                        f"battery discharge ({discharge:g} kW) in {runs(short)}"
                    ),
                    slots=tuple(short),
                )
            )
    surplus = [max(pv - base, 0.0) for pv, base in zip(request.pv, request.base_load, strict=True)]
    for load in request.loads:
        problems += _check_load(load, request, headroom, surplus)
    if battery is not None:
        n = request.slots
        delta = (battery.soc_final - battery.soc_initial) * battery.capacity
        can_charge = battery.charge_power * battery.charge_efficiency * n * dt
        can_discharge = battery.discharge_power / battery.discharge_efficiency * n * dt
        if delta > can_charge + 1e-6:
            problems.append(
                Problem(
                    requirement=f"battery final state of charge {battery.soc_final:.0%}",
                    reason=(
                        f"from {battery.soc_initial:.0%} it needs {delta:.3g} kWh more, but "
                        f"{battery.charge_power:g} kW for {hours(n, dt)} at "
                        f"{battery.charge_efficiency:.0%} efficiency stores at most "
                        f"{can_charge:.3g} kWh"
                    ),
                )
            )
        elif -delta > can_discharge + 1e-6:
            problems.append(
                Problem(
                    requirement=f"battery final state of charge {battery.soc_final:.0%}",
                    reason=(
                        f"from {battery.soc_initial:.0%} it must give {-delta:.3g} kWh, but "
                        f"{battery.discharge_power:g} kW for {hours(n, dt)} takes out at most "
                        f"{can_discharge:.3g} kWh"
                    ),
                )
            )
    return problems


def _check_load(
    load: Load, request: DeferrableRequest, headroom: list[float] | None, surplus: list[float]
) -> list[Problem]:
    dt = request.dt
    need = requirement_text(load, dt)
    window = load.window
    where = f"{hours(len(window), dt)} window ({span(load.start, load.end)})"
    if load.optional or load.energy <= _EPS:
        return []
    if load.on_off and load.slots > len(window):
        return [
            Problem(need, f"{load.name} needs {hours(load.slots, dt)} inside a {where}", load.name)
        ]
    capacity = load.power * len(window) * dt
    if not load.on_off and load.energy > capacity + 1e-9:
        reason = (
            f"at most {load.power:g} kW for its {where} gives {capacity:.3g} kWh, "
            f"it needs {load.energy:g} kWh"
        )
        return [Problem(need, reason, load.name)]
    for limit_name, room in (
        ("import", headroom),
        ("pv", surplus if load.pv_only else None),
    ):
        if room is None:
            continue
        usable = [room[t] >= load.min_power - 1e-9 and room[t] > _EPS for t in window]
        blocked = [t for t, ok in zip(window, usable, strict=True) if not ok]
        if not blocked:
            continue
        if load.on_off:
            have = longest_run(usable) if load.contiguous else sum(usable)
            enough = have >= load.slots
            got = f"{have} {'consecutive ' if load.contiguous else ''}slots"
            short = f"it needs {load.slots}"
        else:
            fit = sum(
                min(room[t], load.power) * dt for t, ok in zip(window, usable, strict=True) if ok
            )
            enough = fit >= load.energy - 1e-9
            got = f"{fit:.3g} kWh"
            short = f"it needs {load.energy:g} kWh"
            if load.contiguous and enough:
                continue  # a contiguous variable load is left to the solver's diagnosis
        if enough:
            continue
        if limit_name == "import":
            assert request.import_limit is not None  # noqa: S101 - headroom implies a limit
            reason = (
                f"import limit {request.import_limit:g} kW (with PV and battery) is below "
                f"{load.name}'s minimum {load.min_power:g} kW in {runs(blocked)}, "
                f"leaving {got} in its window; {short}"
            )
        else:
            reason = (
                f"{load.name} runs on surplus PV only, which is below its minimum "
                f"{load.min_power:g} kW in {runs(blocked)}, leaving {got} in its window; {short}"
            )
        return [Problem(need, reason, load.name, tuple(blocked))]
    return []
