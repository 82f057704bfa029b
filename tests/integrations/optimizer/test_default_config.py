"""The shipped configuration's optimizer automations run on the simulated site."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.clock import FakeClock
from core.runtime import Runtime

CONFIG = Path(__file__).resolve().parents[3] / "config"


async def _wait(predicate: object, within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110 - states, no event
            await asyncio.sleep(0.02)


def _automation(runtime: Runtime, item_id: str) -> str:
    for state in runtime.states.all("automation"):
        if state.attributes.get("id") == item_id:
            return state.entity_id
    raise AssertionError(f"no automation {item_id}")


async def test_shipped_automations_plan_the_home_and_sequence_the_chillers(tmp_path: Path) -> None:
    site = tmp_path / "config"
    shutil.copytree(CONFIG, site)
    text = (site / "configuration.yaml").read_text()
    text = text.replace("server_port: 8123", "server_port: 0\n  server_host: 127.0.0.1")
    (site / "configuration.yaml").write_text(text)
    start = datetime(2026, 7, 1, 14, 0, 5, tzinfo=ZoneInfo("Europe/Amsterdam"))
    runtime = Runtime(site, clock=FakeClock(start))
    await runtime.start()
    try:
        await _wait(lambda: len(runtime.states.all("automation")) >= 5)
        await runtime.services.call(
            "automation", "trigger", {"entity_id": _automation(runtime, "replan_home")}
        )
        await _wait(lambda: runtime.states.get("sensor.optim_status") is not None)
        status = runtime.states.get("sensor.optim_status")
        assert status is not None
        assert status.state == "Optimal", status.attributes
        ev = runtime.states.get("sensor.p_deferrable2")
        assert ev is not None
        assert len(ev.attributes["deferrables_schedule"]) == 48

        chiller_3 = runtime.states.get("switch.chiller_3_enable")
        assert chiller_3 is not None
        assert chiller_3.state == "on"
        await runtime.services.call(
            "automation", "trigger", {"entity_id": _automation(runtime, "sequence_chillers")}
        )
        # A summer afternoon's load needs fewer than all three chillers: the spare is disabled.
        await _wait(
            lambda: any(
                (s := runtime.states.get(f"switch.chiller_{n}_enable")) is not None
                and s.state == "off"
                for n in (1, 2, 3)
            )
        )
    finally:
        await runtime.stop()
