"""Live disaggregation of a meter on a FakeClock: sensors per appliance, gaps, units."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core import Runtime
from integrations.nilm.integration import RUNNING
from tests._helpers import settle
from tests.integrations._runtime import clock_of, running

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WINDOW = 1200
METER = "sensor.house_meter"


def _yaml(models: Path, model: str = "tiny") -> str:
    return (
        "http:\n  server_port: 0\n"
        f"nilm:\n  models_dir: {models}\n  model: {model}\n"
        f"  meters:\n    - {{name: House, power_sensor: {METER}}}\n"
    )


async def _feed(runtime: Runtime, values: list[str], unit: str = "W") -> None:
    clock = clock_of(runtime)
    for value in values:
        runtime.states.set(METER, value, {"unit_of_measurement": unit})
        await runtime.bus.drain()  # the reading reaches the meter before time moves on
        clock.advance(timedelta(seconds=6))
    await settle(runtime)
    for meter in runtime.data[RUNNING].meters:
        await meter.drained()  # the inference process has answered every window taken


async def test_each_appliance_gets_power_running_and_energy_sensors_after_a_window(
    tmp_path: Path, model_dir: Path
) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        power = runtime.states.get("sensor.house_kettle_power")
        assert power is not None
        assert power.state == "unavailable"  # no window yet: nothing invented
        await _feed(runtime, ["400"] * (WINDOW + 5))
        meter = runtime.data[RUNNING].meters[0]
        assert meter.windows > 0
        for name in (
            "fridge",
            "kettle",
            "washing_machine",
            "dishwasher",
            "microwave",
            "ev_charger",
            "heat_pump",
        ):
            power = runtime.states.get(f"sensor.house_{name}_power")
            running_ = runtime.states.get(f"binary_sensor.house_{name}_running")
            energy = runtime.states.get(f"sensor.house_{name}_energy")
            assert power is not None
            assert running_ is not None
            assert energy is not None
            assert float(power.state) >= 0
            assert running_.state in ("on", "off")
            assert 0.5 <= power.attributes["confidence"] <= 1
            assert energy.attributes["state_class"] == "total_increasing"
            assert float(energy.state) >= 0


async def test_kw_readings_are_converted_to_w(tmp_path: Path, model_dir: Path) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        await _feed(runtime, ["0.4"] * 10, unit="kW")
        meter = runtime.data[RUNNING].meters[0]
        assert meter.buffer[-1] == 400.0


async def test_a_gap_makes_the_sensors_unavailable_until_the_window_is_whole(
    tmp_path: Path, model_dir: Path
) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        await _feed(runtime, ["300"] * (WINDOW + 2))
        assert runtime.states.get("sensor.house_fridge_power").state != "unavailable"
        before = runtime.data[RUNNING].meters[0].windows
        await _feed(runtime, ["unavailable", "nan", "-20"] * 3)
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        assert runtime.states.get("binary_sensor.house_fridge_running").state == "unavailable"
        assert runtime.states.get("sensor.house_fridge_energy").state != "unavailable"
        await _feed(runtime, ["300"] * 50)
        assert runtime.data[RUNNING].meters[0].windows == before  # no window spans the gap
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"


async def test_a_meter_sensor_that_disappears_leaves_a_gap(tmp_path: Path, model_dir: Path) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        await _feed(runtime, ["300"] * (WINDOW + 2))
        runtime.states.remove(METER)
        await runtime.bus.drain()
        clock = clock_of(runtime)
        for _ in range(3):
            clock.advance(timedelta(seconds=6))
        await settle(runtime)
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"


async def test_a_tampered_model_is_refused_with_a_notification(
    tmp_path: Path, model_dir: Path
) -> None:
    path = model_dir / "tiny.onnx"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        notification = runtime.notifications.get("nilm_model_tiny")
        assert notification is not None
        assert "SHA-256" in notification["message"]
        assert runtime.states.get("sensor.house_fridge_power") is None
        assert runtime.data[RUNNING].meters == []


async def test_a_model_refused_by_the_inference_process_stops_its_meter_after_the_start(
    tmp_path: Path, model_dir: Path
) -> None:
    # The file's hash is the manifest's, so the meter starts at once; the inference process
    # then finds the graph's window (300) is not the manifest's, and the meter stops.
    doc = json.loads((model_dir / "tiny.json").read_text())
    doc["window_length"] = 600
    doc["output_index"] = 300
    (model_dir / "tiny.json").write_text(json.dumps(doc))
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        nilm = runtime.data[RUNNING]
        assert len(nilm.meters) == 1
        assert nilm.verifying is not None
        await nilm.verifying
        notification = runtime.notifications.get("nilm_model_tiny")
        assert notification is not None
        assert "input shape" in notification["message"]
        state = runtime.states.get("sensor.house_fridge_power")
        assert state is not None
        assert state.state == "unavailable"
        await _feed(runtime, ["100"] * 3)
        assert nilm.meters[0].windows == 0
