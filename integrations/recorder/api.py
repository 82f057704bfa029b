"""The recorder's HTTP and WebSocket API: history, logbook and statistics.

REST (Home Assistant's): ``GET /api/history/period[/{timestamp}]`` and
``GET /api/logbook[/{timestamp}]``. WebSocket: ``history/downsampled`` (a chart's worth of
history) and ``recorder/statistics_during_period`` (long-term statistics of meters). Registered
by the recorder's setup through ``core.http`` like any plugin's, and removed when it stops.

The logbook merges recorded state changes with the recorded events that some integration
described (``runtime.logbook``): the kernel's start and stop, automation and script runs (the
automation engine describes those), ``logbook_entry`` (described here). Times outside
``QUERY_TIME_MIN``..``QUERY_TIME_MAX`` answer 400.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.auth import Permission
from core.auth.areas import area_aware, may_see, visible_entity_ids
from core.config import UnitSystem
from core.const import ATTR_FRIENDLY_NAME, ATTR_UNIT_OF_MEASUREMENT
from core.http import register_command, register_route
from core.http.view import RUNTIME, current_user, json_message, json_response
from core.http.ws_commands import InvalidMessage, context_for, field
from core.http.ws_messages import ERR_NOT_FOUND, error_message, result_message
from core.state import State, valid_entity_id

from .const import DOMAIN, RecorderStatus

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

    from .core import Recorder

#: Most points a downsampled history may ask for.
MAX_POINTS = 2000
#: The event the ``logbook.log`` action (and integrations) fire for a free-text line.
EVENT_LOGBOOK_ENTRY = "logbook_entry"


def register_api(runtime: Runtime, recorder: Recorder) -> None:
    """Add the history, logbook and statistics routes and commands (from the recorder's setup)."""
    history = _history_handler(recorder)
    logbook = _logbook_handler(recorder)
    for path in ("/api/history/period", "/api/history/period/{timestamp}"):
        register_route(runtime, "GET", path, history, Permission.READ)
    for path in ("/api/logbook", "/api/logbook/{timestamp}"):
        register_route(runtime, "GET", path, logbook, Permission.READ)
    register_command(runtime, "history/downsampled", _downsampled(recorder), Permission.READ)
    register_command(
        runtime, "recorder/statistics_during_period", statistics_during_period, Permission.READ
    )
    runtime.logbook.register(EVENT_LOGBOOK_ENTRY, _describe_entry)


def _describe_entry(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "name": data.get("name"),
        "message": data.get("message"),
        "domain": data.get("domain"),
        "entity_id": data.get("entity_id"),
    }


# --- times ---------------------------------------------------------------------------------------


def parse_time(value: str, runtime: Runtime, what: str) -> datetime | str:
    """An ISO 8601 time from a URL, in UTC (naive times are in the site's time zone).

    Returns:
        The time, or why it cannot be used (it does not parse, or is out of range).
    """
    # A '+' in a query string arrives as a space.
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return f"Invalid {what}"
    try:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=runtime.core.tzinfo)
        utc = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC: before datetime's own first day
        utc = None
    from .util import query_time_error  # noqa: PLC0415 - loads with the first query

    problem = query_time_error(parsed if utc is None else utc, f"The {what}")
    if utc is None or problem is not None:
        return problem or f"The {what} {value} is out of range"
    return utc


def _period(request: web.Request) -> tuple[datetime, datetime] | web.Response:
    runtime = request.app[RUNTIME]
    if (stamp := request.match_info.get("timestamp")) is not None:
        start = parse_time(stamp, runtime, "datetime")
        if isinstance(start, str):
            return json_message(start, 400)
    else:
        start = datetime.now(UTC) - timedelta(days=1)
    end = start + timedelta(days=1)
    if (end_text := request.query.get("end_time")) is not None:
        parsed_end = parse_time(end_text, runtime, "end_time")
        if isinstance(parsed_end, str):
            return json_message(parsed_end, 400)
        end = parsed_end
    return start, end


def _entity_ids(value: str | None) -> list[str] | web.Response | None:
    if value is None:
        return None
    ids = [e.strip().lower() for e in value.split(",") if e.strip()]
    if not ids or not all(valid_entity_id(e) for e in ids):
        return json_message("Invalid filter_entity_id", 400)
    return ids


async def _database_unavailable(recorder: Recorder) -> web.Response | None:
    """503 while the recorder's database is away (it opens once the runtime has started)."""
    status = await recorder.wait_started()
    if status in (RecorderStatus.DEGRADED, RecorderStatus.STOPPED):
        return json_message(f"The recorder's database is not available ({status.value})", 503)
    return None


# --- history -------------------------------------------------------------------------------------


