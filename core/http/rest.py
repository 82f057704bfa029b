"""Home Assistant's REST API: states, services, events, configuration, components, error log.

Paths, answers, status codes and error bodies follow Home Assistant's, so its REST clients work
unchanged. What each route needs of the user's role is marked on its handler (``requires``);
the auth middleware enforces it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from core.auth import Permission
from core.auth.areas import area_aware, check_call_in_areas, may_see, visible_states
from core.bus import Event, EventOrigin, callback
from core.const import EVENT_STATE_CHANGED, HA_COMPAT_VERSION, KERNEL_EVENTS, __version__
from core.core_sections import CORE_SECTIONS
from core.errors import (
    EdgewiseError,
    InvalidEntityIdError,
    ServiceNotFoundError,
    ServiceValidationError,
    Unauthorized,
)
from core.integration import IntegrationStatus
from core.services import SupportsResponse
from core.state import State, valid_entity_id

from .error_log import ERROR_LOG
from .permissions import check_service_allowed
from .view import (
    CONTENT_TYPE_JSON,
    RUNTIME,
    InvalidJson,
    current_user,
    json_message,
    json_response,
    read_json,
    read_json_object,
    request_context,
    requires,
)

_LOGGER = logging.getLogger(__name__)

#: Components every Edgewise serves, as Home Assistant lists its own.
BUILT_IN_COMPONENTS = ("api", "auth", "http", "onboarding", "websocket_api")


def config_dict(request_app: web.Application) -> dict[str, Any]:
    """The site configuration in Home Assistant's ``/api/config`` form (also the WS's)."""
    runtime = request_app[RUNTIME]
    core = runtime.core
    metric = core.unit_system.value == "metric"
    return {
        "latitude": core.latitude,
        "longitude": core.longitude,
        "elevation": core.elevation,
        "unit_system": {
            "length": "km" if metric else "mi",
            "accumulated_precipitation": "mm" if metric else "in",
            "area": "m²" if metric else "ft²",
            "mass": "g" if metric else "lb",
            "pressure": "Pa" if metric else "psi",
            "temperature": "°C" if metric else "°F",
            "volume": "L" if metric else "gal",
            "wind_speed": "m/s" if metric else "mph",
        },
        "location_name": core.name,
        "time_zone": core.time_zone,
        "components": components(request_app),
        "config_dir": str(runtime.config_dir),
        "allowlist_external_dirs": [],
        "allowlist_external_urls": [],
        "version": HA_COMPAT_VERSION,
        "edgewise_version": __version__,
        "config_source": "yaml",
        "recovery_mode": False,
        "safe_mode": False,
        "state": runtime.state.value,
        "external_url": core.external_url,
        "internal_url": core.internal_url,
        "currency": core.currency,
        "country": None,
        "language": "en",
    }


def components(app: web.Application) -> list[str]:
    """The running integrations and the built-in API components, sorted."""
    runtime = app[RUNTIME]
    running = [
        domain
        for domain, loaded in runtime.loader.integrations.items()
        if loaded.status is IntegrationStatus.RUNNING
    ]
    return sorted({*running, *BUILT_IN_COMPONENTS, *CORE_SECTIONS})


def services_json(app: web.Application) -> list[dict[str, Any]]:
    """Every service, grouped by domain, in Home Assistant's ``/api/services`` form."""
    result = []
    for domain, services in sorted(app[RUNTIME].services.services().items()):
        described: dict[str, Any] = {}
        for name, svc in sorted(services.items()):
            # Fields from the schema and what the service declared (``core.service_description``).
            entry = svc.describe()
            # Which role may call it, so that the panel can offer only what the user may do.
            entry["edgewise_permission"] = svc.permission.name.lower()
            described[name] = entry
        result.append({"domain": domain, "services": described})
    return result


@requires(Permission.READ)
@area_aware
async def api_status(request: web.Request) -> web.StreamResponse:
    """``GET /api/``: the API is running."""
    return json_message("API running.")


@requires(Permission.READ)
@area_aware
async def api_config(request: web.Request) -> web.StreamResponse:
    """``GET /api/config``."""
    return json_response(config_dict(request.app))


