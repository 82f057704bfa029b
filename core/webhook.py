"""Webhooks: named HTTP endpoints (``/api/webhook/<id>``) that integrations and triggers register.

The registry lives on the runtime; the HTTP layer mounts :func:`handle_webhook` without
authentication, so a webhook id is a shared secret and should be long and random. A webhook is
``local_only`` by default: requests from outside the local networks (loopback, private, link-local
and unique-local addresses) are refused.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from .http.view import redacted_webhook_id as redacted
from .runtime import RuntimeKey

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

WebhookHandler = Callable[["Runtime", str, web.Request], Awaitable[web.StreamResponse | None]]
"""``handler(runtime, webhook_id, request)``; returning None answers ``200`` with no body."""

DEFAULT_METHODS = ("POST", "PUT")


@dataclass(frozen=True, slots=True)
class Webhook:
    """One registered webhook."""

    webhook_id: str
    handler: WebhookHandler
    local_only: bool
    allowed_methods: frozenset[str]


_WEBHOOKS: RuntimeKey[dict[str, Webhook]] = RuntimeKey("webhooks")


def _registry(runtime: Runtime) -> dict[str, Webhook]:
    return runtime.data.setdefault(_WEBHOOKS, dict)


def register_webhook(
    runtime: Runtime,
    webhook_id: str,
    handler: WebhookHandler,
    *,
    local_only: bool = True,
    allowed_methods: Iterable[str] = DEFAULT_METHODS,
) -> Callable[[], None]:
    """Register ``handler`` for ``/api/webhook/<webhook_id>``.

    Args:
        runtime: the running site.
        webhook_id: the id in the URL.
        handler: called with the runtime, the id and the request, on the loop.
        local_only: refuse requests from outside the local networks.
        allowed_methods: the HTTP methods accepted (others get 405).

    Returns:
        A function that unregisters the webhook (harmless to call twice); when an integration
        registered it (from its setup or the tasks it started), its stop calls it too.

    Raises:
        ValueError: the id is already registered.
    """
    registry = _registry(runtime)
    if webhook_id in registry:
        raise ValueError(f"Webhook {redacted(webhook_id)} is already registered")
    webhook = Webhook(
        webhook_id, handler, local_only, frozenset(m.upper() for m in allowed_methods)
    )
    registry[webhook_id] = webhook

    def unregister() -> None:
        if registry.get(webhook_id) is webhook:
            del registry[webhook_id]

    return runtime.registrations.track(unregister)


def registered_webhooks(runtime: Runtime) -> list[str]:
    """The ids of the registered webhooks (for diagnostics)."""
    return sorted(_registry(runtime))


def is_local(remote: str | None) -> bool:
    """Whether ``remote`` (an IP address) is on a local network."""
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private or address.is_link_local


async def handle_webhook(
    runtime: Runtime, webhook_id: str, request: web.Request
) -> web.StreamResponse:
    """Answer one request to ``/api/webhook/<webhook_id>``.

    An unknown id and a refused non-local request both answer ``200`` with no body, as Home
    Assistant does, so that probing cannot tell which ids exist; both are logged. A method the
    webhook does not accept answers ``405``.

    Returns:
        The handler's response, or an empty ``200``.
    """
    webhook = _registry(runtime).get(webhook_id)
    if webhook is None:
        _LOGGER.info("Received a request for an unknown webhook %s", redacted(webhook_id))
        return web.Response(status=200)
    if request.method.upper() not in webhook.allowed_methods:
        return web.Response(status=405)
    if webhook.local_only and not is_local(request.remote):
        _LOGGER.warning(
            "Refused a request from %s to the local-only webhook %s",
            request.remote,
            redacted(webhook_id),
        )
        return web.Response(status=200)
    try:
        response = await webhook.handler(runtime, webhook_id, request)
    except Exception:  # an isolation boundary: one webhook handler only
        _LOGGER.exception("Error handling webhook %s", redacted(webhook_id))
        return web.Response(status=200)
    return response if response is not None else web.Response(status=200)
