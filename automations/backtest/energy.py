"""The cost effect of a backtest's actions on appliances, priced by the tariff's past prices.

An action that switches an appliance (its ``appliance.*`` entity or its switch) holds, in the
replay, until the next recorded change of the entity it targeted, the appliance's next action,
or the end of the period (the replay's own rule: recorded states replace simulated ones). Over
that stretch the estimate compares what the appliance drew in the recorded history with what it
would have drawn: nothing when switched off, its nominal power when switched on. What it drew
comes from its power sensor's recorded readings (W) when it has some, else from its nominal
power while its recorded state was on. Each stretch is priced slot by slot with the tariff's
price at that time (``integrations.tariff.past``); energy at instants without a price is counted
apart. Only used when the tariff integration is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.state import finite_number

from .engine import ReplayResult

if TYPE_CHECKING:
    from core.runtime import Runtime
    from integrations.tariff.past import PastPrices

#: Recorded states that mean an appliance (or its switch) was running.
RUNNING_STATES = frozenset({"on", "running"})
#: Services whose effect on an appliance is known without a simulated state.
_TARGET_OF_SERVICE = {"turn_on": "on", "turn_off": "off", "run_for": "on"}

Step = tuple[datetime, datetime, float]  # from, to, W


@dataclass(frozen=True, slots=True)
class Appliance:
    """What the estimate needs of one appliance."""

    entity_id: str
    name: str
    power: float  # nominal, W
    switch: str | None
    power_sensor: str | None


def appliances_of(runtime: Runtime) -> dict[str, Appliance]:
    """The site's appliances by every entity id that controls one (its own and its switch)."""
    from core.entity_platform import entity_index  # noqa: PLC0415 - only when used

    found: dict[str, Appliance] = {}
    for entity in entity_index(runtime):
        config = getattr(entity, "config", None)
        if entity.domain != "appliance" or config is None:
            continue
        appliance = Appliance(
            entity.entity_id,
            str(config.name),
            float(config.power),
            config.switch,
            config.power_sensor,
        )
        found[entity.entity_id] = appliance
        if config.switch:
            found[config.switch] = appliance
    return found


@dataclass(frozen=True, slots=True)
class _Action:
    time: datetime
    service: str
    entity_id: str
    appliance: Appliance
    to: str


def _actions(result: ReplayResult, appliances: dict[str, Appliance]) -> list[_Action]:
    out = []
    for call in result.calls:
        simulated = {c["entity_id"]: str(c["to"]) for c in call.simulated}
        for entity_id in call.target.get("entity_id", []):
            appliance = appliances.get(entity_id)
            if appliance is None:
                continue
            to = simulated.get(entity_id) or _TARGET_OF_SERVICE.get(call.service)
            if to is None:
                continue
            running = "on" if to in RUNNING_STATES else "off"
            out.append(
                _Action(call.time, f"{call.domain}.{call.service}", entity_id, appliance, running)
            )
    out.sort(key=lambda a: a.time)
    return out


def _changes(items: Iterable[Any]) -> list[tuple[datetime, str]]:
    """(time, state) of each change of the state string, oldest first."""
    out: list[tuple[datetime, str]] = []
    for item in items:
        when = datetime.fromtimestamp(item.last_updated_timestamp, UTC)
        if not out or out[-1][1] != item.state:
            out.append((when, item.state))
    return out


def _steps(changes: Sequence[tuple[datetime, str]], end: datetime, watts_of: Any) -> list[Step]:
    """Piecewise-constant W from recorded changes; None values leave a gap."""
    out: list[Step] = []
    for i, (when, state) in enumerate(changes):
        following = changes[i + 1][0] if i + 1 < len(changes) else end
        watts = watts_of(state)
        if watts is not None and following > when:
            out.append((when, following, watts))
    return out


def _clip(steps: Iterable[Step], start: datetime, end: datetime) -> list[Step]:
    return [(max(a, start), min(b, end), w) for a, b, w in steps if b > start and a < end]


def _covered(steps: Sequence[Step], start: datetime, end: datetime) -> float:
    """Seconds of ``[start, end)`` that ``steps`` cover."""
    return sum((b - a).total_seconds() for a, b, _ in _clip(steps, start, end))


