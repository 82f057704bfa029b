"""Configuration sections the kernel itself owns: ``http:`` and ``logger:``.

Each is validated by its own schema, exactly like an integration's section, and turned into a
frozen dataclass at the boundary.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from .const import DEFAULT_HTTP_PORT

#: 256 KiB: more than any API request needs, little enough to refuse a flood.
DEFAULT_MAX_REQUEST_BODY = 256 * 1024
#: 16 MiB: several full state dumps of a large site, little enough for a Pi with a few clients.
DEFAULT_WEBSOCKET_SEND_QUEUE_BYTES = 16 * 1024 * 1024

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CONF_HTTP = "http"
CONF_LOGGER = "logger"

_LEVELS = {
    "critical": logging.CRITICAL,
    "fatal": logging.FATAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "notset": logging.NOTSET,
}


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Where the HTTP server listens.

    ``server_port: 0`` picks a free port (for tests); the bound port is then on the server.
    """

    server_host: str = "0.0.0.0"  # noqa: S104 - a Pi's panel is meant to be reached on the LAN
    server_port: int = DEFAULT_HTTP_PORT
    #: Origins a browser may call the API from; none (CORS off) by default.
    cors_allowed_origins: tuple[str, ...] = ()
    #: The largest request body accepted, in bytes; larger ones get 413.
    max_request_body: int = DEFAULT_MAX_REQUEST_BODY
    #: Failed logins from one address before it is banned for ``login_ban_seconds``.
    login_attempts_threshold: int = 5
    login_ban_seconds: float = 600.0
    #: Messages waiting to be sent to one WebSocket client before it is disconnected.
    websocket_send_queue: int = 4096
    #: Bytes waiting to be sent to one WebSocket client before it is disconnected.
    websocket_send_queue_bytes: int = DEFAULT_WEBSOCKET_SEND_QUEUE_BYTES
    #: Behind a reverse proxy: take the client's address from ``X-Forwarded-For`` when the
    #: request comes from one of ``trusted_proxies`` (as Home Assistant's ``http:`` does).
    use_x_forwarded_for: bool = False
    trusted_proxies: tuple[IPNetwork, ...] = ()


def _http(value: Mapping[str, Any]) -> HttpConfig:
    return HttpConfig(
        server_host=value["server_host"],
        server_port=value["server_port"],
        cors_allowed_origins=tuple(value["cors_allowed_origins"]),
        max_request_body=value["max_request_body"],
        login_attempts_threshold=value["login_attempts_threshold"],
        login_ban_seconds=float(value["login_ban_seconds"]),
        websocket_send_queue=value["websocket_send_queue"],
        websocket_send_queue_bytes=value["websocket_send_queue_bytes"],
        use_x_forwarded_for=value["use_x_forwarded_for"],
        trusted_proxies=tuple(value["trusted_proxies"]),
    )


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    raise vol.Invalid("expected an address or a list of addresses")


def _network(value: object) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError as err:
        raise vol.Invalid(f"not an IP address or network: {value!r}") from err


def _proxies_need_networks(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("use_x_forwarded_for") and not value.get("trusted_proxies"):
        raise vol.Invalid("use_x_forwarded_for needs trusted_proxies (the proxies' addresses)")
    return value


HTTP_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("server_host", default="0.0.0.0"): str,  # noqa: S104 - see HttpConfig
            vol.Optional("server_port", default=DEFAULT_HTTP_PORT): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=65535)
            ),
            vol.Optional("cors_allowed_origins", default=[]): [str],
            vol.Optional("max_request_body", default=DEFAULT_MAX_REQUEST_BODY): vol.All(
                vol.Coerce(int), vol.Range(min=1024)
            ),
            vol.Optional("login_attempts_threshold", default=5): vol.All(
                vol.Coerce(int), vol.Range(min=1)
            ),
            vol.Optional("login_ban_seconds", default=600): vol.All(
                vol.Coerce(float), vol.Range(min=0)
            ),
            vol.Optional("websocket_send_queue", default=4096): vol.All(
                vol.Coerce(int), vol.Range(min=16)
            ),
            vol.Optional(
                "websocket_send_queue_bytes", default=DEFAULT_WEBSOCKET_SEND_QUEUE_BYTES
            ): vol.All(vol.Coerce(int), vol.Range(min=64 * 1024)),
            vol.Optional("use_x_forwarded_for", default=False): bool,
            vol.Optional("trusted_proxies", default=[]): vol.All(_as_list, [_network]),
        }
    ),
    _proxies_need_networks,
    _http,
)


def _level(value: object) -> int:
    if not isinstance(value, str) or value.lower() not in _LEVELS:
        raise vol.Invalid(f"expected one of {', '.join(sorted(set(_LEVELS)))}")
    return _LEVELS[value.lower()]


@dataclass(frozen=True, slots=True)
class LoggerConfig:
    """Log levels: a default, and one per logger name."""

    default: int = logging.INFO
    logs: Mapping[str, int] = field(default_factory=dict)

    def apply(self) -> None:
        """Set the levels on the root logger and the named loggers."""
        logging.getLogger().setLevel(self.default)
        for name, level in self.logs.items():
            logging.getLogger(name).setLevel(level)


LOGGER_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional("default", default="info"): _level,
            vol.Optional("logs", default={}): {str: _level},
        }
    ),
    lambda v: LoggerConfig(default=v["default"], logs=dict(v["logs"])),
)

#: The kernel's own sections, by key, with their schemas.
CORE_SECTIONS: Mapping[str, vol.Schema | vol.All] = {
    CONF_HTTP: HTTP_SCHEMA,
    CONF_LOGGER: LOGGER_SCHEMA,
}
