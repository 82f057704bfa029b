"""The HTTP server: one aiohttp application for the health checks, the APIs and metrics.

``/live`` answers as soon as the server listens; ``/ready`` answers 200 only once start-up has
finished and the runtime is running (503 before and during shutdown), so a supervisor or a
benchmark can wait on it. Both, the login and onboarding routes and webhooks need no token;
every other route does (see ``core.http.middleware``).

Integrations add routes and WebSocket commands to one runtime with ``register_route`` and
``register_command`` (``registry``); what an integration adds is removed when it stops. The
kernel serves only its own APIs: history and logbook come from the recorder integration, the
automation editor and traces from the automation engine, through the same two calls.

Modules: ``view`` (keys and helpers), ``middleware``, ``auth_views`` (login), ``rest``
(Home Assistant's REST API), ``registry`` (routes and commands added at run time),
``websocket`` and ``ws_commands`` (Home Assistant's WebSocket API), ``user_data`` (per-user panel
settings), ``ws_panel`` (the kernel
commands the web panel needs), ``frontend`` (the panel's static files at ``/``), ``panels``
(pages integrations add), ``ban``, ``permissions``, ``error_log``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from core.auth import AuthManager, Permission
from core.auth.areas import area_aware, refused_outside_areas
from core.auth.manager import STORAGE_KEY
from core.core_sections import HttpConfig
from core.integration import IntegrationStatus
from core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from core.storage import storage_path

from . import (
    auth_views,
    frontend,
    rest,
    templates,
    user_data,
    websocket,
    ws_compat,
    ws_floor_label,
    ws_panel,
    ws_registries,
    ws_registry_writes,
)
from .ban import LoginGuard
from .error_log import ERROR_LOG
from .middleware import middlewares
from .registry import ApiRegistry, CommandHandler
from .view import (
    AUTH,
    GUARD,
    RUNTIME,
    Handler,
    current_user,
    json_message,
    json_response,
    permission_of,
    requires,
)

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)
# Imported for the kernel commands they declare.
_COMMAND_MODULES = (
    templates,
    ws_compat,
    ws_floor_label,
    ws_panel,
    ws_registries,
    ws_registry_writes,
)

__all__ = [
    "RUNTIME",
    "ApiRegistry",
    "CommandHandler",
    "Handler",
    "HttpServer",
    "register_command",
    "register_route",
    "requires",
]


def register_route(
    runtime: Runtime,
    method: str,
    path: str,
    handler: Handler,
    permission: Permission = Permission.READ,
) -> Callable[[], None]:
    """Serve ``handler`` at ``method path`` (under ``/api/``) with authentication.

    For integrations, from setup (or later): the request carries the user (``current_user``)
    and must come with a bearer token; the user's role must allow ``permission`` (any but
    ``PUBLIC``). ``path`` is exact or has whole-segment placeholders
    (``/api/my_meter/readings/{meter}``), read with ``request.match_info["meter"]``. The route
    is removed when the integration that registered it stops. A user limited to areas is
    refused the route (403) unless ``handler`` is marked ``core.auth.areas.area_aware``: it then
    answers only what lies in ``current_user(request).areas`` (``may_see``, ``visible_states``).

    Returns:
        A function that removes the route (harmless to call twice).

    Raises:
        ValueError: the path is not under ``/api/``, is malformed, or the route exists.
    """
    return runtime.api.add_route(method, path, handler, permission)


def register_command(
    runtime: Runtime,
    command_type: str,
    handler: CommandHandler,
    permission: Permission = Permission.READ,
) -> Callable[[], None]:
    """Answer WebSocket messages of ``command_type`` (``"my_meter/readings"``) on ``runtime``.

    ``handler(conn, msg)`` answers with ``conn.send(result_message(msg["id"], ...))`` (see
    ``core.http.ws_messages``); when it is a coroutine function it runs as a task tied to the
    connection, and ``core.errors`` exceptions it raises become error answers. The user's role
    must allow ``permission`` (any but ``PUBLIC``). The command is removed when the integration
    that registered it stops. A user limited to areas is refused it (``unauthorized``) unless
    ``handler`` is marked ``core.auth.areas.area_aware`` and keeps to ``conn.user.areas``.

    Returns:
        A function that removes the command (harmless to call twice).

    Raises:
        ValueError: the type is malformed or already registered.
    """
    return runtime.api.add_command(command_type, handler, permission)


@requires(Permission.PUBLIC)
async def live(request: web.Request) -> web.StreamResponse:
    """Liveness: the process serves requests."""
    return json_response({"status": "alive"})


@requires(Permission.PUBLIC)
async def ready(request: web.Request) -> web.StreamResponse:
    """Readiness: 200 once the runtime is running, 503 with its stage otherwise.

    An integration that failed after its setup (``Runtime.integration_failed``) makes it 503
    ``{"status": "failed", "failed": {domain: error}}``: the site runs, but not all of it.
    """
    runtime = request.app[RUNTIME]
    failed = {
        domain: loaded.error
        for domain, loaded in runtime.loader.integrations.items()
        if loaded.status is IntegrationStatus.FAILED
    }
    if runtime.ready and failed:
        return json_response({"status": "failed", "failed": failed}, status=503)
    if runtime.ready:
        return json_response({"status": "ready"})
    return json_response({"status": runtime.state.value.lower()}, status=503)


@requires(Permission.PUBLIC)
async def webhook(request: web.Request) -> web.StreamResponse:
    """``/api/webhook/{webhook_id}``: no token; the webhook's own rules apply."""
    from core.webhook import handle_webhook  # noqa: PLC0415 - core.webhook imports the runtime

    return await handle_webhook(request.app[RUNTIME], request.match_info["webhook_id"], request)


