"""A started Runtime on a FakeClock in Europe/Amsterdam, for the template tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from core.runtime import Runtime
from tests.integrations._runtime import running

AMSTERDAM_CONFIG = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
"""

#: A Monday, 12:00 in Amsterdam (UTC+1 in winter).
START = datetime(2024, 1, 15, 11, 0, tzinfo=UTC)


@asynccontextmanager
async def template_runtime(
    config_dir: Path, start: datetime = START, extra_yaml: str = ""
) -> AsyncIterator[Runtime]:
    """A started runtime in Amsterdam on a FakeClock at ``start``."""
    async with running(config_dir, AMSTERDAM_CONFIG + extra_yaml, start) as runtime:
        yield runtime
