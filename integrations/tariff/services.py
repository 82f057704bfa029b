"""``tariff.cheapest_window`` and ``tariff.cost_preview``: services with response data.

``cheapest_window``: ``duration``, optional ``earliest_start`` (default now), ``deadline``
(default the end of the known prices), ``blocks`` (1 to ``MAX_BLOCKS``), ``price_cap``,
``prefer`` (``earliest``/``latest`` on ties), optional ``power`` (W) for a cost.

``cost_preview``: an ``appliance`` (its nameplate power) or a ``profile`` (steps of
``minutes`` and ``watts``), a ``duration`` for an appliance, and ``deadline``; answers the cost
of starting ``now``, in the ``cheapest`` slots before the deadline, and at the ``next_cheaper``
slot, each with its saving against now.

``past_price``: the price at a past instant ``at`` (the TOU plan, or the price entity's
recorded forecasts and states, ``past.py``); with ``until`` and ``power`` (W), the energy and
cost of that draw over ``[at, until)`` (at most ``MAX_PAST_PERIOD``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import ServiceCall, SupportsResponse, validators
from core.errors import ServiceValidationError

from .const import (
    DOMAIN,
    MAX_BLOCKS,
    MAX_HORIZON,
    MAX_PAST_PERIOD,
    SERVICE_CHEAPEST_WINDOW,
    SERVICE_COST_PREVIEW,
    SERVICE_PAST_PRICE,
)
from .window import WindowError, cheapest

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Prices


def aware(value: Any) -> datetime:
    """An aware ISO 8601 datetime."""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            raise vol.Invalid(f"expected an ISO 8601 date and time, got {value!r}") from None
    if when.tzinfo is None:
        raise vol.Invalid(f"{value!r} needs a UTC offset, e.g. 2026-01-15T22:00:00+05:30")
    return when


_DURATION = vol.All(
    validators.time_period, vol.Range(min=timedelta(minutes=1), max=timedelta(hours=48))
)
WINDOW_SCHEMA = vol.Schema(
    {
        vol.Required("duration"): _DURATION,
        vol.Optional("earliest_start"): aware,
        vol.Optional("deadline"): aware,
        vol.Optional("blocks", default=1): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=MAX_BLOCKS)
        ),
        vol.Optional("price_cap"): vol.Coerce(float),
        vol.Optional("prefer", default="earliest"): vol.In(["earliest", "latest"]),
        vol.Optional("power"): vol.All(vol.Coerce(float), vol.Range(min=0, max=100_000)),
    }
)
_STEP = vol.Schema(
    {
        vol.Required("minutes"): vol.All(vol.Coerce(float), vol.Range(min=1, max=24 * 60)),
        vol.Required("watts"): vol.All(vol.Coerce(float), vol.Range(min=0, max=100_000)),
    }
)
PAST_SCHEMA = vol.Schema(
    {
        vol.Required("at"): aware,
        vol.Inclusive("until", "period"): aware,
        vol.Inclusive("power", "period"): vol.All(vol.Coerce(float), vol.Range(min=0, max=100_000)),
    }
)
PREVIEW_SCHEMA = vol.Schema(
    vol.All(
        vol.Schema(
            {
                vol.Exclusive("appliance", "what"): validators.entity_domain("appliance"),
                vol.Exclusive("profile", "what"): vol.All([_STEP], vol.Length(min=1, max=96)),
                vol.Optional("duration"): _DURATION,
                vol.Optional("deadline"): aware,
            }
        ),
        vol.Any(
            vol.Schema(
                {vol.Required("appliance"): str, vol.Required("duration"): object},
                extra=vol.ALLOW_EXTRA,
            ),
            vol.Schema({vol.Required("profile"): list}, extra=vol.ALLOW_EXTRA),
            msg="give an appliance with a duration, or a power profile",
        ),
    )
)


def window_request(prices: Prices, data: dict[str, Any]) -> dict[str, Any]:
    """The cheapest-window response for validated ``data``.

    Raises:
        ValueError: the search cannot be made (the message says why).
    """
    now = prices.now
    if prices.error is not None:
        raise ValueError(prices.error)
    earliest: datetime = data.get("earliest_start") or now
    end = prices.timeline.end
    deadline: datetime | None = data.get("deadline") or end
    if deadline is None or end is None:
        raise ValueError("no prices are known")
    if deadline <= now:
        raise ValueError(f"the deadline {deadline.isoformat()} is in the past")
    if deadline - earliest > MAX_HORIZON:
        raise ValueError(f"the search spans more than {MAX_HORIZON}")
    earliest = max(earliest, now)
    plan = cheapest(
        prices.timeline,
        data["duration"],
        earliest,
        deadline,
        blocks=data.get("blocks", 1),
        cap=data.get("price_cap"),
        latest=data.get("prefer") == "latest",
    )
    power = data.get("power")
    response = plan.as_dict(None if power is None else power / 1000.0)
    response["duration_minutes"] = data["duration"].total_seconds() / 60
    response["holes"] = [h.as_dict() for h in prices.timeline.holes(earliest, deadline)]
    return response


def preview(
    prices: Prices, profile: list[tuple[timedelta, float]], deadline: datetime | None
) -> dict[str, Any]:
    """Costs of a profile: now, cheapest before the deadline, next cheaper slot.

    Raises:
        ValueError: no price is known now, or the deadline leaves too little time.
    """
    timeline = prices.timeline
    now = prices.now
    length = sum((d for d, _ in profile), timedelta())
    if deadline is not None and deadline - now < length:
        raise ValueError(f"the deadline {deadline.isoformat()} leaves less than the run ({length})")
    step = timeline.resolution
    now_cost = timeline.profile_cost(now, profile)
    options: dict[str, Any] = {}

    def option(start: datetime | None) -> dict[str, Any] | None:
        if start is None:
            return None
        cost = timeline.profile_cost(start, profile)
        if cost is None:
            return None
        return {
            "start": start.isoformat(),
            "end": (start + length).isoformat(),
            "cost": round(cost, 6),
            "saving": None if now_cost is None else round(now_cost - cost, 6),
        }

    options["now"] = option(now)
    last = deadline or timeline.end
    best: datetime | None = None
    if last is not None and timeline.start is not None:
        # Each start on the grid (and now): the profile's cost there; the cheapest, earliest.
        origin = timeline.start
        cursor = origin + -((origin - now) // step) * step
        best_cost = now_cost
        best = now if now_cost is not None else None
        while cursor + length <= last:
            cost = timeline.profile_cost(cursor, profile)
            if cost is not None and (best_cost is None or cost < best_cost - 1e-9):
                best, best_cost = cursor, cost
            cursor += step
    options["cheapest"] = option(best)
    current = timeline.at(now)
    cheaper = None
    if current is not None:
        for segment in timeline.window(now, last or now):
            if segment.price < current.price and (last is None or segment.start + length <= last):
                cheaper = segment.start
                break
    options["next_cheaper"] = option(cheaper)
    return {"duration_minutes": length.total_seconds() / 60, "options": options}


def register_services(runtime: Runtime, prices: Prices) -> list[str]:
    """Register both services; returns their names."""

    def fail(service: str, err: Exception) -> ServiceValidationError:
        return ServiceValidationError(f"{DOMAIN}.{service}: {err}", domain=DOMAIN, service=service)

    async def cheapest_window(call: ServiceCall) -> dict[str, Any]:
        try:
            return window_request(prices, dict(call.data))
        except (ValueError, WindowError) as err:
            raise fail(SERVICE_CHEAPEST_WINDOW, err) from err

    async def cost_preview(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        if "appliance" in data:
            state = runtime.states.get(data["appliance"])
            if state is None:
                raise fail(SERVICE_COST_PREVIEW, ValueError(f"{data['appliance']} does not exist"))
            watts = float(state.attributes.get("nameplate_power") or 0.0)
            profile = [(data["duration"], watts)]
        else:
            profile = [(timedelta(minutes=s["minutes"]), s["watts"]) for s in data["profile"]]
        try:
            return preview(prices, profile, data.get("deadline"))
        except ValueError as err:
            raise fail(SERVICE_COST_PREVIEW, err) from err

    async def past_price(call: ServiceCall) -> dict[str, Any]:
        from .past import past_prices  # noqa: PLC0415 - reads the recorder when used

        data = call.data
        start: datetime = data["at"]
        end: datetime = data.get("until") or start + timedelta(seconds=1)
        if end <= start:
            raise fail(SERVICE_PAST_PRICE, ValueError("until must follow at"))
        if end - start > MAX_PAST_PERIOD:
            raise fail(
                SERVICE_PAST_PRICE,
                ValueError(f"the period is longer than {MAX_PAST_PERIOD.days} days"),
            )
        found = await past_prices(runtime, start, end)
        if found is None:  # the tariff stopped meanwhile
            raise fail(SERVICE_PAST_PRICE, ValueError("no tariff is running"))
        response: dict[str, Any] = {
            "at": start.isoformat(),
            "price": found.price_at(start),
            "currency": found.currency,
            "source": found.source,
        }
        if "until" in data:
            cost = found.cost([(start, end, data["power"])])
            response["until"] = end.isoformat()
            response["kwh"] = round(cost.kwh, 6)
            response["cost"] = round(cost.cost, 6)
            response["kwh_unpriced"] = round(cost.kwh_unpriced, 6)
        return response

    runtime.services.register(
        DOMAIN,
        SERVICE_PAST_PRICE,
        past_price,
        PAST_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="The price at a past instant, and the cost of a draw over a past period.",
    )
    runtime.services.register(
        DOMAIN,
        SERVICE_CHEAPEST_WINDOW,
        cheapest_window,
        WINDOW_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="The cheapest window (one or more blocks) before a deadline.",
    )
    runtime.services.register(
        DOMAIN,
        SERVICE_COST_PREVIEW,
        cost_preview,
        PREVIEW_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="What a run costs now, in the cheapest slots, and at the next cheaper slot.",
    )
    return [SERVICE_CHEAPEST_WINDOW, SERVICE_COST_PREVIEW, SERVICE_PAST_PRICE]
