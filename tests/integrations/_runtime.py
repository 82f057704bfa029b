"""Running real Runtimes for the tests of built-in integrations (on a fake clock, or many
started from YAML sections)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import FakeClock
from core.runtime import Runtime

#: A site's core configuration: Amsterdam, metric, HTTP on 127.0.0.1 and a free port.
SITE_YAML = textwrap.dedent(
    """\
    edgewise:
      name: Test
      latitude: 52.3731
      longitude: 4.8922
      elevation: 0
      time_zone: Europe/Amsterdam
      unit_system: metric
    http:
      server_host: 127.0.0.1
      server_port: 0
    """
)


def section_yaml(domain: str, **options: Any) -> str:
    """A ``domain:`` section of ``options`` (a dict becomes a nested list section, as filters)."""
    lines = [f"{domain}:"]
    for key, value in options.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines.extend(f"    {sub}: {list(items)!r}" for sub, items in value.items())
        elif isinstance(value, bool):
            lines.append(f"  {key}: {'true' if value else 'false'}")
        else:
            lines.append(f"  {key}: {value}")
    return "\n".join(lines) + "\n"


class RuntimeFactory:
    """Starts real Runtimes, each in a configuration directory of its own under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runtimes: list[Runtime] = []

    async def start(self, yaml: str) -> Runtime:
        """Start a Runtime on ``SITE_YAML`` followed by ``yaml``."""
        config_dir = self.root / f"config{len(self.runtimes)}"
        config_dir.mkdir()
        write_config(config_dir, SITE_YAML + yaml)
        runtime = Runtime(config_dir)
        self.runtimes.append(runtime)
        await runtime.start()
        return runtime

    async def stop_all(self) -> None:
        """Stop every Runtime started, the last first (stopping twice is harmless)."""
        for runtime in reversed(self.runtimes):
            await runtime.stop()


def write_config(config_dir: Path, yaml: str) -> None:
    """Write ``yaml`` as the site's ``configuration.yaml``.

    A configuration without an ``http:`` section gets one at its end that listens on a free
    port, not on 8123: a test must not fail because something else holds Edgewise's default port.
    """
    if not any(line.startswith("http:") for line in yaml.splitlines()):
        # At the end, so that the lines a test's errors name stay where the test wrote them.
        yaml = yaml.rstrip("\n") + "\nhttp:\n  server_port: 0\n"
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
