"""The control log over REST and WebSocket, for the panel and any client.

``GET /api/appliance/control_log?appliance=appliance.kettle&source=user&start=...&end=...&limit=50``
and the WebSocket command ``{"type": "appliance/control_log", ...same keys}`` answer
``{"entries": [...]}``, newest first. Any signed-in user may read it (``Permission.READ``); an
area-limited user reads the entries of the appliances in their areas only (``core.auth.areas``).

Both are registered per runtime (``core.http.register_route`` and ``register_command``) and
removed when the integration stops.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core import RuntimeKey
from core.auth import Permission
from core.auth.areas import area_aware, may_see, visible_entity_ids
from core.http import register_command, register_route
from core.http.view import current_user, json_response
from core.http.ws_messages import ERR_INVALID_FORMAT, ERR_NOT_FOUND, error_message, result_message

from .const import DOMAIN as APPLIANCE_DOMAIN
from .const import MAX_QUERY_LIMIT, Source
from .control_log import ControlLog, ControlLogEntry, LogQuery

if TYPE_CHECKING:
    from collections.abc import Callable

    from core import Runtime
    from core.auth.models import User
    from core.http.websocket import Connection

#: The runtime's control log, for the API handlers.
CONTROL_LOG: RuntimeKey[ControlLog] = RuntimeKey("appliance.control_log")

COMMAND_CONTROL_LOG = "appliance/control_log"
ROUTE_CONTROL_LOG = "/api/appliance/control_log"


def parse_query(args: dict[str, Any]) -> LogQuery:
    """A ``LogQuery`` from request arguments.

    Raises:
        ValueError: an argument is malformed; the message names it.
    """
    appliance = args.get("appliance")
    if appliance is not None and (not isinstance(appliance, str) or len(appliance) > 255):
        raise ValueError("appliance: expected an entity id such as appliance.kettle")
    source = args.get("source")
    try:
        parsed_source = Source(source) if source is not None else None
    except ValueError:
        raise ValueError(
            f"source: expected one of {', '.join(s.value for s in Source)}, got {source!r}"
        ) from None
    times: dict[str, datetime | None] = {}
    for key in ("start", "end"):
        value = args.get(key)
        if value is None:
            times[key] = None
            continue
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{key}: expected an ISO 8601 date and time, got {value!r}") from None
        if when.tzinfo is None:
            raise ValueError(f"{key}: needs a time zone, e.g. 2026-01-15T00:00:00+00:00")
        times[key] = when
    raw_limit = args.get("limit", 100)
    try:
        limit = int(raw_limit)
    except (TypeError, ValueError):
        raise ValueError(f"limit: expected a whole number, got {raw_limit!r}") from None
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise ValueError(f"limit: expected 1 to {MAX_QUERY_LIMIT}, got {limit}")
    return LogQuery(
        appliance=appliance,
        source=parsed_source,
        start=times["start"],
        end=times["end"],
        limit=limit,
    )


async def query_for(
    runtime: Runtime, user: User, log: ControlLog, query: LogQuery
) -> list[ControlLogEntry]:
    """The entries of ``query`` that ``user`` may see: for an area-limited user, those of the
    appliances in their areas (each asked for on its own, so ``limit`` still counts)."""
    if user.areas is None:
        return await log.query(query)
    if query.appliance is not None:
        return await log.query(query) if may_see(runtime, user, query.appliance) else []
    theirs = visible_entity_ids(runtime, user, runtime.states.entity_ids(APPLIANCE_DOMAIN))
    found: list[ControlLogEntry] = []
    for appliance in theirs:
        found += await log.query(dataclasses.replace(query, appliance=appliance))
    found.sort(key=lambda entry: entry.time, reverse=True)
    return found[: query.limit]


@area_aware
async def _ws_control_log(connection: Connection, message: dict[str, Any]) -> None:
    msg_id = message["id"]
    log = connection.runtime.data.get(CONTROL_LOG)
    if log is None:
        connection.send(error_message(msg_id, ERR_NOT_FOUND, "No appliances are configured."))
        return
    try:
        query = parse_query({k: v for k, v in message.items() if k not in ("id", "type")})
    except ValueError as err:
        connection.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))
        return
    entries = await query_for(connection.runtime, connection.user, log, query)
    connection.send(result_message(msg_id, {"entries": [entry.as_dict() for entry in entries]}))


def register_api(runtime: Runtime, log: ControlLog) -> Callable[[], None]:
    """Serve the control log; returns the function that removes the route."""
    runtime.data[CONTROL_LOG] = log

    @area_aware
    async def rest(request: web.Request) -> web.StreamResponse:
        try:
            query = parse_query(dict(request.query))
        except ValueError as err:
            return json_response({"message": str(err)}, status=400)
        entries = await query_for(runtime, current_user(request), log, query)
        return json_response({"entries": [entry.as_dict() for entry in entries]})

    remove_command = register_command(
        runtime, COMMAND_CONTROL_LOG, _ws_control_log, Permission.READ
    )
    remove_route = register_route(runtime, "GET", ROUTE_CONTROL_LOG, rest, Permission.READ)

    def remove() -> None:
        remove_command()
        remove_route()
        if CONTROL_LOG in runtime.data:
            del runtime.data[CONTROL_LOG]

    return remove
