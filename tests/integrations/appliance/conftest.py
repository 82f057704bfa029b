"""A running Edgewise with appliances (virtual, and behind a Tuya plug double) for the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import Runtime
from tests.integrations._runtime import running

# The recorder's databases, on SQLite and PostgreSQL, for the control log's table.
from tests.integrations.recorder.conftest import (  # noqa: F401 - fixtures
    _pg_drops,
    db_url,
    make_runtime,
    pg_database,
    pg_url,
    sqlite_url,
)
from tests.integrations.tuya.conftest import DEVICE_ID, KEY, make_double  # noqa: F401 - fixture

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

HTTP = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"


def site_yaml(appliances: str, *, tuya_port: int | None = None, extra: str = "") -> str:
    """HTTP, a recorder in the config directory, optional Tuya plug, and ``appliances``."""
    text = HTTP + "recorder:\n  commit_interval: 0\n"
    if tuya_port is not None:
        text += (
            "tuya:\n  devices:\n"
            f"    - {{device_id: {DEVICE_ID}, local_key: {KEY}, host: 127.0.0.1, "
            f"port: {tuya_port}, version: 3.3, name: Kettle plug, command_timeout: 0.5}}\n"
        )
    return text + "appliance:\n" + appliances + extra


@asynccontextmanager
async def site(tmp_path: Path, yaml: str) -> AsyncIterator[Runtime]:
    """A started runtime on a FakeClock at ``START``."""
    async with running(tmp_path, yaml, START) as runtime:
        yield runtime


Factory = Callable[..., Any]
