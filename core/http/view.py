"""What every HTTP handler uses: typed app/request keys, JSON answers, permissions, context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from core.auth import AuthManager, Permission, RefreshToken, User
from core.context import Context
from core.json import json_bytes, json_loads

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .ban import LoginGuard

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
AUTH: web.AppKey[AuthManager] = web.AppKey("auth")
GUARD: web.AppKey[LoginGuard] = web.AppKey("login_guard")

#: What the middlewares put on a request.
KEY_USER: web.RequestKey[User] = web.RequestKey("user")
KEY_GRANT: web.RequestKey[RefreshToken] = web.RequestKey("grant")
KEY_REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_H = TypeVar("_H", bound=Handler)

_PERMISSION_ATTR = "edgewise_permission"
CONTENT_TYPE_JSON = "application/json"

#: Where webhooks are served; the rest of the path is the webhook's id, a secret.
WEBHOOK_PATH_PREFIX = "/api/webhook/"
#: Characters of a webhook id that logs may show.
_WEBHOOK_ID_SHOWN = 4


def requires(permission: Permission) -> Callable[[_H], _H]:
    """Declare what a handler needs; the auth middleware enforces it before the handler runs.

    A handler without the mark needs ``Permission.ADMIN``: forgetting it fails closed.
    """

    def mark(handler: _H) -> _H:
        setattr(handler, _PERMISSION_ATTR, permission)
        return handler

    return mark


def permission_of(handler: Callable[..., Any]) -> Permission:
    """What ``handler`` needs (``ADMIN`` when it does not say)."""
    value = getattr(handler, _PERMISSION_ATTR, Permission.ADMIN)
    return value if isinstance(value, Permission) else Permission.ADMIN


def json_response(data: object, status: int = 200) -> web.Response:
    """``data`` as a JSON response."""
    return web.Response(body=json_bytes(data), status=status, content_type=CONTENT_TYPE_JSON)


def json_message(message: str, status: int = 200) -> web.Response:
    """Home Assistant's ``{"message": ...}`` answer."""
    return json_response({"message": message}, status)


class InvalidJson(ValueError):
    """A request body that is not JSON."""


async def read_json(request: web.Request) -> Any:
    """The request's JSON body (None when empty).

    Raises:
        InvalidJson: the body is not JSON.
        web.HTTPRequestEntityTooLarge: the body is larger than the configured limit.
    """
    body = await request.read()
    if not body:
        return None
    try:
        return json_loads(body)
    except ValueError as err:
        raise InvalidJson(str(err)) from None


async def read_json_object(
    request: web.Request, *, invalid: str, not_object: str
) -> dict[str, Any] | web.Response:
    """The request's JSON object body, or the 400 answer to give instead.

    Args:
        request: the request.
        invalid: the message when the body is not JSON.
        not_object: the message when it is JSON but not an object (or empty).

    Returns:
        The object, or a ``{"message": ...}`` response with status 400.
    """
    try:
        data = await read_json(request)
    except InvalidJson:
        return json_message(invalid, 400)
    if not isinstance(data, dict):
        return json_message(not_object, 400)
    return data


def current_user(request: web.Request) -> User:
    """The authenticated user of a request that passed the auth middleware."""
    return request[KEY_USER]


def current_grant(request: web.Request) -> RefreshToken:
    """The grant (session or long-lived token) the request authenticated with."""
    return request[KEY_GRANT]


def request_context(request: web.Request) -> Context:
    """A new Context carrying the request's user, for what the request causes."""
    user = request.get(KEY_USER)
    return Context(user_id=None if user is None else user.id)


def remote_address(request: web.Request) -> str:
    """The client's address (no proxy headers are trusted)."""
    return request.remote or "unknown"


def redacted_webhook_id(webhook_id: str) -> str:
    """A webhook id as logs may show it: its first characters only (the id is a secret)."""
    if len(webhook_id) <= 2 * _WEBHOOK_ID_SHOWN:
        return "…"
    return f"{webhook_id[:_WEBHOOK_ID_SHOWN]}…"


def loggable_path(path: str) -> str:
    """``path`` with the id of ``/api/webhook/<id>`` redacted, for access logs."""
    if not path.startswith(WEBHOOK_PATH_PREFIX):
        return path
    return WEBHOOK_PATH_PREFIX + redacted_webhook_id(path[len(WEBHOOK_PATH_PREFIX) :])