@requires(Permission.READ)
async def metrics(request: web.Request) -> web.StreamResponse:
    """The runtime's metrics in Prometheus' text format."""
    runtime = request.app[RUNTIME]
    status = runtime.metrics.gauge(
        "edgewise_integration_running",
        "1 when the integration is set up and running, 0 otherwise",
        ["domain", "status"],
    )
    status.clear()
    for domain, loaded in runtime.loader.integrations.items():
        running = loaded.status is IntegrationStatus.RUNNING
        status.labels(domain, loaded.status.value).set(1 if running else 0)
    body = runtime.metrics.render()
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def _kernel_metrics(runtime: Runtime) -> None:
    metrics = runtime.metrics
    metrics.value(
        "edgewise_bus_events_total",
        "Events fired on the bus",
        lambda: runtime.bus.events_fired,
        counter=True,
    )
    metrics.value(
        "edgewise_state_changes_total",
        "State changes",
        lambda: runtime.states.changes,
        counter=True,
    )
    metrics.value(
        "edgewise_service_calls_total",
        "Service calls",
        lambda: runtime.services.calls,
        counter=True,
    )
    metrics.value("edgewise_entities", "Entities with a state", lambda: len(runtime.states))


class HttpServer:
    """Owns the aiohttp application, its runner and its listening site."""

    def __init__(self, runtime: Runtime, config: HttpConfig) -> None:
        self._config = config
        self.runtime = runtime
        self.auth = AuthManager(
            runtime.run_in_executor,
            storage_path(runtime.config_dir, STORAGE_KEY),
            clock=runtime.clock,
        )
        self.app = web.Application(
            middlewares=middlewares(config, runtime.metrics),
            client_max_size=config.max_request_body,
        )
        self.app[RUNTIME] = runtime
        self.app[AUTH] = self.auth
        self.app[GUARD] = LoginGuard(
            config.login_attempts_threshold, config.login_ban_seconds, clock=runtime.clock
        )
        self.app.router.add_get("/live", live)
        self.app.router.add_get("/ready", ready)
        self.app.router.add_get("/metrics", metrics)
        auth_views.add_routes(self.app)
        rest.add_routes(self.app)
        templates.add_routes(self.app)
        self.app.router.add_route("*", "/api/webhook/{webhook_id}", webhook)
        self.websocket = websocket.add_routes(self.app, config)
        #: The web panel's files (``frontend/``) at ``/``.
        self.frontend = frontend.add_routes(self.app)
        #: Each user's panel settings (``frontend/get_user_data`` and ``set_user_data``).
        self.user_data = user_data.UserDataStore(runtime)

        # Last: anything under /api/ that no route above matched.
        @requires(Permission.READ)
        @area_aware  # the registered handler's own mark is checked in _extra_route
        async def extra_route(request: web.Request) -> web.StreamResponse:
            return await self._extra_route(request)

        self.app.router.add_route("*", "/api/{tail:.+}", extra_route)
        _kernel_metrics(runtime)
        ERROR_LOG.install()
        self._runner: web.AppRunner | None = None
        #: The port actually bound (differs from the configured one when that is 0).
        self.port: int | None = None

    async def _extra_route(self, request: web.Request) -> web.StreamResponse:
        found = self.runtime.api.resolve(request.method, request.path)
        if found is None:
            if allowed := self.runtime.api.allowed_methods(request.path):
                raise web.HTTPMethodNotAllowed(request.method, sorted(allowed))
            raise web.HTTPNotFound
        handler, params = found
        # The catch-all route matched ``tail``; the handler reads its own placeholders.
        request.match_info.update(params)
        needed = permission_of(handler)
        user = current_user(request)
        if not user.can(needed):
            return json_message(
                f"User {user.username} (role {user.role.value}) may not do this: it needs "
                f"{needed.name.lower()}",
                403,
            )
        if refused_outside_areas(user, handler):
            return json_message(
                f"User {user.username} is limited to areas, and this route is not area-aware", 403
            )
        return await handler(request)

    async def start(self) -> None:
        """Load users and tokens, then start listening.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("HTTP server already started")
        await self.auth.load()
        if not self.auth.onboarded:
            _LOGGER.warning(
                "No user yet: the first visit to the panel creates the owner "
                "(or run `edgewise user add`)"
            )
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._config.server_host, self._config.server_port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self._config.server_port
        _LOGGER.info("HTTP server listening on %s:%s", self._config.server_host, self.port)

    async def stop(self) -> None:
        """Close WebSocket clients, stop listening and close open connections."""
        await self.websocket.close_all("server stopping")
        await self.user_data.flush()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
