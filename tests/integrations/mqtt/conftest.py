"""Fixtures of the MQTT tests: the shared broker, unique prefixes, runtimes with MQTT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.runtime import Runtime
from tests.integrations._runtime import running
from tests.integrations.mqtt.peers import ensure_shared_broker, new_prefix

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

HEADER = """\
edgewise:
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
"""

RuntimeFactory = Callable[[str], AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def shared_broker() -> None:
    """The machine's Mosquitto on 127.0.0.1:1883, started if it is not running."""
    ensure_shared_broker()


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own."""
    return new_prefix()


@pytest.fixture
def mqtt_runtime(tmp_path: Path) -> RuntimeFactory:
    """Start a Runtime whose configuration is the header plus the given ``mqtt:`` YAML."""
    counter = 0

    @asynccontextmanager
    async def start(yaml: str) -> AsyncIterator[Runtime]:
        nonlocal counter
        counter += 1
        directory = tmp_path / f"site{counter}"
        directory.mkdir()
        async with running(directory, HEADER + yaml, START) as runtime:
            yield runtime

    return start
