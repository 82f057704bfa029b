"""History and logbook over WebSocket, with Home Assistant's commands and compressed shapes.

``history/history_during_period`` answers ``{entity_id: [{"s", "a", "lu", "lc"?}]}`` (states as
HA's frontend reads them, times in seconds); ``history/stream`` sends that history as its first
event and then each new state of the entities; ``logbook/event_stream`` sends the logbook of the
period, then new lines as they happen; ``recorder/info`` says how the recorder is doing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.auth.areas import area_aware, may_see, visible_entity_ids
from core.bus import Event, callback
from core.const import ATTR_FRIENDLY_NAME, ATTR_UNIT_OF_MEASUREMENT, EVENT_STATE_CHANGED
from core.http import register_command
from core.http.ws_commands import InvalidMessage, field
from core.http.ws_messages import event_message, result_message
from core.state import State, valid_entity_id

from .api import parse_ws_time
from .const import RecorderStatus

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

    from .core import Recorder
    from .history import HistoryItem

#: How far back a request may reach without a start time: a day, as in Home Assistant.
_DEFAULT_SPAN = timedelta(days=1)


def _entity_ids(msg: dict[str, Any]) -> list[str]:
    ids = [str(e).lower() for e in field(msg, "entity_ids", list)]
    if not ids or not all(valid_entity_id(e) for e in ids):
        raise InvalidMessage("expected a non-empty list of entity ids @ data['entity_ids']")
    return ids


def compressed(item: HistoryItem, no_attributes: bool) -> dict[str, Any]:
    """One history item in HA's WebSocket form (``s``, ``a``, ``lu``, ``lc`` when different)."""
    if isinstance(item, State):
        result: dict[str, Any] = {"s": item.state, "lu": item.last_updated_timestamp}
        if not no_attributes:
            result["a"] = dict(item.attributes)
        if item.last_changed_timestamp != item.last_updated_timestamp:
            result["lc"] = item.last_changed_timestamp
        return result
    return {"s": item["state"], "lu": datetime.fromisoformat(item["last_changed"]).timestamp()}


async def _history(
    recorder: Recorder, msg: dict[str, Any], entity_ids: list[str], start: datetime, end: datetime
) -> dict[str, list[dict[str, Any]]]:
    from .history import get_significant_states  # noqa: PLC0415 - on first use

    no_attributes = bool(field(msg, "no_attributes", bool, False))
    await recorder.flush()
    found = await get_significant_states(
        recorder,
        start,
        end,
        entity_ids,
        include_start_time_state=bool(field(msg, "include_start_time_state", bool, True)),
        significant_changes_only=bool(field(msg, "significant_changes_only", bool, True)),
        minimal_response=bool(field(msg, "minimal_response", bool, False)),
        no_attributes=no_attributes,
    )
    return {eid: [compressed(i, no_attributes) for i in items] for eid, items in found.items()}


def _period(msg: dict[str, Any]) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    start = parse_ws_time(msg, "start_time", now - _DEFAULT_SPAN)
    end = parse_ws_time(msg, "end_time", now)
    if end < start:
        raise InvalidMessage("end_time is before start_time")
    return start, end


def _history_during_period(recorder: Recorder) -> Callable[[Connection, dict[str, Any]], Any]:
    @area_aware
    async def history_during_period(conn: Connection, msg: dict[str, Any]) -> None:
        """The states of ``entity_ids`` (of the user's areas) from ``start_time`` to
        ``end_time``."""
        entity_ids = visible_entity_ids(conn.runtime, conn.user, _entity_ids(msg))
        start, end = _period(msg)
        result = await _history(recorder, msg, entity_ids, start, end) if entity_ids else {}
        conn.send(result_message(msg["id"], result))

    return history_during_period


def _history_stream(recorder: Recorder) -> Callable[[Connection, dict[str, Any]], Any]:
    @area_aware
    async def history_stream(conn: Connection, msg: dict[str, Any]) -> None:
        """The history since ``start_time`` as one event, then each new state as it comes
        (of the entities in the user's areas)."""
        entity_ids = visible_entity_ids(conn.runtime, conn.user, _entity_ids(msg))
        start, _ = _period(msg)
        no_attributes = bool(field(msg, "no_attributes", bool, False))
        msg_id = msg["id"]
        wanted = frozenset(entity_ids)
        pending: list[State] = []
        live = False

        @callback
        def forward(event: Event[Any]) -> None:
            new = event.data.get("new_state")
            if not isinstance(new, State) or new.entity_id not in wanted:
                return
            if not live:
                pending.append(new)  # sent after the history, in order
                return
            conn.send(
                event_message(
                    msg_id,
                    {"states": {new.entity_id: [compressed(new, no_attributes)]}},
                )
            )

        conn.subscriptions[msg_id] = conn.runtime.bus.listen(EVENT_STATE_CHANGED, forward)
        conn.send(result_message(msg_id))
        now = datetime.now(UTC)
        history = await _history(recorder, msg, entity_ids, start, now) if entity_ids else {}
        for state in pending:
            if state.last_updated_timestamp >= now.timestamp():
                history.setdefault(state.entity_id, []).append(compressed(state, no_attributes))
        live = True
        conn.send(
            event_message(
                msg_id,
                {"states": history, "start_time": start.timestamp(), "end_time": now.timestamp()},
            )
        )

    return history_stream