@requires(Permission.READ)
@area_aware  # what is installed, not what it sees
async def api_components(request: web.Request) -> web.StreamResponse:
    """``GET /api/components``."""
    return json_response(components(request.app))


def states_body(states: list[State]) -> bytes:
    """A JSON array of states from their cached JSON bytes (no re-encoding per request)."""
    return b"[" + b",".join([s.as_json() for s in states]) + b"]"


@requires(Permission.READ)
@area_aware
async def api_states(request: web.Request) -> web.StreamResponse:
    """``GET /api/states``: every state (in the user's areas)."""
    runtime = request.app[RUNTIME]
    body = states_body(visible_states(runtime, current_user(request), runtime.states.all()))
    return web.Response(body=body, content_type=CONTENT_TYPE_JSON)


@requires(Permission.READ)
@area_aware
async def api_entity_state(request: web.Request) -> web.StreamResponse:
    """``GET /api/states/{entity_id}`` (404 outside the user's areas: it is not theirs)."""
    runtime = request.app[RUNTIME]
    entity_id = request.match_info["entity_id"]
    state = runtime.states.get(entity_id)
    if state is None or not may_see(runtime, current_user(request), entity_id):
        return json_message("Entity not found.", 404)
    return web.Response(body=state.as_json(), content_type=CONTENT_TYPE_JSON)


@requires(Permission.ADMIN)
async def api_set_state(request: web.Request) -> web.StreamResponse:
    """``POST /api/states/{entity_id}``: write a state directly (201 when it is new)."""
    entity_id = request.match_info["entity_id"]
    data = await read_json_object(
        request, invalid="Invalid JSON specified.", not_object="Invalid JSON specified."
    )
    if isinstance(data, web.Response):
        return data
    new_state = data.get("state")
    if new_state is None:
        return json_message("No state specified.", 400)
    attributes = data.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return json_message("Invalid attributes specified.", 400)
    states = request.app[RUNTIME].states
    is_new = states.get(entity_id) is None
    try:
        state = states.set(
            entity_id,
            str(new_state),
            attributes,
            force_update=bool(data.get("force_update", False)),
            context=request_context(request),
        )
    except InvalidEntityIdError:
        return json_message("Invalid entity ID specified.", 400)
    except ValueError:
        return json_message("Invalid state specified.", 400)
    response = web.Response(
        body=state.as_json(), status=201 if is_new else 200, content_type=CONTENT_TYPE_JSON
    )
    response.headers["Location"] = f"/api/states/{state.entity_id}"
    return response


@requires(Permission.ADMIN)
async def api_remove_state(request: web.Request) -> web.StreamResponse:
    """``DELETE /api/states/{entity_id}``."""
    if request.app[RUNTIME].states.remove(
        request.match_info["entity_id"], request_context(request)
    ):
        return json_message("Entity removed.")
    return json_message("Entity not found.", 404)


@requires(Permission.READ)
@area_aware
async def api_services(request: web.Request) -> web.StreamResponse:
    """``GET /api/services``."""
    return json_response(services_json(request.app))


@requires(Permission.CONTROL)
@area_aware
async def api_call_service(request: web.Request) -> web.StreamResponse:
    """``POST /api/services/{domain}/{service}``: the states it changed (and its response)."""
    runtime = request.app[RUNTIME]
    domain, service = request.match_info["domain"], request.match_info["service"]
    try:
        data = await read_json(request)
    except InvalidJson:
        return json_message("Data should be valid JSON.", 400)
    if data is not None and not isinstance(data, dict):
        return json_message("Data should be a JSON object.", 400)
    if not runtime.services.has(domain, service):
        # Home Assistant answers an unknown service with aiohttp's bare 400.
        raise web.HTTPBadRequest
    try:
        check_service_allowed(current_user(request), runtime.services, domain, service)
        check_call_in_areas(runtime, current_user(request), domain, service, data=data)
    except Unauthorized as err:
        return json_message(str(err), 403)
    supports = runtime.services.get(domain, service).supports_response
    return_response = "return_response" in request.query
    if return_response and supports is SupportsResponse.NONE:
        return json_message(
            "Service does not support responses. Remove return_response from request.", 400
        )
    if not return_response and supports is SupportsResponse.ONLY:
        return json_message(
            "Service call requires responses but caller did not ask for responses. "
            "Add ?return_response to query parameters.",
            400,
        )
    context = request_context(request)
    changed: list[State] = []

    @callback
    def collect(event: Event[Any]) -> None:
        ctx = event.context
        if (ctx is context or ctx.parent_id == context.id) and event.data["new_state"]:
            changed.append(event.data["new_state"])

    unsubscribe = runtime.bus.listen(EVENT_STATE_CHANGED, collect)
    try:
        # Shielded: a client that hangs up must not cancel a device write half-way.
        response = await asyncio.shield(
            runtime.services.call(
                domain, service, data, context=context, return_response=return_response
            )
        )
        # Let the state_changed deliveries queued by the call reach the collector.
        await asyncio.sleep(0)
    except ServiceNotFoundError:
        raise web.HTTPBadRequest from None
    except ServiceValidationError as err:
        return json_message(str(err), 400)
    except EdgewiseError as err:
        _LOGGER.warning("Service %s.%s failed: %s", domain, service, err)
        return json_message(str(err), 500)
    finally:
        unsubscribe()
    states = [s.as_dict() for s in visible_states(runtime, current_user(request), changed)]
    if return_response:
        return json_response({"changed_states": states, "service_response": response})
    return json_response(states)


