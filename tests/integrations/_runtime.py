"""Running a real Runtime on a fake clock, for the tests of built-in integrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from core.clock import FakeClock
from core.runtime import Runtime


def write_config(config_dir: Path, yaml: str) -> None:
    """Write ``yaml`` as the site's ``configuration.yaml``."""
    (config_dir / "configuration.yaml").write_text(yaml, encoding="utf-8")


@asynccontextmanager
async def running(config_dir: Path, yaml: str, start: datetime) -> AsyncIterator[Runtime]:
    """A started Runtime on a FakeClock at ``start``, with ``yaml`` as its configuration."""
    write_config(config_dir, yaml)
    runtime = Runtime(config_dir, clock=FakeClock(start))
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()


def clock_of(runtime: Runtime) -> FakeClock:
    """The runtime's FakeClock."""
    assert isinstance(runtime.clock, FakeClock)
    return runtime.clock
