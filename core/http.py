"""The HTTP server: one aiohttp application for health checks now, the APIs and panel later.

``/live`` answers as soon as the server listens; ``/ready`` answers 200 only once start-up has
finished and the runtime is running (503 before and during shutdown), so a supervisor or a
benchmark can wait on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .core_sections import HttpConfig

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")


async def live(request: web.Request) -> web.StreamResponse:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "alive"})


async def ready(request: web.Request) -> web.StreamResponse:
    """Readiness: 200 once the runtime is running, 503 with its stage otherwise."""
    runtime = request.app[RUNTIME]
    if runtime.ready:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": runtime.state.value.lower()}, status=503)


class HttpServer:
    """Owns the aiohttp application, its runner and its listening site."""

    def __init__(self, runtime: Runtime, config: HttpConfig) -> None:
        self._config = config
        self.app = web.Application()
        self.app[RUNTIME] = runtime
        self.app.router.add_get("/live", live)
        self.app.router.add_get("/ready", ready)
        self._runner: web.AppRunner | None = None
        #: The port actually bound (differs from the configured one when that is 0).
        self.port: int | None = None

    async def start(self) -> None:
        """Start listening.

        Raises:
            OSError: the address is in use or cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("HTTP server already started")
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
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
