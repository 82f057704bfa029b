"""The middlewares every request passes, outermost first.

1. ``request_log``: a request id (the client's ``X-Request-ID`` when sane, else a new one),
   one structured log line per request, and the HTTP metrics by route and status.
2. ``cors``: off unless ``http: cors_allowed_origins`` lists origins; answers pre-flights.
3. ``body_limit``: a declared body larger than ``http: max_request_body`` gets 413 at once
   (aiohttp's ``client_max_size`` catches chunked bodies while they are read).
4. ``auth``: a banned address gets 429; every route needs a bearer token unless its handler is
   marked ``Permission.PUBLIC``; the user's role must allow what the handler is marked with.
"""

from __future__ import annotations

import logging
import re
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from ulid_transform import ulid_now

from core.auth import Permission
from core.core_sections import HttpConfig
from core.metrics import Metrics

from .view import (
    AUTH,
    GUARD,
    KEY_GRANT,
    KEY_REQUEST_ID,
    KEY_USER,
    json_message,
    loggable_path,
    permission_of,
    remote_address,
)

_LOGGER = logging.getLogger(__name__)
#: One line per request, with key=value fields, for log shippers.
ACCESS_LOGGER = logging.getLogger("core.http.access")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: Home Assistant answers a missing or bad token with aiohttp's plain-text 401.
UNAUTHORIZED_TEXT = "401: Unauthorized"


def _route_label(request: web.Request) -> str:
    """The route pattern (``/api/states/{entity_id}``), so metrics have few label values."""
    if request.match_info.http_exception is not None:
        return "unmatched"
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def request_log_middleware(metrics: Metrics) -> Middleware:
    """Request ids, access log lines and HTTP metrics."""
    requests = metrics.counter(
        "edgewise_http_requests",
        "HTTP requests by route, method and status",
        ["route", "method", "status"],
    )
    durations = metrics.histogram(
        "edgewise_http_request_duration_seconds",
        "Time to answer an HTTP request, by route",
        ["route"],
        buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    )

    @web.middleware
    async def request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _REQUEST_ID_RE.match(given) else ulid_now()
        request[KEY_REQUEST_ID] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as err:
            status = err.status
            err.headers["X-Request-ID"] = request_id
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(request)
            requests.labels(route, request.method, str(status)).inc()
            durations.labels(route).observe(elapsed)
            user = request.get(KEY_USER)
            # Failures at info, the rest at debug: a panel polling must not fill a Pi's log.
            ACCESS_LOGGER.log(
                logging.INFO if status >= 400 else logging.DEBUG,
                "request_id=%s method=%s path=%s route=%s status=%d duration_ms=%.1f "
                "remote=%s user=%s",
                request_id,
                request.method,
                loggable_path(request.path),
                route,
                status,
                elapsed * 1000,
                remote_address(request),
                "-" if user is None else user.username,
            )
        if not response.prepared:
            response.headers["X-Request-ID"] = request_id
        return response

    return request_log


def cors_middleware(origins: tuple[str, ...]) -> Middleware:
    """Allow the listed browser origins to call the API (with the Authorization header)."""
    allowed = frozenset(origins)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None or origin not in allowed:
            return await handler(request)
        if (
            request.method == hdrs.METH_OPTIONS
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        ):
            response: web.StreamResponse = web.Response(status=200)
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "GET, POST, PUT, DELETE, OPTIONS"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = (
                "Authorization, Content-Type, X-Requested-With, X-Request-ID"
            )
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        else:
            response = await handler(request)
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
        response.headers[hdrs.VARY] = "Origin"
        return response

    return cors


def body_limit_middleware(limit: int) -> Middleware:
    """413 for a declared body over ``limit`` bytes, before anything reads it."""

    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > limit:
            return json_message(
                f"Request body too large: {length} bytes, the limit is {limit}", 413
            )
        return await handler(request)

    return body_limit


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate the request and check its user's role against the handler's permission."""
    if request.match_info.http_exception is not None:
        # No such route (404/405): nothing to protect, and aiohttp answers it.
        return await handler(request)
    needed = permission_of(request.match_info.handler)
    address = remote_address(request)
    guard = request.app[GUARD]
    if (left := guard.banned_for(address)) > 0:
        response = json_message("Too many failed login attempts; try again later", 429)
        response.headers[hdrs.RETRY_AFTER] = str(int(left) + 1)
        return response
    if needed is Permission.PUBLIC:
        return await handler(request)
    token = bearer_token(request)
    found = None if token is None else request.app[AUTH].validate_access_token(token)
    if found is None:
        if token is not None:
            guard.failed(address, "authentication with an invalid token")
        return web.Response(status=401, text=UNAUTHORIZED_TEXT)
    user, grant = found
    request[KEY_USER] = user
    request[KEY_GRANT] = grant
    if not user.can(needed):
        return json_message(
            f"User {user.username} (role {user.role.value}) may not do this: it needs "
            f"{needed.name.lower()}",
            403,
        )
    return await handler(request)


def middlewares(config: HttpConfig, metrics: Metrics) -> list[Middleware]:
    """The middlewares in order, outermost first."""
    chain: list[Middleware] = [request_log_middleware(metrics)]
    if config.cors_allowed_origins:
        chain.append(cors_middleware(config.cors_allowed_origins))
    chain.append(body_limit_middleware(config.max_request_body))
    chain.append(auth_middleware)
    return chain
