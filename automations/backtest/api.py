"""The backtest's interfaces: WebSocket ``automation/backtest`` (progress events, cancel with
``automation/backtest/cancel``) and REST ``POST /api/config/automation/backtest``.

Operators and admins only (``Permission.CONTROL``). The request: ``config`` (the automation as
the editor saves it), ``start`` and ``end`` (ISO 8601; ``end`` defaults to now) or ``days``
(the last N days), optional ``automation_id`` (the automation it edits, to compare) and
``max_seconds`` (stop with a partial report after that long). Over WebSocket, ``yaml`` (the
editor's text) may be given instead of ``config``. The replay itself is imported
only when a backtest is asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.auth import Permission
from core.errors import ConfigError
from core.http import register_command, register_route
from core.http.view import json_response
from core.http.ws_messages import (
    ERR_INVALID_FORMAT,
    ERR_NOT_FOUND,
    error_message,
    event_message,
    result_message,
)
from core.yaml_loader import load_client_yaml_async

from .const import DEFAULT_MAX_SECONDS, MAX_PERIOD_DAYS

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

ROUTE = "/api/config/automation/backtest"
COMMAND = "automation/backtest"
COMMAND_CANCEL = "automation/backtest/cancel"
#: The name the editor's text is read under (as the editor's save reads it).
EDITOR_FILE = "automation.yaml"

#: Longest ``max_seconds`` a request may ask for.
MAX_REQUEST_SECONDS = 1800.0

#: The cancel events of running WebSocket backtests, by (connection, message id).
_RUNNING: dict[tuple[int, int], asyncio.Event] = {}


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """A checked request."""

    config: dict[str, Any]
    start: datetime
    end: datetime
    automation_id: str | None
    max_seconds: float


def _time(value: object, key: str, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(f"{key}: expected an ISO 8601 date and time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    return when


def parse_request(body: Mapping[str, Any], now: datetime) -> BacktestRequest:
    """Check a request body.

    Raises:
        ValueError: a field is missing or wrong; the message names it.
    """
    config = body.get("config")
    if not isinstance(config, dict):
        raise ValueError("config: expected the automation as a mapping")
    end = _time(body["end"], "end", now) if body.get("end") is not None else now
    if body.get("start") is not None:
        start = _time(body["start"], "start", now)
    else:
        days = body.get("days", 7)
        if (
            not isinstance(days, int | float)
            or isinstance(days, bool)
            or not 0 < days <= MAX_PERIOD_DAYS
        ):
            raise ValueError(f"days: expected a number of days from 0 to {MAX_PERIOD_DAYS}")
        start = end - timedelta(days=float(days))
    automation_id = body.get("automation_id")
    if automation_id is not None and (
        not isinstance(automation_id, str) or len(automation_id) > 255
    ):
        raise ValueError("automation_id: expected the id of an automation")
    max_seconds = body.get("max_seconds", DEFAULT_MAX_SECONDS)
    if (
        not isinstance(max_seconds, int | float)
        or isinstance(max_seconds, bool)
        or not 0 < max_seconds <= MAX_REQUEST_SECONDS
    ):
        raise ValueError(f"max_seconds: expected seconds from 0 to {MAX_REQUEST_SECONDS:g}")
    return BacktestRequest(config, start, end, automation_id, float(max_seconds))


async def run_request(
    runtime: Runtime,
    request: BacktestRequest,
    *,
    cancel: asyncio.Event | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the backtest a request asks for (see ``run.backtest`` for what it raises)."""
    from .engine import ReplayOptions  # noqa: PLC0415 - the replay imports the recorder
    from .run import backtest  # noqa: PLC0415 - same

    return await backtest(
        runtime,
        request.config,
        start=request.start,
        end=request.end,
        item_id=request.automation_id,
        options=ReplayOptions(max_seconds=request.max_seconds),
        cancel=cancel,
        progress=progress,
    )


async def _ws_backtest(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id: int = msg["id"]
    runtime = conn.runtime
    if isinstance(msg.get("yaml"), str):
        # The editor's text, read as saving reads it.
        try:
            raw = await load_client_yaml_async(msg["yaml"], EDITOR_FILE)
        except ConfigError as err:
            conn.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))
            return
        if not isinstance(raw, dict):
            conn.send(error_message(msg_id, ERR_INVALID_FORMAT, "An automation is a mapping"))
            return
        raw.pop("id", None)
        msg = {**msg, "config": raw}
    try:
        request = parse_request(msg, runtime.clock.now())
    except (ValueError, KeyError) as err:
        conn.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))
        return
    cancel = asyncio.Event()
    key = (id(conn), msg_id)
    _RUNNING[key] = cancel

    def progress(info: dict[str, Any]) -> None:
        conn.send(event_message(msg_id, {"progress": info}))

    try:
        report = await run_request(runtime, request, cancel=cancel, progress=progress)
    finally:
        _RUNNING.pop(key, None)
    conn.send(result_message(msg_id, report))


def _ws_cancel(conn: Connection, msg: dict[str, Any]) -> None:
    msg_id: int = msg["id"]
    target = msg.get("backtest_id")
    cancel = _RUNNING.get((id(conn), target)) if isinstance(target, int) else None
    if cancel is None:
        conn.send(error_message(msg_id, ERR_NOT_FOUND, "No such backtest is running"))
        return
    cancel.set()
    conn.send(result_message(msg_id))


def register_api(runtime: Runtime) -> None:
    """Serve the backtest (removed with the integration when it stops)."""
    from automations.validation import InvalidConfig  # noqa: PLC0415 - light, but only here

    async def rest(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return json_response({"message": "The body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return json_response({"message": "The body must be a JSON object"}, status=400)
        try:
            parsed = parse_request(body, runtime.clock.now())
        except (ValueError, KeyError) as err:
            return json_response({"message": str(err)}, status=400)
        from .run import BacktestError  # noqa: PLC0415 - the replay imports SQLAlchemy

        try:
            report = await run_request(runtime, parsed)
        except InvalidConfig as err:
            return json_response({"message": f"Message malformed: {err}"}, status=400)
        except BacktestError as err:
            return json_response({"message": str(err)}, status=400)
        return json_response(report)

    register_command(runtime, COMMAND, _ws_backtest, Permission.CONTROL)
    register_command(runtime, COMMAND_CANCEL, _ws_cancel, Permission.CONTROL)
    register_route(runtime, "POST", ROUTE, rest, Permission.CONTROL)