def _logbook_line(state: State) -> dict[str, Any]:
    return {
        "when": state.last_changed_timestamp,
        "state": state.state,
        "entity_id": state.entity_id,
        "name": state.attributes.get(ATTR_FRIENDLY_NAME) or state.name,
        "context_id": state.context.id,
        "context_user_id": state.context.user_id,
    }


def _event_stream(recorder: Recorder) -> Callable[[Connection, dict[str, Any]], Any]:
    @area_aware
    async def logbook_event_stream(conn: Connection, msg: dict[str, Any]) -> None:
        """The logbook's state lines since ``start_time``, then new ones as they happen (of the
        entities in the user's areas)."""
        from .history import state_changes_during_period  # noqa: PLC0415 - on first use

        entity_ids = field(msg, "entity_ids", list, None)
        runtime, user = conn.runtime, conn.user
        wanted = None if entity_ids is None else frozenset(str(e).lower() for e in entity_ids)
        if wanted is not None:
            wanted = frozenset(visible_entity_ids(runtime, user, wanted))
        limited = user.areas is not None
        start, _ = _period(msg)
        msg_id = msg["id"]

        @callback
        def forward(event: Event[Any]) -> None:
            new, old = event.data.get("new_state"), event.data.get("old_state")
            if not isinstance(new, State) or (wanted is not None and new.entity_id not in wanted):
                return
            if ATTR_UNIT_OF_MEASUREMENT in new.attributes:
                return  # continuous sensors are charts, not logbook lines
            if limited and not may_see(runtime, user, new.entity_id):
                return
            if isinstance(old, State) and old.state == new.state:
                return
            conn.send(event_message(msg_id, {"events": [_logbook_line(new)]}))

        conn.subscriptions[msg_id] = conn.runtime.bus.listen(EVENT_STATE_CHANGED, forward)
        conn.send(result_message(msg_id))
        now = datetime.now(UTC)
        await recorder.flush()
        lines: list[dict[str, Any]] = []
        for eid in sorted(wanted) if wanted is not None else [None]:
            changes = await state_changes_during_period(
                recorder, start, now, eid, include_start_time_state=False
            )
            for states in changes.values():
                lines.extend(
                    _logbook_line(s)
                    for s in states
                    if ATTR_UNIT_OF_MEASUREMENT not in s.attributes
                    and (not limited or may_see(runtime, user, s.entity_id))
                )
        lines.sort(key=lambda line: line["when"])
        conn.send(
            event_message(
                msg_id,
                {
                    "events": lines,
                    "start_time": start.timestamp(),
                    "end_time": now.timestamp(),
                    "partial": False,
                },
            )
        )

    return logbook_event_stream


def _info(recorder: Recorder) -> Callable[[Connection, dict[str, Any]], None]:
    @area_aware  # the recorder's own health: nothing of any area
    def recorder_info(conn: Connection, msg: dict[str, Any]) -> None:
        """How the recorder is doing, in the keys of Home Assistant's ``recorder/info``."""
        status = recorder.status
        conn.send(
            result_message(
                msg["id"],
                {
                    "backlog": recorder.queue_size,
                    "max_backlog": recorder.config.max_queue,
                    "migration_in_progress": False,
                    "migration_is_live": False,
                    "recording": status is not RecorderStatus.STOPPED,
                    "thread_running": status is not RecorderStatus.STOPPED,
                    "edgewise_status": status.value,
                },
            )
        )

    return recorder_info


def register_ws_api(runtime: Runtime, recorder: Recorder) -> None:
    """Add the commands (from the recorder's setup; removed when it stops)."""
    read = Permission.READ
    register_command(
        runtime, "history/history_during_period", _history_during_period(recorder), read
    )
    register_command(runtime, "history/stream", _history_stream(recorder), read)
    register_command(runtime, "logbook/event_stream", _event_stream(recorder), read)
    register_command(runtime, "recorder/info", _info(recorder), read)