@requires(Permission.READ)
@area_aware  # event types and listener counts: nothing of any area
async def api_events(request: web.Request) -> web.StreamResponse:
    """``GET /api/events``: event types and their listener counts, the kernel's always listed."""
    counts = dict.fromkeys(KERNEL_EVENTS, 0)
    counts.update(request.app[RUNTIME].bus.listener_counts())
    return json_response([{"event": k, "listener_count": v} for k, v in sorted(counts.items())])


@requires(Permission.ADMIN)
async def api_fire_event(request: web.Request) -> web.StreamResponse:
    """``POST /api/events/{event_type}``."""
    event_type = request.match_info["event_type"]
    try:
        data = await read_json(request)
    except InvalidJson:
        return json_message("Event data should be valid JSON.", 400)
    if data is not None and not isinstance(data, dict):
        return json_message("Event data should be a JSON object", 400)
    request.app[RUNTIME].bus.fire(event_type, data, request_context(request), EventOrigin.remote)
    return json_message(f"Event {event_type} fired.")


@requires(Permission.ADMIN)
async def api_check_config(request: web.Request) -> web.StreamResponse:
    """``POST /api/config/core/check_config``: load the configuration again and report."""
    from core.config import load_site_config  # noqa: PLC0415 - rarely used, keep import cost off start-up

    runtime = request.app[RUNTIME]
    known: dict[str, Any] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in runtime.loader.integrations.items()})
    try:
        loaded = await runtime.run_in_executor(load_site_config, runtime.config_dir, known)
    except EdgewiseError as err:
        return json_response({"result": "invalid", "errors": str(err), "warnings": None})
    if loaded.issues:
        errors = "\n".join(str(issue) for issue in loaded.issues)
        return json_response({"result": "invalid", "errors": errors, "warnings": None})
    return json_response({"result": "valid", "errors": None, "warnings": None})


@requires(Permission.ADMIN)
async def api_error_log(request: web.Request) -> web.StreamResponse:
    """``GET /api/error_log``: the recent warnings and errors, as plain text."""
    return web.Response(text=ERROR_LOG.text(), content_type="text/plain")


def add_routes(app: web.Application) -> None:
    """Mount the REST API."""
    router = app.router
    router.add_get("/api/", api_status)
    router.add_get("/api/config", api_config)
    router.add_get("/api/components", api_components)
    router.add_get("/api/states", api_states)
    router.add_get("/api/states/{entity_id}", api_entity_state)
    router.add_post("/api/states/{entity_id}", api_set_state)
    router.add_delete("/api/states/{entity_id}", api_remove_state)
    router.add_get("/api/services", api_services)
    router.add_post("/api/services/{domain}/{service}", api_call_service)
    router.add_get("/api/events", api_events)
    router.add_post("/api/events/{event_type}", api_fire_event)
    router.add_post("/api/config/core/check_config", api_check_config)
    router.add_get("/api/error_log", api_error_log)


__all__ = ["add_routes", "config_dict", "services_json", "states_body", "valid_entity_id"]
