"""The newcomer's first run: the README's ``edgewise run`` on the shipped configuration.

A fresh data directory, no hardware, no broker, no database server: the configuration is copied
into the data directory, the server becomes ready, the owner is created through onboarding, the
simulated site changes over time, a sample automation runs and leaves a trace, and the recorder
has history for the simulated entities.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests._helpers import free_port

CLIENT_ID = "http://127.0.0.1/"


async def _wait_ready(
    session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "edgewise exited before /ready"
        try:
            async with session.get(f"{url}/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("edgewise did not become ready within 90 s")


async def _poll(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


@dataclass
class FirstRun:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    data_home: Path
    log: Path


@contextmanager
def start_first_run(edgewise: Path, tmp_path: Path) -> Iterator[FirstRun]:
    """``edgewise run`` (the README's first command) of ``edgewise`` with a fresh data directory.

    Run from ``tmp_path``, so nothing of a source checkout is on the process's path unless the
    ``edgewise`` given was installed from it.
    """
    data_home = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    port = free_port()
    log = tmp_path / "stdout.txt"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(edgewise), "run", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        yield FirstRun(proc, f"http://127.0.0.1:{port}", port, data_home, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]


@pytest.fixture
def first_run(tmp_path: Path) -> Iterator[FirstRun]:
    """``edgewise run`` of this environment's ``edgewise`` with a fresh data directory."""
    with start_first_run(Path(sys.executable).with_name("edgewise"), tmp_path) as run:
        yield run


async def test_first_run_shows_a_living_site(first_run: FirstRun) -> None:
    await check_living_site(first_run)


async def check_living_site(first_run: FirstRun) -> None:
    """The panel is served, the owner is created, the simulated site and its automations live."""
    proc, url, port, data_home = first_run.proc, first_run.url, first_run.port, first_run.data_home
    async with aiohttp.ClientSession() as session:
        await _wait_ready(session, url, proc)
        config_dir = data_home / "edgewise" / "config"
        assert (config_dir / "configuration.yaml").is_file()
        assert (config_dir / "automations.yaml").is_file()
        printed = first_run.log.read_text()
        assert f"Created a configuration in {config_dir}" in printed
        assert f"Edgewise is running: http://localhost:{port}/" in printed
        assert "No user yet" in printed

        # The panel is served, with its scripts.
        async with session.get(f"{url}/") as response:
            assert response.status == 200, "the panel is not served"
            page = await response.text()
        assert "<script" in page
        script = page.split('src="', 1)[1].split('"', 1)[0]
        script = script if script.startswith("/") else f"/{script}"
        async with session.get(f"{url}{script}") as response:
            assert response.status == 200, f"{script}: {response.status}"

        owner = {"client_id": CLIENT_ID, "name": "Owner", "username": "owner",
                 "password": "first-run-password"}  # fmt: skip
        async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
            assert response.status == 200, await response.text()
            code = (await response.json())["auth_code"]
        form = {"client_id": CLIENT_ID, "grant_type": "authorization_code", "code": code}
        async with session.post(f"{url}/auth/token", data=form) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def state(entity_id: str) -> dict[str, Any]:
            async with session.get(f"{url}/api/states/{entity_id}", headers=headers) as resp:
                assert resp.status == 200, f"{entity_id}: {resp.status}"
                result: dict[str, Any] = await resp.json()
                return result

        # The simulated site is alive: the simulation clock and the meter move.
        first = await state("sensor.simulator_time")
        assert (await state("sensor.main_meter_power"))["state"] not in ("unknown", "")

        async def moved() -> bool:
            return (await state("sensor.simulator_time"))["state"] != first["state"]

        await _poll(moved, 60, "the simulator to take a step")

        # A sample automation runs when the owner turns vacation mode on, and leaves a trace.
        async with session.post(
            f"{url}/api/services/input_boolean/turn_on",
            json={"entity_id": "input_boolean.vacation_mode"},
            headers=headers,
        ) as response:
            assert response.status == 200, await response.text()

        async def set_back() -> bool:
            zone = await state("climate.zone_1")
            return bool(zone["attributes"].get("temperature") == 17.0)

        await _poll(set_back, 30, "the night setback automation to set zone 1 to 17 °C")

        async def traces() -> list[dict[str, Any]]:
            async with session.post(
                f"{url}/api/services/automation/list_traces?return_response",
                json={"entity_id": "automation.night_setback"},
                headers=headers,
            ) as resp:
                assert resp.status == 200, await resp.text()
                found: list[dict[str, Any]] = (await resp.json())["service_response"]["traces"]
                return [t for t in found if "vacation_mode" in str(t.get("trigger"))]

        runs = await _poll(traces, 30, "a trace of the vacation-mode run")
        assert runs[-1]["script_execution"] == "finished"

        # The recorder has history of the simulated entities.
        async def history() -> list[list[dict[str, Any]]]:
            async with session.get(
                f"{url}/api/history/period",
                params={"filter_entity_id": "sensor.simulator_time,climate.zone_1"},
                headers=headers,
            ) as resp:
                assert resp.status == 200, await resp.text()
                rows: list[list[dict[str, Any]]] = await resp.json()
                return rows if len(rows) == 2 and len(rows[0]) >= 2 else []

        await _poll(history, 60, "history of the simulated entities")
