"""The newcomer's path on the shipped configuration: tariff bands, a scheduled dishwasher that
still runs after a restart, and its receipt (``edgewise run`` as a real process).

The shipped configuration is copied where ``edgewise run`` looks for it, with one change: the
simulated Tuya plugs answer on free ports instead of 6670-6672, so another Edgewise on the
same machine cannot take the dishwasher's plug.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import free_port
from tests.e2e.test_first_run import CLIENT_ID, _poll, _wait_ready

Start = Any
SHIPPED = Path(__file__).resolve().parents[3] / "config"
PLUGS = 5  # the simulator serves one port per plug from its base port


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free TCP ports on 127.0.0.1."""
    for _ in range(50):
        base = free_port()
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise AssertionError(f"no {count} consecutive free ports")


def shipped_config(target: Path) -> None:
    """The shipped configuration in ``target``, its simulated plugs on free ports."""
    shutil.copytree(SHIPPED, target)
    base = free_port_block(PLUGS)
    path = target / "configuration.yaml"
    text = path.read_text(encoding="utf-8")
    for offset in range(3):
        text = text.replace(f"port: {6670 + offset}", f"port: {base + offset}")
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def edgewise(tmp_path: Path) -> Iterator[Start]:
    """Starts ``edgewise run`` on one data directory and port; stops every process it started."""
    data_home = tmp_path / "data"
    shipped_config(data_home / "edgewise" / "config")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], str]:
        env = {**os.environ, "XDG_DATA_HOME": str(data_home), "PYTHONUNBUFFERED": "1"}
        log = (tmp_path / f"stdout-{len(procs)}.txt").open("wb")
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("edgewise")), "run", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc, f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    assert proc.wait(timeout=30) == 0


async def test_a_newcomer_schedules_the_dishwasher_restarts_and_gets_a_receipt(
    edgewise: Start,
) -> None:
    proc, url = edgewise()
    async with aiohttp.ClientSession() as session:
        await _wait_ready(session, url, proc)
        owner = {"client_id": CLIENT_ID, "name": "Owner", "username": "owner",
                 "password": "newcomer-password"}  # fmt: skip
        async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
            code = (await response.json())["auth_code"]
        form = {"client_id": CLIENT_ID, "grant_type": "authorization_code", "code": code}
        async with session.post(f"{url}/auth/token", data=form) as response:
            tokens = await response.json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}

        async with session.get(f"{url}/api/tariff/prices", headers=headers) as response:
            prices: dict[str, Any] = await response.json()
        assert {"off_peak", "peak"} <= {s["type"] for s in prices["segments"]}
        assert prices["windows"]

        async def dishwasher() -> dict[str, Any] | None:
            async with session.get(f"{url}/api/states/appliance.dishwasher", headers=headers) as r:
                state: dict[str, Any] = await r.json()
                return state if state["state"] not in ("unknown", "unavailable") else None

        await _poll(dishwasher, 60, "the dishwasher's plug")
        async with session.post(
            f"{url}/api/services/appliance/turn_off",
            json={"entity_id": "appliance.dishwasher"},
            headers=headers,
        ) as response:
            assert response.status == 200, await response.text()
        start = datetime.now(UTC) + timedelta(seconds=20)
        body = {"appliance": "appliance.dishwasher", "kind": "once", "start": start.isoformat(),
                "end": (start + timedelta(seconds=6)).isoformat()}  # fmt: skip
        async with session.post(f"{url}/api/tariff/schedules", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        assert (await dishwasher() or {}).get("state") == "scheduled"

        _stop(proc)
        proc, url = edgewise()
        await _wait_ready(session, url, proc)
        refresh = {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                   "refresh_token": tokens["refresh_token"]}  # fmt: skip
        async with session.post(f"{url}/auth/token", data=refresh) as response:
            assert response.status == 200, await response.text()
            headers = {"Authorization": f"Bearer {(await response.json())['access_token']}"}

        async def receipts() -> list[dict[str, Any]]:
            async with session.get(f"{url}/api/tariff/receipts", headers=headers) as r:
                found: list[dict[str, Any]] = (await r.json())["receipts"]
                return found

        (receipt,) = await _poll(receipts, 90, "the dishwasher's receipt")
        async with session.get(f"{url}/api/tariff/schedules", headers=headers) as response:
            log = (await response.json())["log"]
        _stop(proc)
    assert [(e["action"], e["result"]) for e in reversed(log)] == [
        ("turn_on", "ok"),
        ("turn_off", "ok"),
    ]
    assert receipt["planned_start"] == start.isoformat()
    assert receipt["appliance"] == "appliance.dishwasher"
    assert receipt["cost"] >= 0
