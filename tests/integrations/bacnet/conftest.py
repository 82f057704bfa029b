"""Fixtures for the BACnet tests: real bacpypes3 devices on loopback and runtimes that use them.

bacpypes3 0.0.110 treats any 127.x destination on its own UDP port as itself, so the device and
Edgewise's client get different addresses and different ports (127.0.0.2:<free> and
127.0.0.3:<free>).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.runtime import Runtime
from tests._helpers import wait_for
from tests.integrations._runtime import running as run_on_fake_clock

from .device import CLIENT_HOST, TestDevice, free_udp_port

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

#: The points most tests configure on the test device.
POINTS = """\
      - object: analog-value,1
        name: Supply setpoint
        min: 12
        max: 28
        min_write_interval: 0
      - object: analog-value,3
        name: Locked setpoint
        min: 0
        max: 100
        min_write_interval: 0
      - object: analog-input,1
        name: Supply temperature
      - object: binary-input,1
        name: Filter alarm
      - object: binary-value,1
        name: Fan enable
        min_write_interval: 0
      - object: multi-state-output,1
        name: Mode
        min_write_interval: 0
"""


def client_yaml(instance: int, address: str, port: int, *, timeout: int, local: str = "") -> str:
    """The top of a site's configuration: HTTP on a free port and the BACnet client.

    Args:
        instance: the client's device instance.
        address: its address with the network's prefix length (``127.0.0.3/8``).
        port: its UDP port.
        timeout: the client's request timeout, in seconds.
        local: more keys of its ``local:`` block (``bbmd: …``), one a line.

    Returns:
        The YAML up to ``bacnet.timeout``; the caller adds ``devices:`` when it needs them.
    """
    return (
        textwrap.dedent(
            f"""\
            edgewise:
              time_zone: UTC
            http:
              server_host: 127.0.0.1
              server_port: 0
            bacnet:
              local:
                instance: {instance}
                address: {address}
                port: {port}
            """
        )
        + textwrap.indent(local, "    ")
        + f"  timeout: {timeout}\n"
    )


def site_yaml(device: TestDevice, client_port: int, points: str = POINTS, extra: str = "") -> str:
    """A configuration with the BACnet client on 127.0.0.3 and ``device`` with ``points``."""
    return (
        client_yaml(599001, f"{CLIENT_HOST}/8", client_port, timeout=3)
        + "  devices:\n"
        + "    - name: AHU\n"
        + f"      instance: {device.instance}\n"
        + f"      address: {device.address}\n"
        + "      scan_interval: 30\n"
        + textwrap.indent(extra, "      ")
        + "      points:\n"
        + points
    )


@pytest.fixture
async def device() -> AsyncIterator[TestDevice]:
    """The test device, serving on 127.0.0.2:<free port>."""
    found = TestDevice()
    await found.start()
    yield found
    found.stop()


@pytest.fixture
def client_port() -> int:
    """A free UDP port for Edgewise's own BACnet device on 127.0.0.3."""
    return free_udp_port(CLIENT_HOST)


def running(
    config_dir: Path, yaml: str, start: datetime = START
) -> AbstractAsyncContextManager[Runtime]:
    """A started Runtime on a FakeClock with ``yaml``; stopped afterwards."""
    return run_on_fake_clock(config_dir, yaml, start)


def state_of(runtime: Runtime, entity_id: str) -> str | None:
    """The state string of ``entity_id``, or None."""
    found = runtime.states.get(entity_id)
    return None if found is None else found.state


async def wait_state(runtime: Runtime, entity_id: str, expected: str) -> None:
    """Wait until ``entity_id`` has state ``expected``."""

    def check() -> bool:
        return state_of(runtime, entity_id) == expected

    await wait_for(check, what=f"{entity_id} == {expected!r} (is {state_of(runtime, entity_id)!r})")


async def call(runtime: Runtime, service: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Call ``bacnet.<service>`` (or ``domain.service``) and return its response."""
    domain, _, name = service.rpartition(".")
    return await runtime.services.call(domain or "bacnet", name, data, **kwargs)
