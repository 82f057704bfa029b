"""``/api/history/period`` and ``/api/logbook``, served from the recorder's database.

History uses ``integrations.recorder.history`` with Home Assistant's parameters; the logbook
merges the recorded state changes with the recorded events a logbook shows (start and stop,
automation and script runs, ``logbook_entry``), in Home Assistant's logbook entry shape. Both
answer 404 when the recorder is not set up. The recorder is imported when a request comes, so a
site without it does not pay for SQLAlchemy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.auth import Permission
from core.const import (
    ATTR_FRIENDLY_NAME,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_EDGEWISE_START,
    EVENT_EDGEWISE_STARTED,
    EVENT_EDGEWISE_STOP,
)
from core.state import State, valid_entity_id

from .view import RUNTIME, json_message, json_response, requires

if TYPE_CHECKING:
    from core.runtime import Runtime
    from integrations.recorder.core import Recorder

#: Event types the logbook shows, besides state changes.
LOGBOOK_EVENTS = (
    EVENT_EDGEWISE_START,
    EVENT_EDGEWISE_STARTED,
    EVENT_EDGEWISE_STOP,
    "automation_triggered",
    "script_started",
    "logbook_entry",
)
_NO_RECORDER = "History is not available: the recorder integration is not set up"


def _recorder(runtime: Runtime) -> Recorder | None:
    from integrations.recorder.core import RECORDER  # noqa: PLC0415 - only with a recorder

    return runtime.data.get(RECORDER)


async def _database_unavailable(recorder: Recorder) -> web.Response | None:
    """503 while the recorder's database is away (it opens once the runtime has started)."""
    from integrations.recorder.const import RecorderStatus  # noqa: PLC0415 - only with a recorder

    status = await recorder.wait_started()
    if status in (RecorderStatus.DEGRADED, RecorderStatus.STOPPED):
        return json_message(f"The recorder's database is not available ({status.value})", 503)
    return None


def parse_time(value: str, runtime: Runtime) -> datetime | None:
    """An ISO 8601 time from a URL; naive times are in the site's time zone."""
    # A '+' in a query string arrives as a space.
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=runtime.core.tzinfo)
    return parsed.astimezone(UTC)


def _period(request: web.Request) -> tuple[datetime, datetime] | web.Response:
    runtime = request.app[RUNTIME]
    if (stamp := request.match_info.get("timestamp")) is not None:
        start = parse_time(stamp, runtime)
        if start is None:
            return json_message("Invalid datetime", 400)
    else:
        start = datetime.now(UTC) - timedelta(days=1)
    end = start + timedelta(days=1)
    if (end_text := request.query.get("end_time")) is not None:
        parsed_end = parse_time(end_text, runtime)
        if parsed_end is None:
            return json_message("Invalid end_time", 400)
        end = parsed_end
    return start, end


def _entity_ids(value: str | None) -> list[str] | web.Response | None:
    if value is None:
        return None
    ids = [e.strip().lower() for e in value.split(",") if e.strip()]
    if not ids or not all(valid_entity_id(e) for e in ids):
        return json_message("Invalid filter_entity_id", 400)
    return ids


@requires(Permission.READ)
async def history_period(request: web.Request) -> web.StreamResponse:
    """``GET /api/history/period[/{timestamp}]``: one list of states per entity.

    The JSON is built straight from the database rows (``get_significant_states_json``).
    """
    from integrations.recorder.history import get_significant_states_json  # noqa: PLC0415

    period = _period(request)
    if isinstance(period, web.Response):
        return period
    start, end = period
    if "filter_entity_id" not in request.query:
        return json_message("filter_entity_id is missing", 400)
    entity_ids = _entity_ids(request.query["filter_entity_id"])
    if isinstance(entity_ids, web.Response):
        return entity_ids
    recorder = _recorder(request.app[RUNTIME])
    if recorder is None:
        return json_message(_NO_RECORDER, 404)
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


def _state_entry(state: State) -> dict[str, Any]:
    return {
        "when": state.last_changed.isoformat(),
        "state": state.state,
        "entity_id": state.entity_id,
        "name": state.attributes.get(ATTR_FRIENDLY_NAME) or state.name,
        "context_id": state.context.id,
        "context_user_id": state.context.user_id,
    }


def _event_entry(
    event_type: str, data: dict[str, Any], when: float, context_id: str | None
) -> dict[str, Any]:
    when_iso = datetime.fromtimestamp(when, UTC).isoformat()
    entry: dict[str, Any] = {"when": when_iso, "context_id": context_id}
    if event_type in (EVENT_EDGEWISE_START, EVENT_EDGEWISE_STARTED):
        entry.update(name="Edgewise", message="started", domain="homeassistant")
    elif event_type == EVENT_EDGEWISE_STOP:
        entry.update(name="Edgewise", message="stopped", domain="homeassistant")
    elif event_type == "automation_triggered":
        source = data.get("source")
        entry.update(
            name=data.get("name"),
            message=f"triggered by {source}" if source else "triggered",
            domain="automation",
            entity_id=data.get("entity_id"),
            source=source,
        )
    elif event_type == "script_started":
        entry.update(
            name=data.get("name"),
            message="started",
            domain="script",
            entity_id=data.get("entity_id"),
        )
    else:
        entry.update(
            name=data.get("name"),
            message=data.get("message"),
            domain=data.get("domain"),
            entity_id=data.get("entity_id"),
        )
    return entry


@requires(Permission.READ)
async def logbook(request: web.Request) -> web.StreamResponse:
    """``GET /api/logbook[/{timestamp}]``: state changes and notable events, oldest first."""
    from integrations.recorder.history import state_changes_during_period  # noqa: PLC0415
    from integrations.recorder.logbook import events_during_period  # noqa: PLC0415

    period = _period(request)
    if isinstance(period, web.Response):
        return period
    start, end = period
    entity = request.query.get("entity")
    if entity is not None and not valid_entity_id(entity.lower()):
        return json_message("Invalid entity", 400)
    recorder = _recorder(request.app[RUNTIME])
    if recorder is None:
        return json_message(_NO_RECORDER, 404)
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
    events = await events_during_period(recorder, start, end, LOGBOOK_EVENTS)
    for event in events:
        entry = _event_entry(event.event_type, event.data, event.time_fired_ts, event.context_id)
        if entity is None or entry.get("entity_id") == entity.lower():
            entries.append((event.time_fired_ts, entry))
    entries.sort(key=lambda item: item[0])
    return json_response([entry for _, entry in entries])


def add_routes(app: web.Application) -> None:
    """Mount history and logbook."""
    app.router.add_get("/api/history/period", history_period)
    app.router.add_get("/api/history/period/{timestamp}", history_period)
    app.router.add_get("/api/logbook", logbook)
    app.router.add_get("/api/logbook/{timestamp}", logbook)
