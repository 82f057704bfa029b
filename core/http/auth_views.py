"""Logging in, as Home Assistant's clients do it: onboarding, the login flow, ``/auth/token``.

* ``GET /api/onboarding`` says whether the first user exists; ``POST /api/onboarding/users``
  creates it (the owner, an admin) while there is none, and answers ``{"auth_code": ...}``.
* ``POST /auth/login_flow`` starts a flow; ``POST /auth/login_flow/{flow_id}`` with
  ``username``/``password`` ends it with ``{"type": "create_entry", "result": <code>}``.
* ``POST /auth/token`` (form-encoded) exchanges the code (``grant_type=authorization_code``) for
  an access token and a refresh token, or a refresh token (``grant_type=refresh_token``) for a
  new access token; ``action=revoke`` (or ``POST /auth/revoke``) ends a session.

Failures count towards the address's ban (``LoginGuard``): a wrong password, a bad code, a
refresh token never issued, a login flow beyond ``MAX_FLOWS_PER_ADDRESS`` open ones. A banned
address may not start a flow nor try a password; a password check is reserved with the guard
before it is hashed, so parallel guesses are counted while they run. A refresh token the
server issued (since revoked) is a client retrying and counts nothing.

Onboarding is open only while the site was never onboarded (``AuthManager.onboarded``): a lost
or corrupt auth store does not reopen it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiohttp import web

from core.auth import AuthError, Permission, Role
from core.auth.manager import ACCESS_TOKEN_EXPIRATION
from core.auth.models import hash_token, new_token

from .middleware import banned_response
from .view import (
    AUTH,
    GUARD,
    RUNTIME,
    json_message,
    json_response,
    read_json_object,
    remote_address,
    requires,
)

_LOGGER = logging.getLogger(__name__)

PROVIDER = {"name": "Edgewise Local", "id": None, "type": "homeassistant"}
HANDLER = ["homeassistant", None]
#: Seconds a login flow may stay open; open flows per server.
FLOW_TIMEOUT = 600.0
MAX_FLOWS = 256
#: Open login flows one address may have; more count towards its ban.
MAX_FLOWS_PER_ADDRESS = 8
ONBOARDING_STEPS = ("user", "core_config", "analytics", "integration")


@dataclass(slots=True)
class _Flow:
    client_id: str | None
    expires_at: float
    address: str


_FLOWS: web.AppKey[dict[str, _Flow]] = web.AppKey("login_flows")
_ONBOARDING_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("onboarding_lock")


def _form(flow_id: str, errors: dict[str, str]) -> dict[str, object]:
    return {
        "type": "form",
        "flow_id": flow_id,
        "handler": HANDLER,
        "step_id": "init",
        "data_schema": [
            {"name": "username", "required": True, "type": "string"},
            {"name": "password", "required": True, "type": "string"},
        ],
        "errors": errors,
        "description_placeholders": None,
        "last_step": None,
        "preview": None,
    }


@requires(Permission.PUBLIC)
async def onboarding_status(request: web.Request) -> web.StreamResponse:
    """The onboarding steps; only the user step matters to Edgewise."""
    done = request.app[AUTH].onboarded
    return json_response([{"step": step, "done": done} for step in ONBOARDING_STEPS])


@requires(Permission.PUBLIC)
async def onboarding_user(request: web.Request) -> web.StreamResponse:
    """Create the owner while the site was never onboarded; answer an authorisation code."""
    auth = request.app[AUTH]
    if auth.onboarded:
        return json_message("User step already done", 403)
    async with request.app[_ONBOARDING_LOCK]:
        # Checked again under the lock: two first visits at once make one owner, not two.
        if auth.onboarded:
            return json_message("User step already done", 403)
        return await _create_owner(request)


async def _create_owner(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    data = await read_json_object(
        request, invalid="Invalid JSON.", not_object="Message format incorrect: expected an object"
    )
    if isinstance(data, web.Response):
        return data
    missing = [k for k in ("username", "password") if not isinstance(data.get(k), str)]
    if missing:
        return json_message(
            f"Message format incorrect: required key not provided @ data['{missing[0]}']", 400
        )
    try:
        user = await auth.create_user(
            data["username"],
            data["password"],
            name=str(data.get("name") or data["username"]),
            role=Role.ADMIN,
            is_owner=True,
        )
    except AuthError as err:
        return json_message(str(err), 400)
    client_id = data.get("client_id")
    code = auth.create_auth_code(user, client_id if isinstance(client_id, str) else None)
    return json_response({"auth_code": code})


@requires(Permission.PUBLIC)
async def providers(request: web.Request) -> web.StreamResponse:
    """The one login provider (user name and password)."""
    if not request.app[AUTH].onboarded:
        return json_response(
            {"message": "Onboarding not finished", "code": "onboarding_required"}, 400
        )
    return json_response({"providers": [PROVIDER], "preselect_remember_me": False})


def _monotonic(request: web.Request) -> float:
    return request.app[RUNTIME].clock.monotonic()


def _flows(request: web.Request) -> dict[str, _Flow]:
    flows = request.app[_FLOWS]
    now = _monotonic(request)
    for flow_id in [f for f, flow in flows.items() if flow.expires_at < now]:
        del flows[flow_id]
    return flows


@requires(Permission.PUBLIC)
async def login_flow_start(request: web.Request) -> web.StreamResponse:
    """Start a login flow: answer the user name/password form."""
    data = await read_json_object(
        request, invalid="Invalid JSON.", not_object="Message format incorrect"
    )
    if isinstance(data, web.Response):
        return data
    handler = data.get("handler")
    if handler is not None and (not isinstance(handler, list) or handler[:1] != ["homeassistant"]):
        return json_message("Invalid handler specified", 404)
    address = remote_address(request)
    guard = request.app[GUARD]
    if (left := guard.banned_for(address)) > 0:
        return banned_response(left)
    flows = _flows(request)
    if sum(1 for flow in flows.values() if flow.address == address) >= MAX_FLOWS_PER_ADDRESS:
        guard.failed(address, f"login flow beyond {MAX_FLOWS_PER_ADDRESS} open ones")
        return json_message("Too many login flows in progress from this address", 429)
    if len(flows) >= MAX_FLOWS:
        return json_message("Too many login flows in progress", 429)
    flow_id = new_token()
    client_id = data.get("client_id")
    flows[flow_id] = _Flow(
        client_id if isinstance(client_id, str) else None,
        _monotonic(request) + FLOW_TIMEOUT,
        address,
    )
    return json_response(_form(flow_id, {}))


@requires(Permission.PUBLIC)
async def login_flow_step(request: web.Request) -> web.StreamResponse:
    """Check the user name and password: a code when right, the form with an error when not."""
    flow_id = request.match_info["flow_id"]
    flow = _flows(request).get(flow_id)
    if flow is None:
        return json_message("Invalid flow specified", 404)
    data = await read_json_object(
        request, invalid="Invalid JSON.", not_object="Message format incorrect"
    )
    if isinstance(data, web.Response):
        return data
    if data.get("client_id") != flow.client_id:
        return json_message("Invalid client id", 400)
    username, password = data.get("username"), data.get("password")
    auth = request.app[AUTH]
    address = remote_address(request)
    guard = request.app[GUARD]
    # Reserved before hashing: parallel guesses count while they run.
    if not guard.reserve(address):
        return banned_response(max(guard.banned_for(address), 1.0))
    user = None
    try:
        if isinstance(username, str) and isinstance(password, str):
            user = await auth.check_password(username, password)
    finally:
        guard.release(address, failed=user is None, what="login")
    if user is None:
        return json_response(_form(flow_id, {"base": "invalid_auth"}))
    if request.app[_FLOWS].pop(flow_id, None) is None:
        # Another request finished this flow meanwhile: one flow, one code.
        return json_message("Invalid flow specified", 404)
    code = auth.create_auth_code(user, flow.client_id)
    _LOGGER.info("User %s logged in from %s", user.username, remote_address(request))
    return json_response(
        {
            "version": 1,
            "type": "create_entry",
            "flow_id": flow_id,
            "handler": HANDLER,
            "title": user.name,
            "description": None,
            "description_placeholders": None,
            "result": code,
        }
    )


@requires(Permission.PUBLIC)
async def login_flow_abort(request: web.Request) -> web.StreamResponse:
    """Forget a login flow."""
    if request.app[_FLOWS].pop(request.match_info["flow_id"], None) is None:
        return json_message("Invalid flow specified", 404)
    return json_message("Flow aborted")


def _token_error(error: str, description: str | None = None) -> web.Response:
    body = {"error": error}
    if description is not None:
        body["error_description"] = description
    return json_response(body, 400)


@requires(Permission.PUBLIC)
async def token(request: web.Request) -> web.StreamResponse:
    """Issue tokens (OAuth2 style, form-encoded), or revoke with ``action=revoke``."""
    form = await request.post()
    auth = request.app[AUTH]
    address = remote_address(request)
    if form.get("action") == "revoke":
        return await _revoke(request, str(form.get("token", "")))
    grant_type = form.get("grant_type")
    client_id_value = form.get("client_id")
    client_id = client_id_value if isinstance(client_id_value, str) else None
    guard = request.app[GUARD]
    if grant_type == "authorization_code":
        code = form.get("code")
        user = auth.use_auth_code(code, client_id) if isinstance(code, str) else None
        if user is None:
            if (left := guard.banned_for(address)) > 0:
                return banned_response(left)
            guard.failed(address, "authorisation code exchange")
            return _token_error("invalid_request", "Invalid code")
        grant, refresh = await auth.create_refresh_token(user, client_id)
        access = auth.create_access_token(grant)
        return json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "refresh_token": refresh,
                "expires_in": int(ACCESS_TOKEN_EXPIRATION),
                "ha_auth_provider": "homeassistant",
            }
        )
    if grant_type == "refresh_token":
        refresh_value = form.get("refresh_token")
        session = auth.refresh_grant(refresh_value) if isinstance(refresh_value, str) else None
        if session is None or (session.client_id is not None and session.client_id != client_id):
            if (left := guard.banned_for(address)) > 0:
                return banned_response(left)
            if not (isinstance(refresh_value, str) and auth.was_issued(refresh_value)):
                guard.failed(address, "token refresh")
            return _token_error("invalid_grant")
        access = auth.create_access_token(session)
        return json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(session.access_token_expiration),
            }
        )
    return _token_error("unsupported_grant_type")


async def _revoke(request: web.Request, token_value: str) -> web.StreamResponse:
    auth = request.app[AUTH]
    grant = auth.data.grant_by_token(token_value) if token_value else None
    if grant is not None:
        await auth.revoke(grant.id)
        _LOGGER.info("Revoked token %s (hash %s…)", grant.id, hash_token(token_value)[:8])
    # Like OAuth2 (RFC 7009): an unknown token is not an error worth telling.
    return web.Response(status=200)


@requires(Permission.PUBLIC)
async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke a refresh token (form field ``token``)."""
    form = await request.post()
    return await _revoke(request, str(form.get("token", "")))


def add_routes(app: web.Application) -> None:
    """Mount the onboarding and login routes."""
    app[_FLOWS] = {}
    app[_ONBOARDING_LOCK] = asyncio.Lock()
    router = app.router
    router.add_get("/api/onboarding", onboarding_status)
    router.add_post("/api/onboarding/users", onboarding_user)
    router.add_get("/auth/providers", providers)
    router.add_post("/auth/login_flow", login_flow_start)
    router.add_post("/auth/login_flow/{flow_id}", login_flow_step)
    router.add_delete("/auth/login_flow/{flow_id}", login_flow_abort)
    router.add_post("/auth/token", token)
    router.add_post("/auth/revoke", revoke)
