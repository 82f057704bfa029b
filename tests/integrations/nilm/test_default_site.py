"""The shipped configuration's ``nilm:`` on the simulated house, and the inference process.

The site is the shipped configuration's ``simulator:`` and ``nilm:`` sections (without the
Tuya ports, which other tests use): after two hours on a FakeClock the disaggregated appliance
sensors stand next to the simulated plugs' readings. The inference process is a real child
process; killing it leaves the runtime running, and a new one takes over.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from core import Runtime
from integrations.nilm.integration import RUNNING, sensor_area
from tests._helpers import settle
from tests.integrations._runtime import clock_of, running

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "configuration.yaml"
START = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
APPLIANCES = (
    "fridge",
    "kettle",
    "washing_machine",
    "dishwasher",
    "microwave",
    "ev_charger",
    "heat_pump",
)


class _Loader(yaml.SafeLoader):
    """Reads the shipped file with its ``!include`` and ``!secret`` tags left unresolved."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _shipped_site(*, unplaced: str | None = None) -> str:
    """The shipped site; ``unplaced``: an appliance left out of the meter's ``areas``."""
    doc = yaml.load(SHIPPED.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader
    meter = doc["nilm"]["meters"][0]
    assert meter["power_sensor"] == "sensor.house_meter_power", (
        "the shipped configuration disaggregates the simulated house meter"
    )
    simulator = {k: v for k, v in doc["simulator"].items() if k not in ("tuya", "modbus")}
    if unplaced is not None:
        del meter["areas"][unplaced]
    return yaml.safe_dump({"http": {"server_port": 0}, "simulator": simulator, "nilm": doc["nilm"]})


async def _advance(runtime: Runtime, seconds: int, step: int = 6) -> None:
    clock = clock_of(runtime)
    for _ in range(seconds // step):
        clock.advance(timedelta(seconds=step))
        await settle(runtime, ticks=1)
    for meter in runtime.data[RUNNING].meters:
        await meter.drained()


async def test_the_shipped_site_shows_appliance_sensors_next_to_the_plug_readings(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, _shipped_site(), START) as runtime:
        assert runtime.states.get("sensor.house_meter_power") is not None
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        meter = runtime.data[RUNNING].meters[0]
        await _advance(runtime, meter.length * meter.period + 60)
        assert meter.windows > 0
        assert meter.skipped == 0
        for name in APPLIANCES:
            power = runtime.states.get(f"sensor.house_{name}_power")
            assert power is not None
            assert power.state != "unavailable", name
            assert float(power.state) >= 0
            assert runtime.states.get(f"binary_sensor.house_{name}_running").state in ("on", "off")
            energy = runtime.states.get(f"sensor.house_{name}_energy")
            assert float(energy.state) >= 0
        # ... next to the simulated plugs' own readings (what the Tuya doubles serve), the truth,
        # in the same area (the panel's overview groups by it).
        for plug in ("dishwasher", "washing_machine", "ev_charger", "heat_pump", "fridge"):
            reading = runtime.states.get(f"sensor.{plug}_power")
            assert reading is not None, plug
            assert float(reading.state) >= 0
            area = sensor_area(runtime, f"sensor.{plug}_power")
            assert area is not None, plug
            assert sensor_area(runtime, f"sensor.house_{plug}_power") == area, plug
            assert sensor_area(runtime, f"binary_sensor.house_{plug}_running") == area, plug
        assert sensor_area(runtime, "sensor.house_kettle_power") == "Kitchen"


async def test_appliances_without_an_area_are_where_the_meter_is(tmp_path: Path) -> None:
    async with running(tmp_path, _shipped_site(unplaced="fridge"), START) as runtime:
        assert sensor_area(runtime, "sensor.house_meter_power") == "Hallway"
        assert sensor_area(runtime, "sensor.house_fridge_power") == "Hallway"
        assert sensor_area(runtime, "sensor.house_kettle_power") == "Kitchen"


async def test_a_killed_inference_process_is_replaced_and_the_sensors_come_back(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, _shipped_site(), START) as runtime:
        meter = runtime.data[RUNNING].meters[0]
        clock = clock_of(runtime)
        await _advance(runtime, meter.length * meter.period + 12)
        assert runtime.states.get("sensor.house_kettle_power").state != "unavailable"
        process = runtime.data[RUNNING].client.process
        first = await process.pid()
        os.kill(first, signal.SIGKILL)
        await _advance(runtime, 6)  # this window meets the dead process
        assert meter.skipped >= 1
        assert runtime.states.get("sensor.house_kettle_power").state == "unavailable"
        assert runtime.states.get("sensor.house_kettle_energy").state != "unavailable"
        meter_power = runtime.states.get("sensor.house_meter_power")
        await _advance(runtime, 60)
        assert runtime.states.get("sensor.house_meter_power") != meter_power  # the site runs on
        assert runtime.notifications.get("nilm_inference") is None  # one crash: no alarm

        # A new process after the backoff (1 s of real time), with the model verified again.
        async with asyncio.timeout(120):
            while runtime.states.get("sensor.house_kettle_power").state == "unavailable":
                await asyncio.sleep(0.2)
                clock.advance(timedelta(seconds=6))
                await settle(runtime, ticks=1)
                await meter.drained()
        assert await process.pid() != first
        assert process.starts == 2


def test_the_runtime_process_never_imports_numpy_or_onnxruntime(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        from datetime import datetime, timedelta, UTC
        from pathlib import Path
        from tests.integrations._runtime import running
        from integrations.nilm.integration import RUNNING, sensor_area

        async def main():
            site, now = Path({str(tmp_path)!r}), datetime.now(UTC)
            async with running(site, {_shipped_site()!r}, now) as runtime:
                meter = runtime.data[RUNNING].meters[0]
                meter.fill([300.0] * meter.length, int(runtime.clock.now().timestamp()))
                meter._samples([(0, 400.0)])
                await meter.drained()
                assert meter.windows == 1, meter.windows
                print(sorted(m for m in ("numpy", "onnxruntime", "scipy") if m in sys.modules))

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr[-3000:]
