"""The HTTP server: one aiohttp application for the health checks, the APIs and metrics.

``/live`` answers as soon as the server listens; ``/ready`` answers 200 only once start-up has
finished and the runtime is running (503 before and during shutdown), so a supervisor or a
benchmark can wait on it. Both, the login and onboarding routes and webhooks need no token;
every other route does (see ``core.http.middleware``).

Modules: ``view`` (keys and helpers), ``middleware``, ``auth_views`` (login), ``rest``
(Home Assistant's REST API), ``history`` (history and logbook), ``websocket`` and
``ws_commands`` (Home Assistant's WebSocket API), ``ws_panel`` and ``ws_automations`` (the
commands the web panel needs), ``frontend`` (the panel's static files at ``/``), ``panels``
(pages integrations add), ``ban``, ``permissions``, ``error_log``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from core.auth import AuthManager, Permission
from core.auth.manager import STORAGE_KEY
from core.core_sections import HttpConfig
from core.integration import IntegrationStatus
from core.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from core.storage import storage_path

from . import (
    auth_views,
    automation_api,
    frontend,
    history,
    rest,
    templates,
    websocket,
    ws_automations,  # noqa: F401 - importing it registers the automation pages' commands
    ws_panel,  # noqa: F401 - importing it registers the panel's WebSocket commands
    ws_registries,
)
from .ban import LoginGuard
from .error_log import ERROR_LOG
from .middleware import middlewares
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
# Imported for the commands they register.
_COMMAND_MODULES = (ws_registries,)

__all__ = ["RUNTIME", "HttpServer", "register_route", "requires"]


def register_route(
    runtime: Runtime,
    method: str,
    path: str,
    handler: Handler,
    permission: Permission = Permission.READ,
) -> Callable[[], None]:
    """Serve ``handler`` at ``method path`` (an exact path under ``/api/``) with authentication.

    For integrations, at setup or later: the request carries the user (``current_user``) and
    must come with a bearer token; the user's role must allow ``permission``. Take arguments
    from the query string or the JSON body (paths have no placeholders).

    Returns:
        A function that removes the route.

    Raises:
        ValueError: the path is not under ``/api/`` or the route exists.
        RuntimeError: the HTTP server is not running.
    """
    if runtime.http is None:
        raise RuntimeError("The HTTP server is not running")
    if not path.startswith("/api/"):
        raise ValueError(f"An integration's route must be under /api/: {path}")
    key = (method.upper(), path)
    routes = runtime.http.extra_routes
    if key in routes:
        raise ValueError(f"Route {method} {path} exists already")
    routes[key] = requires(permission)(handler)

    def remove() -> None:
        routes.pop(key, None)

    return remove


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
        history.add_routes(self.app)
        templates.add_routes(self.app)
        automation_api.add_routes(self.app)
        self.websocket = websocket.add_routes(self.app, config)
        #: The web panel's files (``frontend/``) at ``/``.
        self.frontend = frontend.add_routes(self.app)
        #: Routes integrations add while running (see ``register_route``).
        self.extra_routes: dict[tuple[str, str], Handler] = {}

        # Last: anything under /api/ that no route above matched.
        @requires(Permission.READ)
        async def extra_route(request: web.Request) -> web.StreamResponse:
            return await self._extra_route(request)

        self.app.router.add_route("*", "/api/{tail:.+}", extra_route)
        _kernel_metrics(runtime)
        ERROR_LOG.install()
        self._runner: web.AppRunner | None = None
        #: The port actually bound (differs from the configured one when that is 0).
        self.port: int | None = None

    async def _extra_route(self, request: web.Request) -> web.StreamResponse:
        handler = self.extra_routes.get((request.method, request.path))
        if handler is None:
            raise web.HTTPNotFound
        needed = permission_of(handler)
        user = current_user(request)
        if not user.can(needed):
            return json_message(
                f"User {user.username} (role {user.role.value}) may not do this: it needs "
                f"{needed.name.lower()}",
                403,
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
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
