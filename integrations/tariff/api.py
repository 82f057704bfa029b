"""The tariff over REST and WebSocket, for the Energy page and any client.

REST (bearer token; reads need any user, writes an operator):

* ``GET /api/tariff/prices``: today's and tomorrow's segments, the cheapest windows, now.
* ``GET /api/tariff/schedules``: the schedules and the newest schedule log entries.
* ``POST /api/tariff/schedules``: create one (``schedule_spec.REQUEST_SCHEMA``), CONTROL.
* ``POST /api/tariff/schedules/delete``: ``{"schedule_id"}``, CONTROL.
* ``POST /api/tariff/preview``: ``tariff.cost_preview``'s answer for the picker, READ.
* ``GET /api/tariff/receipts``: receipts and day aggregates.

An area-limited user (``core.auth.areas``) sees the prices (they belong to no area) and the
schedules, log entries, receipts and day aggregates of the appliances in their areas; creating,
deleting or previewing for an appliance outside them is refused as if it did not exist.

WebSocket: the same as ``tariff/prices``, ``tariff/schedules``, ``tariff/schedule_create``,
``tariff/schedule_delete``, ``tariff/preview``, ``tariff/receipts``. Routes and commands are
registered per runtime and removed when the integration stops.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from core import RuntimeKey
from core.auth import Permission
from core.auth.areas import area_aware, may_see
from core.http import register_command, register_route
from core.http.view import current_user, json_response
from core.http.ws_messages import ERR_INVALID_FORMAT, ERR_NOT_FOUND, error_message, result_message

from .schedules import ScheduleError
from .services import PREVIEW_SCHEMA, preview
from .window import WindowError, cheapest

if TYPE_CHECKING:
    from core import Runtime
    from core.auth.models import User
    from core.http.websocket import Connection

    from .prices import Prices
    from .schedules import ApplianceSchedules
    from .store import TariffStore

#: Most bytes of a JSON body.
MAX_BODY = 16_384


class TariffApi:
    """What the handlers read and change."""

    def __init__(self, prices: Prices, schedules: ApplianceSchedules, store: TariffStore) -> None:
        self.prices = prices
        self.schedules = schedules
        self.store = store

    def prices_view(self) -> dict[str, Any]:
        """Today and tomorrow (local), the cheapest windows of each configured duration."""
        prices = self.prices
        tz = prices.runtime.core.tzinfo
        now = prices.now
        today = now.astimezone(tz).date()
        midnights = [
            datetime.combine(today + timedelta(days=n), time(0), tzinfo=tz).astimezone(UTC)
            for n in range(3)
        ]
        start, end = midnights[0], midnights[2]
        days = [
            {
                "date": (today + timedelta(days=n)).isoformat(),
                "start": a.isoformat(),
                "end": b.isoformat(),
            }
            for n, (a, b) in enumerate(itertools.pairwise(midnights))
        ]
        windows = []
        horizon = prices.timeline.end
        for duration in prices.config.windows:
            if horizon is None:
                break
            try:
                plan = cheapest(prices.timeline, duration, now, horizon)
            except WindowError:
                continue
            windows.append({"minutes": duration.total_seconds() / 60, **plan.as_dict()})
        current = prices.current()
        return {
            "now": now.isoformat(),
            "time_zone": str(tz),
            "days": days,
            "currency": prices.config.currency,
            "current": current.as_dict() if current else None,
            "segments": [s.as_dict() for s in prices.timeline.window(start, end)],
            "windows": windows,
            "problem": prices.error,
        }

    def _theirs(self, user: User | None, items: Any) -> list[dict[str, Any]]:
        """The items (each with an ``appliance``) of appliances ``user`` may see."""
        if user is None or user.areas is None:
            return list(items)
        runtime = self.prices.runtime
        return [i for i in items if may_see(runtime, user, str(i.get("appliance")))]

    def _check_appliance(self, user: User | None, appliance: Any) -> None:
        if user is not None and not may_see(self.prices.runtime, user, str(appliance)):
            raise ValueError(f"{appliance} does not exist")

    def schedules_view(self, user: User | None = None) -> dict[str, Any]:
        """The schedules and the newest 100 log entries (of the user's appliances)."""
        return {
            "schedules": self._theirs(user, self.schedules.list()),
            "log": self._theirs(user, self.store.log)[-100:][::-1],
        }

    def receipts_view(self, user: User | None = None) -> dict[str, Any]:
        """The newest 100 receipts, today so far per appliance (its day meter, costed at the
        tariff's prices), and the day aggregates of the last 62 days (of the user's
        appliances)."""
        today = []
        for key, run in self.store.open_runs.items():
            if key.startswith("day:") and self._theirs(user, [run]):
                today.append(
                    {
                        "appliance": run["appliance"],
                        "day": run.get("day"),
                        "energy_kwh": round(run["energy"], 6),
                        "cost": round(run["cost"], 6),
                        "runtime_s": round(run.get("runtime", 0.0), 3),
                    }
                )
        return {
            "receipts": self._theirs(user, self.store.receipts)[-100:][::-1],
            "today": today,
            "days": self._theirs(user, self.store.days)[-62 * 8 :],
            "currency": self.prices.config.currency,
        }

    def create(
        self, body: dict[str, Any], user: str | None, viewer: User | None = None
    ) -> dict[str, Any]:
        """Create a schedule for ``user`` (an id); raises ScheduleError (also for an appliance
        outside the areas of ``viewer``, the user asking)."""
        if viewer is not None and viewer.areas is not None:
            appliance = body.get("appliance")
            if isinstance(appliance, str) and not may_see(self.prices.runtime, viewer, appliance):
                raise ScheduleError(f"appliance: {appliance} does not exist")
        return self.schedules.create(body, user)

    def delete(self, body: dict[str, Any], user: User | None = None) -> dict[str, Any]:
        """Delete a schedule; raises KeyError (also for one of an appliance the user may not
        see)."""
        schedule_id = str(body.get("schedule_id", ""))
        spec = self.store.schedules.get(schedule_id)
        if spec is not None and user is not None and not self._theirs(user, [spec]):
            raise KeyError(schedule_id)
        self.schedules.delete(schedule_id)
        return {"id": schedule_id}

    def preview(self, body: dict[str, Any], user: User | None = None) -> dict[str, Any]:
        """Cost options for the picker; raises ValueError."""
        try:
            data = PREVIEW_SCHEMA(body)
        except vol.Invalid as err:
            raise ValueError(str(err)) from None
        if "appliance" in data:
            self._check_appliance(user, data["appliance"])
            state = self.prices.runtime.states.get(data["appliance"])
            if state is None:
                raise ValueError(f"{data['appliance']} does not exist")
            profile = [(data["duration"], float(state.attributes.get("nameplate_power") or 0))]
        else:
            profile = [(timedelta(minutes=s["minutes"]), s["watts"]) for s in data["profile"]]
        return preview(self.prices, profile, data.get("deadline"))


API: RuntimeKey[TariffApi] = RuntimeKey("tariff.api")

_ERRORS = (ScheduleError, KeyError, ValueError, WindowError)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"body: more than {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ValueError("body: not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body: expected a JSON object")
    return body


# name -> (method, path, permission, handler(api, body, user) -> response)
Action = Callable[[TariffApi, dict[str, Any], "User | None"], dict[str, Any]]
ACTIONS: dict[str, tuple[str, str, Permission, Action]] = {
    "prices": ("GET", "/api/tariff/prices", Permission.READ, lambda a, b, u: a.prices_view()),
    "schedules": (
        "GET",
        "/api/tariff/schedules",
        Permission.READ,
        lambda a, b, u: a.schedules_view(u),
    ),
    "schedule_create": (
        "POST",
        "/api/tariff/schedules",
        Permission.CONTROL,
        lambda a, b, u: a.create(b, None if u is None else u.id, u),
    ),
    "schedule_delete": (
        "POST",
        "/api/tariff/schedules/delete",
        Permission.CONTROL,
        lambda a, b, u: a.delete(b, u),
    ),
    "preview": ("POST", "/api/tariff/preview", Permission.READ, lambda a, b, u: a.preview(b, u)),
    "receipts": (
        "GET",
        "/api/tariff/receipts",
        Permission.READ,
        lambda a, b, u: a.receipts_view(u),
    ),
}


def _rest(
    api: TariffApi, method: str, action: Action
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @area_aware
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request) if method == "POST" else dict(request.query)
            return json_response(action(api, body, current_user(request)))
        except _ERRORS as err:
            message = f"no schedule {err}" if isinstance(err, KeyError) else str(err)
            return json_response({"message": message}, status=400)

    return handler


def _ws(action: Action) -> Callable[[Connection, dict[str, Any]], Coroutine[Any, Any, None]]:
    @area_aware
    async def handler(connection: Connection, message: dict[str, Any]) -> None:
        msg_id = message["id"]
        api = connection.runtime.data.get(API)
        if api is None:
            connection.send(error_message(msg_id, ERR_NOT_FOUND, "The tariff is not configured."))
            return
        body = {k: v for k, v in message.items() if k not in ("id", "type")}
        try:
            connection.send(result_message(msg_id, action(api, body, connection.user)))
        except _ERRORS as err:
            text = f"no schedule {err}" if isinstance(err, KeyError) else str(err)
            connection.send(error_message(msg_id, ERR_INVALID_FORMAT, text))

    return handler


_WS_HANDLERS = {name: _ws(action) for name, (_, _, _, action) in ACTIONS.items()}


def register_api(runtime: Runtime, api: TariffApi) -> Callable[[], None]:
    """Serve the routes and commands; returns the function that removes the routes."""
    runtime.data[API] = api
    removers: list[Callable[[], None]] = []
    for name, (method, path, permission, action) in ACTIONS.items():
        removers.append(register_command(runtime, f"tariff/{name}", _WS_HANDLERS[name], permission))
        removers.append(
            register_route(runtime, method, path, _rest(api, method, action), permission)
        )

    def remove() -> None:
        for remover in removers:
            remover()
        if API in runtime.data:
            del runtime.data[API]

    return remove
