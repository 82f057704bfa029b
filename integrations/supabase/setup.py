"""The running ``supabase`` integration: a source and a Realtime feed per configured table.

Imported from ``edgewise_setup`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp

from core import Runtime
from core.errors import DeviceError

from .auth import SupabaseTokenVerifier
from .mirror import Mirror
from .realtime import RealtimeFeed
from .rest import PostgrestClient
from .schema import SupabaseConfig
from .source import TableSource

_LOGGER = logging.getLogger(__name__)


class SupabaseRuntime:
    """The project's HTTP session, its sources and their feeds. Runs on the event loop."""

    def __init__(self, runtime: Runtime, config: SupabaseConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.session: aiohttp.ClientSession | None = None
        self.sources: list[TableSource] = []
        self.feeds: list[RealtimeFeed] = []
        #: Gives the access token for every Realtime join (the anon key unless replaced).
        self.access_token: Callable[[], str] = lambda: config.anon_key
        self._tasks: list[asyncio.Task[None]] = []
        self.mirror: Mirror | None = None
        self.verifier: SupabaseTokenVerifier | None = None
        self._remove_verifier: Callable[[], None] | None = None

    async def start(self) -> None:
        """Read each table once, then follow it through Realtime."""
        self.session = aiohttp.ClientSession()
        if self.config.auth is not None:
            if self.runtime.http is None:
                _LOGGER.warning("supabase: auth is configured but the HTTP API is not")
            else:
                self.verifier = SupabaseTokenVerifier(
                    self.runtime.http.auth, self.config.auth, self.session
                )
                self._remove_verifier = self.runtime.http.auth.add_token_verifier(
                    self.verifier, issued=self.verifier.issued_by_project
                )
        rest = PostgrestClient(self.session, self.config.url, self.config.anon_key)
        if self.config.mirror is not None and self.config.service_key is not None:
            writer = PostgrestClient(self.session, self.config.url, self.config.service_key)
            self.mirror = Mirror(self.runtime, self.config.mirror, writer)
            await self.mirror.start()
        for index, source_config in enumerate(self.config.sources):
            source = TableSource(
                self.runtime, source_config, rest, self.config.feed_down_notify_after
            )
            self.sources.append(source)
            try:
                await source.reload()
            except DeviceError as err:
                _LOGGER.warning(
                    "Supabase: %s could not be read yet (%s); it will be once Realtime joins",
                    source_config.table,
                    err,
                )
            source.down()
            binding = {"event": "*", "schema": "public", "table": source_config.table}
            bindings = [binding]
            if source_config.realtime_filter is not None:
                binding["filter"] = source_config.realtime_filter
                # Realtime cannot filter deletes (the old record holds the primary key only):
                # take every delete of the table and match it against the rows held.
                bindings.append({"event": "DELETE", "schema": "public", "table": binding["table"]})
            feed = RealtimeFeed(
                self.session,
                self.config.url,
                self.config.anon_key,
                f"edgewise_{index}_{source_config.table}",
                bindings,
                token=self._token,
                on_change=source.apply_change,
                on_joined=source.joined,
                on_down=source.down,
                heartbeat_interval=self.config.heartbeat_interval,
            )
            self.feeds.append(feed)
            self._tasks.append(
                self.runtime.create_task(feed.run(), name=f"supabase[{source_config.table}].feed")
            )

    def _token(self) -> str:
        return self.access_token()

    async def stop(self) -> None:
        """Stop the feeds and close the session."""
        if self._remove_verifier is not None:
            self._remove_verifier()
            self._remove_verifier = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for source in self.sources:
            source.stop()
        if self.mirror is not None:
            await self.mirror.stop()
        if self.session is not None:
            await self.session.close()
