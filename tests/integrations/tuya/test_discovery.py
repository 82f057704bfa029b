"""``tuya.discover``: announcements of every version heard, noise and floods bounded."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.tuya.const import DISCOVERY_MAX_DATAGRAMS
from integrations.tuya.discovery import announcement, parse_announcement
from tests.integrations._runtime import running

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _free_udp_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _yaml(ports: list[int]) -> str:
    plain, encrypted, app = ports
    return (
        "tuya:\n  discovery:\n    bind: 127.0.0.1\n    broadcast: 127.0.0.1\n"
        f"    plain_port: {plain}\n    encrypted_port: {encrypted}\n    app_port: {app}\n"
    )


async def _send_during(datagrams: list[tuple[bytes, int]], delay: float = 0.2) -> None:
    await asyncio.sleep(delay)  # the service must be listening first
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, (data, port) in enumerate(datagrams):
            sock.sendto(data, ("127.0.0.1", port))
            if index % 50 == 49:
                await asyncio.sleep(0.002)  # let the listener drain its receive buffer


async def _discover(runtime: Any, duration: float) -> dict[str, Any]:
    response = await runtime.services.call(
        "tuya", "discover", {"duration": duration}, return_response=True
    )
    assert isinstance(response, dict)
    return response


def test_announcements_of_every_version_parse() -> None:
    for version, port in ((3.1, 6666), (3.3, 6667), (3.4, 6667), (3.5, 7000)):
        device = parse_announcement(
            announcement(f"dev{version}xxxxxxxx", "192.0.2.9", version), port
        )
        assert device is not None
        assert device["version"] == f"{version:.1f}"
        assert device["ip"] == "192.0.2.9"


async def test_discover_lists_devices_of_every_version_once(tmp_path: Path) -> None:
    ports = _free_udp_ports(3)
    plain, encrypted, app = ports
    datagrams = [
        (announcement("bf31aaaaaaaaaaaaaaaa", "192.0.2.31", 3.1), plain),
        (announcement("bf33aaaaaaaaaaaaaaaa", "192.0.2.33", 3.3), encrypted),
        (announcement("bf33aaaaaaaaaaaaaaaa", "192.0.2.33", 3.3), encrypted),  # again
        (announcement("bf35aaaaaaaaaaaaaaaa", "192.0.2.35", 3.5), app),
    ]
    async with running(tmp_path, _yaml(ports), START) as runtime:
        sender = asyncio.create_task(_send_during(datagrams))
        response = await _discover(runtime, 0.6)
        await sender

    assert [(d["device_id"], d["version"]) for d in response["devices"]] == [
        ("bf31aaaaaaaaaaaaaaaa", "3.1"),
        ("bf33aaaaaaaaaaaaaaaa", "3.3"),
        ("bf35aaaaaaaaaaaaaaaa", "3.5"),
    ]
    assert response["devices"][0]["encrypted"] is False
    assert response["malformed"] == 0


async def test_malformed_broadcasts_are_counted_and_ignored(tmp_path: Path) -> None:
    ports = _free_udp_ports(3)
    plain, encrypted, _ = ports
    datagrams = [
        (b"\x00\x00\x55\xaa garbage", plain),
        (json.dumps({"gwId": 5, "ip": "x"}).encode(), plain),
        (b"[1, 2, 3]", plain),
        (b"\xff" * 4000, encrypted),
        (announcement("bf33bbbbbbbbbbbbbbbb", "192.0.2.34", 3.3), encrypted),
    ]
    async with running(tmp_path, _yaml(ports), START) as runtime:
        sender = asyncio.create_task(_send_during(datagrams))
        response = await _discover(runtime, 0.6)
        await sender

    assert [d["device_id"] for d in response["devices"]] == ["bf33bbbbbbbbbbbbbbbb"]
    assert response["malformed"] == 3
    assert response["oversized"] == 1


async def test_a_flood_is_cut_off_at_the_bound(tmp_path: Path) -> None:
    ports = _free_udp_ports(3)
    flood = [(b"noise %d" % i, ports[0]) for i in range(DISCOVERY_MAX_DATAGRAMS + 500)]
    async with running(tmp_path, _yaml(ports), START) as runtime:
        sender = asyncio.create_task(_send_during(flood))
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await _discover(runtime, 20)
        elapsed = loop.time() - started
        await sender

    assert response["datagrams"] == DISCOVERY_MAX_DATAGRAMS
    assert response["devices"] == []
    assert elapsed < 20  # the call ended at the bound, not at its duration
