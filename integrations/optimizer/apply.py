"""A plan applied to equipment: each slot's command sent at the slot's start, through services.

Every command is an ordinary service call (``climate.set_temperature``, ``switch.turn_on`` /
``turn_off``), so it passes the entity's bounds, pacing and audit log like any other write, with
the ``apply_plan`` call's context as its parent. The command of the slot under way is sent at
once; later ones at their slot's start. Applying a new plan of the same kind cancels what is
left of the previous one. Appliance schedules (the tariff integration's) are not written here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.context import Context
from core.runtime import Runtime
from core.timers import Cancel

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Command:
    """One service call at one time."""

    when: datetime
    domain: str
    service: str
    data: dict[str, Any]


def setpoint_commands(plan: dict[str, Any], entity_id: str, now: datetime) -> list[Command]:
    """``climate.set_temperature`` to each slot's setpoint, from the slot under way on."""
    return _per_slot(
        plan,
        now,
        lambda slot: [
            (
                "climate",
                "set_temperature",
                {"entity_id": entity_id, "temperature": slot["setpoint"]},
            )
        ],
        "slot_minutes",
    )


def switch_commands(plan: dict[str, Any], switches: dict[str, str], now: datetime) -> list[Command]:
    """Switch each named load or chiller on while the plan runs it, off otherwise."""
    chillers = "hours" in plan

    def calls(slot: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for name, entity_id in sorted(switches.items()):
            on = bool(slot["chillers"][name]["on"]) if chillers else slot["loads"][name] > 0
            out.append(("switch", "turn_on" if on else "turn_off", {"entity_id": entity_id}))
        return out

    return _per_slot(plan, now, calls, None if chillers else "slot_minutes")


def override_commands(plan: dict[str, Any], points: dict[str, str], now: datetime) -> list[Command]:
    """A timed ``bacnet.override`` per slot and point: a setpoint, or on/off for a named load or
    chiller, held for one slot. When the plan ends the last override runs out and the point
    returns to what its priority array holds below it (nothing is left commanded).
    """
    kind_chillers = "hours" in plan
    step_s = 3600 if kind_chillers else plan["slot_minutes"] * 60

    def calls(slot: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for name, entity_id in sorted(points.items()):
            if "setpoint" in slot:
                value: Any = slot["setpoint"]
            elif kind_chillers:
                value = "active" if slot["chillers"][name]["on"] else "inactive"
            else:
                value = "active" if slot["loads"][name] > 0 else "inactive"
            data = {
                "entity_id": entity_id,
                "value": value,
                "duration": {"seconds": step_s},
                "requested_by": "optimizer.apply_plan",
            }
            out.append(("bacnet", "override", data))
        return out

    return _per_slot(plan, now, calls, None if kind_chillers else "slot_minutes")


def _per_slot(
    plan: dict[str, Any],
    now: datetime,
    calls: Callable[[dict[str, Any]], list[tuple[str, str, dict[str, Any]]]],
    minutes_key: str | None,
) -> list[Command]:
    slots = plan.get("slots") or plan.get("hours") or []
    step = timedelta(minutes=plan[minutes_key]) if minutes_key else timedelta(hours=1)
    commands = []
    for slot in slots:
        begin = (
            now + step * slot["index"]
            if slot.get("time") is None
            else datetime.fromisoformat(slot["time"])
        )
        if begin + step <= now:
            continue  # over already
        when = max(begin, now)
        commands += [Command(when, d, s, data) for d, s, data in calls(slot)]
    return commands


class Applier:
    """Sends a plan's commands at their times; one running plan per kind."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._cancels: dict[str, list[Cancel]] = {}

    def apply(self, kind: str, commands: list[Command], context: Context) -> None:
        """Cancel what is left of the previous plan of ``kind``; schedule ``commands``."""
        self.cancel(kind)
        scheduler = self._runtime.scheduler
        cancels: list[Cancel] = []
        if scheduler is None:
            raise RuntimeError("the runtime has no scheduler")
        for number, command in enumerate(commands):
            cancels.append(
                scheduler.at(
                    command.when,
                    self._sender(kind, command, context),
                    name=f"optimizer.apply[{kind}].{number}",
                )
            )
        self._cancels[kind] = cancels

    def _sender(
        self, kind: str, command: Command, context: Context
    ) -> Callable[[datetime], Coroutine[Any, Any, None]]:
        async def send(_when: datetime) -> None:
            try:
                await self._runtime.services.call(
                    command.domain, command.service, command.data, context=context.child()
                )
            except Exception:  # one failed write is logged; the rest of the plan still runs
                _LOGGER.exception(
                    "Applying the %s plan: %s.%s %s failed",
                    kind, command.domain, command.service, command.data,
                )  # fmt: skip

        return send

    def cancel(self, kind: str | None = None) -> None:
        """Cancel the commands not yet sent (of one kind, or all)."""
        kinds = list(self._cancels) if kind is None else [kind]
        for k in kinds:
            for cancel in self._cancels.pop(k, []):
                cancel()
