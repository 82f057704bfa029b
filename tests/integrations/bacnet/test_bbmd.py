"""Foreign-device registration with a real bacpypes3 BBMD on loopback, and discovery through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bacpypes3.app import Application
from bacpypes3.argparse import SimpleArgumentParser

from integrations.bacnet.client import wait_bound
from tests._helpers import wait_for

from .conftest import call, client_yaml, running
from .device import CLIENT_HOST, free_udp_port

BBMD_HOST = "127.0.0.4"


@pytest.fixture
async def bbmd() -> AsyncIterator[Any]:
    """A BBMD (device 1500) on 127.0.0.4:<free port>."""
    port = free_udp_port(BBMD_HOST)
    args = SimpleArgumentParser().parse_args(
        [
            "--name",
            "BBMD",
            "--instance",
            "1500",
            "--address",
            f"{BBMD_HOST}/8:{port}",
            "--bbmd",
            f"{BBMD_HOST}:{port}",
        ]
    )
    app = Application.from_args(args)
    await wait_bound(app, 10.0)
    app.test_address = f"{BBMD_HOST}:{port}"
    yield app
    app.close()


async def test_edgewise_registers_as_a_foreign_device_and_discovers_through_the_bbmd(
    tmp_path: Path, bbmd: Any, client_port: int
) -> None:
    yaml = client_yaml(
        599003,
        f"{CLIENT_HOST}/8",
        client_port,
        timeout=1,
        local=f"bbmd: {bbmd.test_address}\nttl: 60\n",
    )
    link_layer = next(iter(bbmd.link_layers.values()))
    async with running(tmp_path, yaml) as runtime:
        registered = await wait_for(
            lambda: [str(entry.fdAddress) for entry in link_layer.bbmdFDT],
            what="a foreign-device registration",
        )
        assert registered == [f"{CLIENT_HOST}:{client_port}"]
        assert link_layer.bbmdFDT[0].fdTTL == 60
        found = await call(runtime, "discover", {"timeout": 1}, return_response=True)
        assert [d["instance"] for d in found["devices"]] == [1500]
