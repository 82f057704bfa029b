"""The middlewares every request passes, outermost first.

0. ``forwarded``: with ``http: use_x_forwarded_for``, a request from one of ``trusted_proxies``
   is taken to come from the address its ``X-Forwarded-For`` names (the right-most one that is
   not itself a trusted proxy), so that bans and logs name the real client; a request from any
   other address is taken as it is, whatever header it sends.
1. ``request_log``: a request id (the client's ``X-Request-ID`` when sane, else a new one),
   one structured log line per request, and the HTTP metrics by route and status.
2. ``cors``: off unless ``http: cors_allowed_origins`` lists origins; answers pre-flights.
3. ``body_limit``: a declared body larger than ``http: max_request_body`` gets 413 at once
   (aiohttp's ``client_max_size`` catches chunked bodies while they are read).
4. ``auth``: every route needs a bearer token unless its handler is marked
   ``Permission.PUBLIC``; the user's role must allow what the handler is marked with. A valid
   token is served even from a banned address (tokens cannot be guessed; the ban is against
   password guessing); without one, a banned address gets 429. Only a token the server never
   issued counts towards a ban: a stale one (an open tab after a restart) gets 401 and nothing
   else. A token of another issuer does not count when that issuer signed it (an expired
   Supabase token: ``AuthManager.add_token_verifier``'s ``issued``); a forgery does. A user
   limited to areas is refused every route not marked ``area_aware`` (``core.auth.areas``).
   Public routes (health checks, the panel's files) are never banned; the login routes consult
   the ban themselves.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from ulid_transform import ulid_now

from core.auth import Permission
from core.auth.areas import refused_outside_areas
from core.core_sections import HttpConfig, IPNetwork
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


def banned_response(seconds_left: float) -> web.Response:
    """The 429 a banned address gets, with ``Retry-After``."""
    response = json_message("Too many failed login attempts; try again later", 429)
    response.headers[hdrs.RETRY_AFTER] = str(int(seconds_left) + 1)
    return response


def _client_address(
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address,
    forwarded: list[str],
    trusted: tuple[IPNetwork, ...],
) -> str | None:
    """The client's address from an ``X-Forwarded-For`` chain, or None when it is malformed."""
    hops: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for header in forwarded:
        for part in header.split(","):
            try:
                hops.append(ipaddress.ip_address(part.strip()))
            except ValueError:
                return None
    if not hops:
        return str(peer)
    # From the right: each hop was added by the proxy before it; stop at the first untrusted.
    for hop in reversed(hops):
        if not any(hop in net for net in trusted):
            return str(hop)
    return str(hops[0])


def forwarded_middleware(trusted: tuple[IPNetwork, ...]) -> Middleware:
    """Take the client's address from ``X-Forwarded-For`` when a trusted proxy sent it."""

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers.getall(hdrs.X_FORWARDED_FOR, [])
        if not headers or request.remote is None:
            return await handler(request)
        try:
            peer = ipaddress.ip_address(request.remote)
        except ValueError:
            return await handler(request)
        if not any(peer in net for net in trusted):
            return await handler(request)
        client = _client_address(peer, headers, trusted)
        if client is None:
            _LOGGER.warning("Invalid X-Forwarded-For from proxy %s: %s", peer, headers)
            return json_message("Invalid X-Forwarded-For header", 400)
        return await handler(request.clone(remote=client))

    return forwarded


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate the request and check its user's role against the handler's permission."""
    if request.match_info.http_exception is not None:
        # No such route (404/405): nothing to protect, and aiohttp answers it.
        return await handler(request)
    needed = permission_of(request.match_info.handler)
    if needed is Permission.PUBLIC:
        return await handler(request)
    token = bearer_token(request)
    auth = request.app[AUTH]
    found = None if token is None else await auth.authenticate(token)
    if found is None:
        address = remote_address(request)
        guard = request.app[GUARD]
        if (left := guard.banned_for(address)) > 0:
            return banned_response(left)
        if token is not None and not await auth.issued_anywhere(token):
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
    if refused_outside_areas(user, request.match_info.handler):
        return json_message(
            f"User {user.username} is limited to areas, and this route is not area-aware", 403
        )
    return await handler(request)


def middlewares(config: HttpConfig, metrics: Metrics) -> list[Middleware]:
    """The middlewares in order, outermost first."""
    chain: list[Middleware] = []
    if config.use_x_forwarded_for:
        chain.append(forwarded_middleware(config.trusted_proxies))
    chain.append(request_log_middleware(metrics))
    if config.cors_allowed_origins:
        chain.append(cors_middleware(config.cors_allowed_origins))
    chain.append(body_limit_middleware(config.max_request_body))
    chain.append(auth_middleware)
    return chain
