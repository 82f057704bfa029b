"""Tuya devices over the API: list them, add one (from discovery, with its local key), remove one.

- WebSocket ``tuya/devices`` (any user): the devices, never their keys; an area-limited user
  (``core.auth.areas``) gets the devices whose registry device they may see;
- WebSocket ``tuya/devices/add`` and ``tuya/devices/remove`` (admins): a device with the keys of
  a YAML device (``device_id``, ``local_key``, ``host``, optional ``port``, ``version``, ``name``,
  ``area``, ``dps``...), kept in ``.storage/tuya.devices``; only devices added this way can be
  removed this way;
- REST ``GET /api/tuya/devices`` (any user) and ``POST /api/tuya/devices`` (admins) do the same.

Routes and commands are registered per runtime (``core.http.register_route`` and
``register_command``) and removed when the integration stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from core.auth import Permission
from core.auth.areas import area_aware, may_see_device
from core.http import register_command, register_route
from core.http.view import current_user, json_message, json_response, read_json_object
from core.http.ws_messages import ERR_INVALID_FORMAT, ERR_NOT_FOUND, error_message, result_message

from .const import CONF_DEVICE_ID, DOMAIN
from .schema import device_config

if TYPE_CHECKING:
    from core import Runtime
    from core.auth.models import User
    from core.http.websocket import Connection

    from .setup import TuyaRuntime

ROUTE_DEVICES = "/api/tuya/devices"


def _tuya(runtime: Runtime) -> TuyaRuntime | None:
    from . import TUYA  # noqa: PLC0415 - the package imports this module from setup

    return runtime.data.get(TUYA)


def _sees(runtime: Runtime, user: User | None, device_id: str) -> bool:
    if user is None or user.areas is None:
        return True
    found = runtime.device_registry.get_device(identifiers=[(DOMAIN, device_id)])
    return found is not None and may_see_device(runtime, user, found.id)


def describe(tuya: TuyaRuntime, user: User | None = None) -> list[dict[str, Any]]:
    """The devices as the API shows them (those ``user`` may see): no local keys."""
    result = []
    for device in tuya.devices.values():
        session = device.session
        config = device.config
        if not _sees(tuya.runtime, user, config.device_id):
            continue
        result.append(
            {
                "device_id": config.device_id,
                "name": config.title,
                "host": config.host,
                "port": config.port,
                "area": config.area,
                "version": session.version if session is not None else config.version,
                "source": device.source,
                "available": device.available,
                "key_rejected": session is not None and session.gave_up.is_set(),
                "last_error": session.last_error if session is not None else None,
                "entities": [e.entity_id for e in device.entities if e.added],
            }
        )
    return result


class ApiError(Exception):
    """A request the API refuses; the message says why."""


async def add(tuya: TuyaRuntime, data: dict[str, Any]) -> dict[str, Any]:
    """Validate, start and keep a device.

    Raises:
        ApiError: the data does not describe a device, or the device exists.
    """
    try:
        config = device_config(data)
    except vol.Invalid as err:
        raise ApiError(f"{'.'.join(str(p) for p in err.path) or 'device'}: {err.msg}") from None
    if config.device_id in tuya.devices:
        raise ApiError(f"device {config.device_id} is configured already")
    await tuya.add_device(config, source="api")
    if tuya.store is not None:
        await tuya.store.add(data)
    return next(d for d in describe(tuya) if d["device_id"] == config.device_id)


async def remove(tuya: TuyaRuntime, device_id: Any) -> None:
    """Stop and forget a device added over the API.

    Raises:
        ApiError: no such device, or it comes from the YAML.
    """
    device = tuya.devices.get(device_id) if isinstance(device_id, str) else None
    if device is None:
        raise ApiError(f"no Tuya device {device_id!r}")
    if device.source != "api":
        raise ApiError(f"device {device_id} is configured in the YAML: remove it there")
    await tuya.remove_device(device_id)
    if tuya.store is not None:
        await tuya.store.remove(device_id)


def _fields(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("id", "type")}


@area_aware
async def _ws_devices(connection: Connection, message: dict[str, Any]) -> None:
    tuya = _tuya(connection.runtime)
    if tuya is None:
        connection.send(error_message(message["id"], ERR_NOT_FOUND, "Tuya is not configured."))
        return
    devices = describe(tuya, connection.user)
    connection.send(result_message(message["id"], {"devices": devices}))


async def _ws_add(connection: Connection, message: dict[str, Any]) -> None:
    tuya = _tuya(connection.runtime)
    if tuya is None:
        connection.send(error_message(message["id"], ERR_NOT_FOUND, "Tuya is not configured."))
        return
    try:
        device = await add(tuya, _fields(message))
    except ApiError as err:
        connection.send(error_message(message["id"], ERR_INVALID_FORMAT, str(err)))
        return
    connection.send(result_message(message["id"], {"device": device}))


async def _ws_remove(connection: Connection, message: dict[str, Any]) -> None:
    tuya = _tuya(connection.runtime)
    if tuya is None:
        connection.send(error_message(message["id"], ERR_NOT_FOUND, "Tuya is not configured."))
        return
    try:
        await remove(tuya, message.get(CONF_DEVICE_ID))
    except ApiError as err:
        connection.send(error_message(message["id"], ERR_INVALID_FORMAT, str(err)))
        return
    connection.send(result_message(message["id"], None))


def register_api(runtime: Runtime, tuya: TuyaRuntime) -> Callable[[], None]:
    """Serve the device API; returns the function that removes the routes."""
    removers = [
        register_command(runtime, f"{DOMAIN}/devices", _ws_devices, Permission.READ),
        register_command(runtime, f"{DOMAIN}/devices/add", _ws_add, Permission.ADMIN),
        register_command(runtime, f"{DOMAIN}/devices/remove", _ws_remove, Permission.ADMIN),
    ]

    @area_aware
    async def list_devices(request: web.Request) -> web.StreamResponse:
        return json_response({"devices": describe(tuya, current_user(request))})

    async def add_device(request: web.Request) -> web.StreamResponse:
        data = await read_json_object(
            request, invalid="the body is not JSON", not_object="expected a JSON object"
        )
        if isinstance(data, web.Response):
            return data
        try:
            device = await add(tuya, data)
        except ApiError as err:
            return json_message(str(err), 400)
        return json_response({"device": device}, status=201)

    removers += [
        register_route(runtime, "GET", ROUTE_DEVICES, list_devices, Permission.READ),
        register_route(runtime, "POST", ROUTE_DEVICES, add_device, Permission.ADMIN),
    ]

    def remove_routes() -> None:
        for remover in removers:
            remover()

    return remove_routes