async def energy_effect(
    runtime: Runtime, result: ReplayResult, prices: PastPrices | None = None
) -> dict[str, Any] | None:
    """The kWh and cost the replayed actions would have moved per appliance; None without a
    tariff. See the module's docstring for the method."""
    from integrations.tariff.past import past_prices  # noqa: PLC0415 - only with a tariff

    start, end = result.start, result.reached
    if prices is None:
        prices = await past_prices(runtime, start, end)
    if prices is None:
        return None
    appliances = appliances_of(runtime)
    actions = _actions(result, appliances)
    report: dict[str, Any] = {
        "prices": prices.source,
        "currency": prices.currency,
        "method": (
            "Each action on an appliance lasts until the next recorded change of the entity it "
            "targeted, the appliance's next action or the end of the period. Over it, what the "
            "appliance drew in the recorded history (its power sensor's readings, else its "
            "nominal power while recorded on) is compared with what it would have drawn "
            "(nothing when off, its nominal power when on), priced at each instant's past price."
        ),
        "actions": [],
        "appliances": {},
        "total": {"kwh": 0.0, "cost": 0.0, "kwh_unpriced": 0.0},
        "notes": [],
    }
    if not actions:
        report["notes"].append("No action would have switched an appliance.")
        return report
    history = await _history(runtime, start, end, actions)
    by_appliance: dict[str, list[_Action]] = {}
    for action in actions:
        by_appliance.setdefault(action.appliance.entity_id, []).append(action)
    notes: set[str] = set()
    for group in by_appliance.values():
        appliance = group[0].appliance
        drawn, how = _drawn(appliance, history, end)
        if how is None:
            notes.add(
                f"{appliance.name}: no recorded power or state in the period; its actions are "
                "estimated as if it had been off."
            )
            how = "no history (taken as off)"
        totals = report["appliances"].setdefault(
            appliance.entity_id,
            {"name": appliance.name, "actions": 0, "kwh": 0.0, "cost": 0.0, "kwh_unpriced": 0.0},
        )
        for i, action in enumerate(group):
            until = _until(action, group[i + 1 :], history.get(action.entity_id, []), end)
            would = appliance.power if action.to == "on" else 0.0
            actual = _clip(drawn, action.time, until)
            delta = [(a, b, would - w) for a, b, w in actual]
            # Where nothing was recorded the appliance is taken as off.
            gap = (until - action.time).total_seconds() - _covered(actual, action.time, until)
            if would and gap > 0:
                delta += _gaps(actual, action.time, until, would)
            moved = prices.cost(delta)
            kwh, cost = round(moved.kwh, 6), round(moved.cost, 6)
            report["actions"].append(
                {
                    "time": action.time.isoformat(),
                    "until": until.isoformat(),
                    "service": action.service,
                    "entity_id": action.entity_id,
                    "appliance": appliance.name,
                    "to": action.to,
                    "kwh": kwh,
                    "cost": cost,
                    "kwh_unpriced": round(moved.kwh_unpriced, 6),
                    "drawn_from": how,
                }
            )
            totals["actions"] += 1
            totals["kwh"] = round(totals["kwh"] + kwh, 6)
            totals["cost"] = round(totals["cost"] + cost, 6)
            totals["kwh_unpriced"] = round(totals["kwh_unpriced"] + moved.kwh_unpriced, 6)
    for totals in report["appliances"].values():
        for key in ("kwh", "cost", "kwh_unpriced"):
            report["total"][key] = round(report["total"][key] + totals[key], 6)
    if report["total"]["kwh_unpriced"]:
        notes.add("Some energy fell where the tariff had no price: it is counted apart.")
    report["notes"] = sorted(notes)
    return report


def _gaps(steps: Sequence[Step], start: datetime, end: datetime, watts: float) -> list[Step]:
    """``watts`` over the stretches of ``[start, end)`` no step covers."""
    out: list[Step] = []
    cursor = start
    for a, b, _ in sorted(steps):
        if a > cursor:
            out.append((cursor, a, watts))
        cursor = max(cursor, b)
    if cursor < end:
        out.append((cursor, end, watts))
    return out


def _until(
    action: _Action,
    later: Sequence[_Action],
    recorded: Sequence[tuple[datetime, str]],
    end: datetime,
) -> datetime:
    """When ``action``'s effect ends: the next recorded change of its entity, the appliance's
    next action, or the end of the period."""
    candidates = [end]
    candidates += [when for when, _ in recorded if when > action.time][:1]
    candidates += [a.time for a in later if a.time > action.time][:1]
    return min(candidates)


async def _history(
    runtime: Runtime, start: datetime, end: datetime, actions: Sequence[_Action]
) -> dict[str, list[tuple[datetime, str]]]:
    """Recorded changes of the targeted entities, the appliances' switches and power sensors."""
    from integrations.recorder.core import RECORDER  # noqa: PLC0415 - only when used
    from integrations.recorder.history import get_significant_states  # noqa: PLC0415

    recorder = runtime.data.get(RECORDER)
    if recorder is None:
        return {}
    wanted: set[str] = set()
    for action in actions:
        appliance = action.appliance
        wanted.add(action.entity_id)
        wanted.add(appliance.entity_id)
        for entity_id in (appliance.switch, appliance.power_sensor):
            if entity_id:
                wanted.add(entity_id)
    found = await get_significant_states(
        recorder, start, end, sorted(wanted), significant_changes_only=False, no_attributes=True
    )
    return {
        entity_id: _changes(i for i in items if hasattr(i, "last_updated_timestamp"))
        for entity_id, items in found.items()
    }


def _drawn(
    appliance: Appliance, history: dict[str, list[tuple[datetime, str]]], end: datetime
) -> tuple[list[Step], str | None]:
    """What the appliance drew in the recorded history, and from what it was read."""
    if appliance.power_sensor and history.get(appliance.power_sensor):
        steps = _steps(history[appliance.power_sensor], end, finite_number)
        if steps:
            return steps, f"recorded readings of {appliance.power_sensor}"
    for entity_id in (appliance.switch, appliance.entity_id):
        if entity_id and history.get(entity_id):
            steps = _steps(
                history[entity_id],
                end,
                lambda state: appliance.power if state in RUNNING_STATES else 0.0,
            )
            return steps, f"nominal {appliance.power:g} W while {entity_id} was recorded on"
    return [], None
