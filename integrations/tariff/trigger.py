"""The ``tariff`` trigger platform: slot entered or left, price above or below, before a peak.

::

    triggers:
      - trigger: tariff
        event: slot_entered        # slot_entered, slot_left, price_above, price_below, before_peak
        slot_type: peak            # for slot_entered / slot_left
      - trigger: tariff
        event: price_above
        value: 0.35
      - trigger: tariff
        event: before_peak
        minutes: 30

Slot and price triggers fire on the change itself (a boundary or a new forecast), not while it
lasts. ``before_peak`` is a timer armed at the next peak start minus ``minutes``, re-armed when
the prices change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import RuntimeKey, callback
from core.trigger import TriggerFire, TriggerInfo

from .const import SlotType

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Change, Prices

#: The running site's prices, for the trigger platform and the API.
PRICES: RuntimeKey[Prices] = RuntimeKey("tariff.prices")

EVENTS = ("slot_entered", "slot_left", "price_above", "price_below", "before_peak")


def _needs(config: dict[str, Any]) -> dict[str, Any]:
    event = config["event"]
    if event in ("slot_entered", "slot_left") and "slot_type" not in config:
        raise vol.Invalid(f"{event} needs slot_type", path=["slot_type"])
    if event in ("price_above", "price_below") and "value" not in config:
        raise vol.Invalid(f"{event} needs value", path=["value"])
    return config


class TariffTrigger:
    """The platform object handed to the automation engine."""

    schema = vol.All(
        vol.Schema(
            {
                vol.Required("event"): vol.In(EVENTS),
                vol.Optional("slot_type"): vol.In([t.value for t in SlotType]),
                vol.Optional("value"): vol.Coerce(float),
                vol.Optional("minutes", default=30): vol.All(
                    vol.Coerce(float), vol.Range(min=0, max=24 * 60)
                ),
            },
            extra=vol.ALLOW_EXTRA,
        ),
        _needs,
    )

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Callable[[], None]:
        """Follow the prices for this trigger; returns the detach function."""
        prices = runtime.data.get(PRICES)
        if prices is None:
            raise vol.Invalid("the tariff integration is not running")
        event = config["event"]
        if event == "before_peak":
            return _attach_before_peak(runtime, prices, config, fire)

        def on_change(change: Change) -> None:
            payload = _match(event, config, change)
            if payload is not None:
                fire({"event": event, **payload}, None)

        return prices.subscribe(on_change)


def _describe(change: Change) -> dict[str, Any]:
    return {
        "from_type": change.before.kind.value if change.before else None,
        "to_type": change.after.kind.value if change.after else None,
        "from_price": change.before.price if change.before else None,
        "to_price": change.after.price if change.after else None,
        "time": change.when.isoformat(),
    }


def _match(event: str, config: dict[str, Any], change: Change) -> dict[str, Any] | None:
    before, after = change.before, change.after
    if event in ("slot_entered", "slot_left"):
        kind = SlotType(config["slot_type"])
        was = before is not None and before.kind == kind
        now = after is not None and after.kind == kind
        hit = (not was and now) if event == "slot_entered" else (was and not now)
        return _describe(change) if hit else None
    value = float(config["value"])
    old = before.price if before is not None else None
    new = after.price if after is not None else None
    if new is None:
        return None
    if event == "price_above":
        hit = new > value and (old is None or old <= value)
    else:
        hit = new < value and (old is None or old >= value)
    return _describe(change) if hit else None


def _attach_before_peak(
    runtime: Runtime, prices: Prices, config: dict[str, Any], fire: TriggerFire
) -> Callable[[], None]:
    lead = timedelta(minutes=float(config["minutes"]))
    cancel_timer: list[Callable[[], None]] = []
    armed_for: list[datetime] = []

    def arm(_change: Change | None = None) -> None:
        peak = prices.next_peak()
        if armed_for and peak == armed_for[0]:
            return
        for cancel in cancel_timer:
            cancel()
        cancel_timer.clear()
        armed_for.clear()
        scheduler = runtime.scheduler
        if peak is None or scheduler is None or peak - lead < prices.now:
            return
        armed_for.append(peak)

        @callback
        def due(when: datetime) -> None:
            fire(
                {
                    "event": "before_peak",
                    "peak_start": peak.isoformat(),
                    "minutes": lead.total_seconds() / 60,
                    "time": when.isoformat(),
                },
                None,
            )

        cancel_timer.append(scheduler.at(peak - lead, due, name="tariff.trigger.before_peak"))

    remove = prices.subscribe(arm)
    arm()

    def detach() -> None:
        remove()
        for cancel in cancel_timer:
            cancel()
        cancel_timer.clear()

    return detach
