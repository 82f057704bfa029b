"""Templates over the APIs: ``POST /api/template`` and the ``render_template`` command.

The REST route renders once and answers plain text (Home Assistant renders without parsing the
result there). The WebSocket command answers ``result``, then an event with the result and what it
listens to (``{"result": ..., "listeners": {"all", "domains", "entities", "time"}}``), then a new
event each time the result changes (``core.template.track_template``'s rules: only when what it
read changed; ``now()`` at most once a minute).

Both are for admins, as in Home Assistant: a template reads every state and runs on the event
loop. An area-limited admin's template reads the site limited to their areas
(``core.auth.area_view``): other buildings' entities, devices and areas do not exist for it.

Each render over the API has a short time budget (``API_RENDER_TIME``) so that even an admin's
runaway template cannot hold the loop; a subscription whose render runs past it gets an error event
and ends. One connection holds at most ``MAX_TEMPLATE_SUBSCRIPTIONS`` templates, and their renders
together take at most ``API_RENDER_SHARE`` of every second (the rest wait for the next second).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from aiohttp import web

from core.auth import Permission
from core.auth.area_view import area_view
from core.auth.areas import area_aware
from core.template import Template, TemplateError, TemplateTimeoutError
from core.template.tracking import RenderPacer, TemplateTracker

from .view import RUNTIME, InvalidJson, current_user, json_message, read_json, requires
from .ws_commands import field, register_command
from .ws_messages import ERR_TEMPLATE_ERROR, error_message, event_message, result_message

if TYPE_CHECKING:
    from .websocket import Connection

#: The time budget of one render over the API, in seconds.
API_RENDER_TIME = 0.05
#: The most ``render_template`` subscriptions one WebSocket connection may hold.
MAX_TEMPLATE_SUBSCRIPTIONS = 32
#: The seconds of rendering one connection's subscriptions may take in every second.
API_RENDER_SHARE = 0.1


class _ConnectionTemplates:
    """The template subscriptions of one connection, and the pacer their renders share."""

    def __init__(self) -> None:
        self.pacer = RenderPacer(API_RENDER_SHARE)
        self.ids: set[int] = set()


_BY_CONNECTION: WeakKeyDictionary[Connection, _ConnectionTemplates] = WeakKeyDictionary()


@requires(Permission.ADMIN)
@area_aware
async def api_template(request: web.Request) -> web.StreamResponse:
    """``POST /api/template``: render ``template`` with ``variables``; the text, or 400."""
    try:
        data = await read_json(request)
    except InvalidJson as err:
        return json_message(f"Error rendering template: {err}", 400)
    if not isinstance(data, dict) or not isinstance(data.get("template"), str):
        return json_message('Error rendering template: expected {"template": "..."}', 400)
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return json_message("Error rendering template: variables must be an object", 400)
    try:
        runtime = area_view(request.app[RUNTIME], current_user(request))
        template = Template(data["template"], runtime, name="POST /api/template")
        # Compiling is not interruptible, and a long source takes long: off the loop.
        await asyncio.to_thread(template.ensure_valid)
        result = template.render(variables, parse_result=False, time_budget=API_RENDER_TIME)
    except TemplateError as err:
        return json_message(f"Error rendering template: {err}", 400)
    return web.Response(text=str(result), content_type="text/plain")


def _listeners(tracker: TemplateTracker) -> dict[str, Any]:
    info = tracker.info
    return {
        "all": info.all_states,
        "domains": sorted(info.domains),
        "entities": sorted(info.entities),
        "time": info.uses_now,
    }


@register_command("render_template", Permission.ADMIN)
@area_aware
async def render_template(conn: Connection, msg: dict[str, Any]) -> None:
    """Render a template and send its result again whenever it changes."""
    source = field(msg, "template", str)
    variables = field(msg, "variables", dict, None)
    report_errors = bool(field(msg, "report_errors", bool, False))
    msg_id: int = msg["id"]
    mine = _BY_CONNECTION.get(conn)
    if mine is None:
        mine = _BY_CONNECTION[conn] = _ConnectionTemplates()
    if len(mine.ids) >= MAX_TEMPLATE_SUBSCRIPTIONS:
        conn.send(
            error_message(
                msg_id,
                ERR_TEMPLATE_ERROR,
                f"Too many templates: one connection may follow at most "
                f"{MAX_TEMPLATE_SUBSCRIPTIONS}; unsubscribe from one first",
            )
        )
        return
    template = Template(source, area_view(conn.runtime, conn.user), name="render_template")
    mine.ids.add(msg_id)  # held while compiling, so that concurrent commands count it
    try:
        # Compiling is not interruptible, and a long source takes long: off the loop.
        await asyncio.to_thread(template.ensure_valid)
    except TemplateError as err:
        mine.ids.discard(msg_id)
        conn.send(error_message(msg_id, ERR_TEMPLATE_ERROR, str(err)))
        return
    except BaseException:
        mine.ids.discard(msg_id)
        raise
    started = False
    first: list[Any] = []

    def on_result(result: Any) -> None:
        if not started:
            first.append(result)
            return
        send(result)

    def send(result: Any) -> None:
        if isinstance(result, TemplateTimeoutError):
            # The tracker stopped itself: the subscription ends with the error.
            conn.send(event_message(msg_id, {"error": str(result), "level": "ERROR"}))
            unsubscribe()
            if conn.subscriptions.get(msg_id) is unsubscribe:
                del conn.subscriptions[msg_id]
            return
        if isinstance(result, TemplateError):
            if report_errors:
                conn.send(event_message(msg_id, {"error": str(result), "level": "ERROR"}))
            return
        conn.send(event_message(msg_id, {"result": result, "listeners": _listeners(tracker)}))

    def unsubscribe() -> None:
        tracker.cancel()
        mine.ids.discard(msg_id)

    tracker = TemplateTracker(
        conn.runtime,
        template,
        variables,
        on_result,
        time_budget=API_RENDER_TIME,
        pacer=mine.pacer,
    )
    tracker.start()
    started = True
    initial = first[0] if first else None
    if isinstance(initial, TemplateTimeoutError) or (
        isinstance(initial, TemplateError) and not report_errors
    ):
        tracker.cancel()
        mine.ids.discard(msg_id)
        conn.send(error_message(msg_id, ERR_TEMPLATE_ERROR, str(initial)))
        return
    conn.subscriptions[msg_id] = unsubscribe
    conn.send(result_message(msg_id))
    if first:
        send(initial)


def add_routes(app: web.Application) -> None:
    """Mount ``POST /api/template``."""
    app.router.add_post("/api/template", api_template)
