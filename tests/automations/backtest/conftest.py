"""A site on a FakeClock with the recorder (SQLite) and the automation engine, for backtests."""

from __future__ import annotations

import asyncio
import importlib
import textwrap
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import integrations.recorder as recorder_integration
from core.clock import FakeClock
from core.runtime import Runtime
from integrations.recorder.core import RECORDER, Recorder
from tests.automations.conftest import HEADER, START, Site, TestPlugin, make_loader, write_files

__all__ = ["START", "backtest_site", "recorder_of"]


def recorder_of(site: Site) -> Recorder:
    """The site's recorder."""
    return site.runtime.data[RECORDER]


@asynccontextmanager
async def backtest_site(
    config_dir: Path, yaml: str, *, start: datetime = START, integrations: Sequence[str] = ()
) -> AsyncIterator[Site]:
    """A site with ``yaml`` and a recorder writing each change at once to a SQLite file.

    ``integrations``: more built-in integrations to load (module names), e.g. the tariff.
    """
    db = config_dir.parent / "recorder.db"
    recorder_yaml = (
        f"recorder:\n  db_url: sqlite+aiosqlite:///{db}\n  commit_interval: 0\n"
        "  auto_purge: false\n"
    )
    write_files(config_dir, HEADER + recorder_yaml + textwrap.dedent(yaml), {})
    plugin = TestPlugin()
    loader = make_loader(plugin)
    loader.register(recorder_integration, source="integrations.recorder")
    for name in integrations:
        loader.register(importlib.import_module(name), source=name)
    runtime = Runtime(config_dir, loader=loader, clock=FakeClock(start))
    try:
        await runtime.start()
        from automations.manager import AutomationManager

        async with asyncio.timeout(30):
            await runtime.data[AutomationManager.KEY].loaded.wait()
            await runtime.data[RECORDER].wait_started()
        yield Site(runtime, plugin)
    finally:
        await runtime.stop()
