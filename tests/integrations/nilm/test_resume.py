"""A restart resumes from the recorder's history; a new install says how long it waits.

Real recorder (SQLite in the test's configuration folder), real inference process, FakeClock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.nilm.integration import RUNNING
from tests.integrations._runtime import running

from .conftest import drained, feed_house, house_yaml, meter_readings

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WINDOW = 1200


async def test_a_restart_resumes_the_appliance_sensors_from_the_recorded_meter(
    tmp_path: Path, model_dir: Path
) -> None:
    fed = meter_readings(WINDOW // 2)
    async with running(tmp_path, house_yaml(model_dir, recorder=True), START) as runtime:
        await feed_house(runtime, fed)
        meter = runtime.data[RUNNING].meters[0]
        assert meter.windows == 0  # half a window: nothing yet
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        stopped = runtime.clock.now()

    # Restarted 30 s later: the first half comes from the recorder, the rest arrives live.
    later = stopped + timedelta(seconds=30)
    async with running(tmp_path, house_yaml(model_dir, recorder=True), later) as runtime:
        meter = runtime.data[RUNNING].meters[0]
        await drained(runtime)  # the recorder's history is read once the runtime has started
        assert meter._whole_run >= WINDOW // 2  # the recorded half is in the window
        rest = meter_readings(WINDOW - meter._whole_run + 2)
        await feed_house(runtime, rest)
        assert meter.windows > 0
        assert runtime.states.get("sensor.house_fridge_power").state != "unavailable"
        full = list(meter.buffer)
        stopped = runtime.clock.now()

    # Restarted again with a whole window recorded: the sensors are back at once.
    later = stopped + timedelta(seconds=20)
    async with running(tmp_path, house_yaml(model_dir, recorder=True), later) as runtime:
        meter = runtime.data[RUNNING].meters[0]
        await drained(runtime)
        assert meter.windows >= 1, "the window was not resumed from the recorder"
        # The resumed window is the recorded one, moved on by the samples of the restart's
        # 20 s (the last reading holds across them).
        resumed = list(meter.buffer)
        assert any(resumed[:-k] == full[k:] for k in range(1, 6))
        for name in ("fridge", "kettle", "heat_pump"):
            state = runtime.states.get(f"sensor.house_{name}_power")
            assert state is not None
            assert state.state != "unavailable", name
            assert runtime.states.get(f"binary_sensor.house_{name}_running").state in ("on", "off")


async def test_a_long_stop_leaves_a_gap_instead_of_inventing_readings(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path, house_yaml(model_dir, recorder=True), START) as runtime:
        await feed_house(runtime, meter_readings(WINDOW + 2))
        assert runtime.states.get("sensor.house_fridge_power").state != "unavailable"
        stopped = runtime.clock.now()
    caplog.set_level(logging.INFO, logger="integrations.nilm.live")
    site = house_yaml(model_dir, recorder=True)
    async with running(tmp_path, site, stopped + timedelta(hours=3)) as runtime:
        await drained(runtime)
        assert runtime.data[RUNNING].meters[0].windows == 0
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        said = [r.getMessage() for r in caplog.records if r.name == "integrations.nilm.live"]
        assert any("0 of the 1200 samples" in m for m in said), said


async def test_a_new_install_says_when_the_sensors_will_appear(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="integrations.nilm.live")
    async with running(tmp_path, house_yaml(model_dir, recorder=True), START) as runtime:
        await drained(runtime)
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        said = [r.getMessage() for r in caplog.records if r.name == "integrations.nilm.live"]
        assert any("0 of the 1200 samples" in m and "about 120 more minutes" in m for m in said), (
            said
        )
        # The panel's user is told too, and the notification clears itself with the first
        # estimate.
        notification = runtime.notifications.get("nilm_window_house")
        assert notification is not None
        assert notification["title"] == "NILM House: collecting readings"
        ready = (START + timedelta(minutes=120)).astimezone(runtime.core.tzinfo)
        assert f"appear at about {ready:%H:%M}" in notification["message"]
        assert "120 minutes of readings of sensor.house_meter" in notification["message"]
        await feed_house(runtime, meter_readings(WINDOW + 2))
        assert runtime.states.get("sensor.house_fridge_power").state != "unavailable"
        assert runtime.notifications.get("nilm_window_house") is None