def _history_handler(
    recorder: Recorder,
) -> Callable[[web.Request], Any]:
    @area_aware
    async def history_period(request: web.Request) -> web.StreamResponse:
        """``GET /api/history/period[/{timestamp}]``: one list of states per entity.

        The JSON is built straight from the database rows (``get_significant_states_json``).
        """
        from .history import get_significant_states_json  # noqa: PLC0415 - on first use

        period = _period(request)
        if isinstance(period, web.Response):
            return period
        start, end = period
        if "filter_entity_id" not in request.query:
            return json_message("filter_entity_id is missing", 400)
        entity_ids = _entity_ids(request.query["filter_entity_id"])
        if isinstance(entity_ids, web.Response):
            return entity_ids
        user = current_user(request)
        if user.areas is not None:
            # An area-limited user gets the history of their areas' entities only.
            runtime = request.app[RUNTIME]
            entity_ids = [e for e in entity_ids or () if may_see(runtime, user, e)]
            if not entity_ids:
                return json_response([])
        if start > datetime.now(UTC):
            return json_response([])
        if (unavailable := await _database_unavailable(recorder)) is not None:
            return unavailable
        await recorder.flush()
        text = await get_significant_states_json(
            recorder,
            start,
            end,
            entity_ids,
            include_start_time_state="skip_initial_state" not in request.query,
            significant_changes_only=request.query.get("significant_changes_only", "1") != "0",
            minimal_response="minimal_response" in request.query,
            no_attributes="no_attributes" in request.query,
        )
        return web.Response(text=text, content_type="application/json")

    return history_period


# --- logbook -------------------------------------------------------------------------------------


def _state_entry(state: State) -> dict[str, Any]:
    return {
        "when": state.last_changed.isoformat(),
        "state": state.state,
        "entity_id": state.entity_id,
        "name": state.attributes.get(ATTR_FRIENDLY_NAME) or state.name,
        "context_id": state.context.id,
        "context_user_id": state.context.user_id,
    }


#: The attributes of a thermostat whose changes the logbook shows (its set points).
SETPOINT_ATTRIBUTES = {
    "temperature": "target temperature",
    "target_temp_low": "low target temperature",
    "target_temp_high": "high target temperature",
}


def setpoint_entries(states: list[Any], unit: str) -> list[tuple[float, dict[str, Any]]]:
    """Logbook lines for the set point changes in one thermostat's ``states`` (oldest first).

    The first state is the one before the period (compared with, never shown itself); ``unit``
    is the site's temperature unit (a thermostat's state does not carry one).
    """
    entries: list[tuple[float, dict[str, Any]]] = []
    for before, after in itertools.pairwise(states):
        if not isinstance(before, State) or not isinstance(after, State):
            continue
        for key, label in SETPOINT_ATTRIBUTES.items():
            old, new = before.attributes.get(key), after.attributes.get(key)
            if new is None or old == new:
                continue
            message = f"changed its {label} to {new} {unit}"
            if old is not None:
                message += f" (was {old})"
            entry = _state_entry(after)
            entry["when"] = after.last_updated.isoformat()
            del entry["state"]
            entry["message"] = message
            entries.append((after.last_updated.timestamp(), entry))
    return entries


def _logbook_handler(recorder: Recorder) -> Callable[[web.Request], Any]:
    @area_aware
    async def logbook(request: web.Request) -> web.StreamResponse:
        """``GET /api/logbook[/{timestamp}]``: state changes and notable events, oldest first."""
        from .history import (  # noqa: PLC0415 - on first use
            get_significant_states,
            state_changes_during_period,
        )
        from .logbook import events_during_period  # noqa: PLC0415 - on first use

        period = _period(request)
        if isinstance(period, web.Response):
            return period
        start, end = period
        entity = request.query.get("entity")
        if entity is not None and not valid_entity_id(entity.lower()):
            return json_message("Invalid entity", 400)
        if (unavailable := await _database_unavailable(recorder)) is not None:
            return unavailable
        await recorder.flush()
        changes = await state_changes_during_period(
            recorder,
            start,
            end,
            None if entity is None else entity.lower(),
            include_start_time_state=False,
        )
        entries: list[tuple[float, dict[str, Any]]] = []
        for states in changes.values():
            for state in states:
                # Continuous sensors (with a unit) are charts, not logbook lines, as in HA.
                if ATTR_UNIT_OF_MEASUREMENT in state.attributes:
                    continue
                entries.append((state.last_changed_timestamp, _state_entry(state)))
        # A thermostat's set point is an attribute: its changes are lines of their own.
        runtime = request.app[RUNTIME]
        thermostats = (
            [entity.lower()]
            if entity is not None and entity.lower().startswith("climate.")
            else []
            if entity is not None
            else runtime.states.entity_ids("climate")
        )
        unit = "°F" if runtime.core.unit_system is UnitSystem.US_CUSTOMARY else "°C"
        if thermostats:
            histories = await get_significant_states(
                recorder, start, end, thermostats, significant_changes_only=False
            )
            for items in histories.values():
                entries.extend(setpoint_entries(items, unit))
        descriptions = request.app[RUNTIME].logbook
        events = await events_during_period(recorder, start, end, descriptions.event_types)
        for event in events:
            described = descriptions.describe(event.event_type, event.data)
            if described is None:
                continue
            entry: dict[str, Any] = {
                "when": datetime.fromtimestamp(event.time_fired_ts, UTC).isoformat(),
                "context_id": event.context_id,
                **described,
            }
            if entity is None or entry.get("entity_id") == entity.lower():
                entries.append((event.time_fired_ts, entry))
        user = current_user(request)
        if user.areas is not None:
            # An area-limited user sees the lines of their areas' entities, nothing else.
            entries = [
                item
                for item in entries
                if isinstance(eid := item[1].get("entity_id"), str) and may_see(runtime, user, eid)
            ]
        entries.sort(key=lambda item: item[0])
        return json_response([entry for _, entry in entries])

    return logbook


