"""The peak autopilot: pause running shiftable appliances in a peak, resume them after it.

On entering a slot type the policy names (``pause_in``, ``peak`` by default), every appliance
that is running and of a tier the policy names (``tiers``: ``shiftable`` and ``deferrable`` by
default; ``essential`` never) is switched off through its own service, under a context
tagged ``autopilot`` with the rule, and remembered (in the store, so a restart in the peak still
resumes it). Exempt: the appliances in ``must_run``, and those a user acted on within
``override`` before. A user who switches a paused appliance back on during the peak takes it
over: it is no longer the autopilot's to resume. On leaving the peak the paused appliances are
switched on again, a metered run (with a receipt against the peak price) is opened for each,
and the user is told. In dry-run mode the autopilot only says what it would do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core import Context
from core.entity_platform import entity_index

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Change, Prices
    from .runs import RunTracker
    from .schema import AutopilotConfig
    from .store import TariffStore

_LOGGER = logging.getLogger(__name__)

NOTIFICATION_ID = "tariff_autopilot"


class Autopilot:
    """Acts at slot boundaries. Use on the loop."""

    def __init__(
        self,
        runtime: Runtime,
        prices: Prices,
        store: TariffStore,
        runs: RunTracker,
        config: AutopilotConfig,
    ) -> None:
        self.runtime = runtime
        self.prices = prices
        self.store = store
        self.runs = runs
        self.config = config
        #: When a user last acted on each appliance (from the control log).
        self.user_actions: dict[str, datetime] = {}
        self._removers: list[Callable[[], None]] = []
        #: The last actions taken (for tests and the bench): (appliance, action, time).
        self.actions: list[tuple[str, str, datetime]] = []
        #: Called with each action taken: (appliance, service, time).
        self.listeners: list[Callable[[tuple[str, str, datetime]], None]] = []

    def start(self) -> None:
        """Follow the prices and the control log; resume what a peak left paused while down."""
        from integrations.appliance.api import CONTROL_LOG  # noqa: PLC0415 - set up before us

        log = self.runtime.data.get(CONTROL_LOG)
        if log is not None:
            self._removers.append(log.subscribe(self._on_control))
        self._removers.append(self.prices.subscribe(self._on_change))
        current = self.prices.current()
        if self.store.paused and (current is None or current.kind not in self.config.pause_in):
            self.runtime.create_task(
                self._resume("the peak ended while Edgewise was down"),
                name="tariff.autopilot.resume",
            )

    def stop(self) -> None:
        """Stop following."""
        for remove in self._removers:
            remove()
        self._removers.clear()

    # -- listening -----------------------------------------------------------------------------

    def _on_control(self, entry: Any) -> None:
        from integrations.appliance.const import Source  # noqa: PLC0415

        if entry.source is not Source.USER:
            return
        self.user_actions[entry.appliance] = entry.time
        if entry.appliance in self.store.paused and entry.action in ("turn_on", "toggle"):
            # The user took it back during the peak: it is theirs now.
            del self.store.paused[entry.appliance]
            self.store.save()

    def _on_change(self, change: Change) -> None:
        pause_in = self.config.pause_in
        was = change.before is not None and change.before.kind in pause_in
        now = change.after is not None and change.after.kind in pause_in
        if not was and now:
            kind = change.after.kind.value if change.after else "peak"
            self.runtime.create_task(self._pause(kind, change.when), name="tariff.autopilot.pause")
        elif was and not now:
            self.runtime.create_task(self._resume("the peak ended"), name="tariff.autopilot.resume")

    # -- acting --------------------------------------------------------------------------------

    def _candidates(self, when: datetime) -> tuple[list[Any], list[tuple[str, str]]]:
        """Running, movable appliances, and those exempt (with why)."""
        from integrations.appliance.const import ApplianceState, Tier  # noqa: PLC0415

        chosen: list[Any] = []
        exempt: list[tuple[str, str]] = []
        for entity in entity_index(self.runtime):
            if entity.domain != "appliance" or not hasattr(entity, "config"):
                continue
            if entity.state not in (ApplianceState.RUNNING.value, ApplianceState.ON.value):
                continue
            if entity.config.tier is Tier.ESSENTIAL or entity.config.tier not in self.config.tiers:
                continue
            if entity.entity_id in self.config.must_run:
                exempt.append((entity.entity_id, "must run"))
                continue
            last = self.user_actions.get(entity.entity_id)
            if last is not None and when - last <= self.config.override:
                exempt.append((entity.entity_id, "user override"))
                continue
            chosen.append(entity)
        return chosen, exempt

    async def _call(self, appliance: str, service: str, rule: str) -> str | None:
        from integrations.appliance.const import Source  # noqa: PLC0415
        from integrations.appliance.control_log import tag_context  # noqa: PLC0415

        context = Context()
        tag_context(self.runtime, context, Source.AUTOPILOT, rule)
        try:
            await self.runtime.services.call(
                "appliance", service, target={"entity_id": appliance}, context=context
            )
        except Exception as err:  # reported to the user, the others still handled
            _LOGGER.warning("Autopilot could not %s %s: %s", service, appliance, err)
            return str(err) or type(err).__name__
        action = (appliance, service, self.runtime.clock.now())
        self.actions.append(action)
        for listener in list(self.listeners):
            listener(action)
        return None

    async def _pause(self, kind: str, when: datetime) -> None:
        if not self.config.enabled:
            return
        rule = f"pause non-essential loads during {kind}"
        chosen, exempt = self._candidates(when)
        lines = [f"{a} left running ({why})" for a, why in exempt]
        for entity in chosen:
            appliance = entity.entity_id
            if self.config.dry_run:
                lines.append(f"would turn off {appliance}")
                continue
            # Close any open metered run of it (a scheduled run is cut short by the peak).
            error = await self._call(appliance, "turn_off", rule)
            if error is None:
                current = self.prices.current()
                self.store.paused[appliance] = {
                    "paused_at": when.isoformat(),
                    "rule": rule,
                    "price": current.price if current else None,
                }
                lines.append(f"turned off {appliance}")
            else:
                lines.append(f"could not turn off {appliance}: {error}")
        self.store.save()
        if lines:
            prefix = "Autopilot (dry run)" if self.config.dry_run else "Autopilot"
            self.runtime.notifications.create(
                f"{kind.replace('_', ' ').capitalize()} started: " + "; ".join(lines) + ".",
                title=prefix,
                notification_id=NOTIFICATION_ID,
            )

    async def _resume(self, why: str) -> None:
        if not self.store.paused:
            return
        rule = "resume after the peak"
        lines = []
        for appliance, info in list(self.store.paused.items()):
            if self.config.dry_run:
                lines.append(f"would turn on {appliance}")
                continue
            error = await self._call(appliance, "turn_on", rule)
            del self.store.paused[appliance]
            if error is None:
                now = self.runtime.clock.now()
                self.runs.open(
                    f"autopilot:{appliance}:{now.isoformat()}",
                    appliance,
                    {
                        "source": "autopilot",
                        "planned_start": info.get("paused_at"),
                        "baseline_price": info.get("price"),
                    },
                )
                lines.append(f"turned {appliance} back on")
            else:
                lines.append(f"could not turn {appliance} back on: {error}")
        self.store.save()
        self.runtime.notifications.create(
            f"{why[:1].upper()}{why[1:]}: " + "; ".join(lines) + ".",
            title="Autopilot",
            notification_id=NOTIFICATION_ID,
        )