# --- WebSocket -----------------------------------------------------------------------------------


def parse_ws_time(msg: dict[str, Any], key: str, default: datetime) -> datetime:
    """``msg[key]`` as an aware datetime (UTC when naive), ``default`` when absent.

    Raises:
        InvalidMessage: not an ISO time, or outside the times the database holds.
    """
    text = field(msg, key, str, None)
    if text is None:
        return default
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidMessage(f"invalid datetime @ data['{key}']") from None
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    from .util import query_time_error  # noqa: PLC0415 - loads with the first query

    if (problem := query_time_error(parsed, key)) is not None:
        raise InvalidMessage(f"{problem} @ data['{key}']")
    return parsed


def _downsampled(recorder: Recorder) -> Callable[[Connection, dict[str, Any]], Any]:
    @area_aware
    async def history_downsampled(conn: Connection, msg: dict[str, Any]) -> None:
        """History of ``entity_ids`` from ``start_time`` to ``end_time`` in ``points`` items.

        Numbers come as buckets (``t``, ``mean``, ``min``, ``max``, ``count``), other states as
        changes (``t``, ``state``); see ``integrations.recorder.history.get_downsampled``.
        Entities outside an area-limited user's areas are left out, as if never recorded.
        """
        entity_ids = [str(e).lower() for e in field(msg, "entity_ids", list)]
        if not entity_ids or not all(valid_entity_id(e) for e in entity_ids):
            raise InvalidMessage("expected a non-empty list of entity ids @ data['entity_ids']")
        entity_ids = visible_entity_ids(conn.runtime, conn.user, entity_ids)
        now = datetime.now(UTC)
        end = parse_ws_time(msg, "end_time", now)
        start = parse_ws_time(msg, "start_time", max(end - timedelta(days=1), _EPOCH))
        points = field(msg, "points", int, 300)
        if not 1 <= points <= MAX_POINTS or end <= start:
            raise InvalidMessage(f"need 1 <= points <= {MAX_POINTS} and end_time after start_time")
        from .history import get_downsampled  # noqa: PLC0415 - on first use

        if not entity_ids:
            conn.send(result_message(msg["id"], {}))
            return
        await recorder.flush()
        result = await get_downsampled(recorder, entity_ids, start, end, points)
        conn.send(result_message(msg["id"], result))

    return history_downsampled


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@area_aware
async def statistics_during_period(conn: Connection, msg: dict[str, Any]) -> None:
    """Long-term statistics, as Home Assistant's command (answered by ``recorder.get_statistics``).

    Takes ``statistic_ids``, ``start_time``, optional ``end_time``, ``period`` and ``types``;
    answers ``{statistic_id: [rows]}``. An area-limited user gets the statistics of their
    areas' entities only (external statistics, ``source:name``, belong to no area: none).
    """
    if not conn.runtime.services.has(DOMAIN, "get_statistics"):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "The recorder's statistics are off"))
        return
    data: dict[str, Any] = {
        key: msg[key]
        for key in ("statistic_ids", "start_time", "end_time", "period", "types", "units")
        if key in msg
    }
    response = await conn.runtime.services.call(
        DOMAIN, "get_statistics", data, context=context_for(conn), return_response=True
    )
    statistics = response.get("statistics", {}) if isinstance(response, dict) else {}
    if conn.user.areas is not None:
        statistics = {
            key: rows
            for key, rows in statistics.items()
            if valid_entity_id(key) and may_see(conn.runtime, conn.user, key)
        }
    conn.send(result_message(msg["id"], statistics))
