"""The appliances' energy totals survive a restart (``core.restore_state``) and count on.

Real restarts of a site on a FakeClock: the first run writes ``.storage/core.restore_state`` at
its stop, the next reads it back; a real inference process disaggregates the windows.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import Runtime
from integrations.nilm.integration import RUNNING
from integrations.simulator.household import APPLIANCES
from tests.integrations._runtime import running

from .conftest import feed_house, house_yaml, meter_readings

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WINDOW = 1200


def _states(runtime: Runtime, appliances: tuple[str, ...] = APPLIANCES) -> dict[str, str]:
    """The state of each appliance's energy sensor."""
    found = {}
    for name in appliances:
        state = runtime.states.get(f"sensor.house_{name}_energy")
        assert state is not None, name
        found[name] = state.state
    return found


def _totals(runtime: Runtime) -> dict[str, float]:
    """Each appliance's total as the sensor keeps it (not rounded)."""
    return {name: s.total_kwh for name, s in runtime.data[RUNNING].meters[0].energy.items()}


def _store_file(config_dir: Path) -> Path:
    return config_dir / ".storage" / "core.restore_state"


def _edit_stored(config_dir: Path, edits: dict[str, tuple[str, dict[str, Any] | None]]) -> None:
    """Replace the stored state and extra data of some entities in the restore-state file."""
    path = _store_file(config_dir)
    doc = json.loads(path.read_text())
    for entry in doc["data"]["states"]:
        entity_id = entry["state"]["entity_id"]
        if entity_id in edits:
            entry["state"]["state"], entry["extra_data"] = edits.pop(entity_id)
    assert edits == {}, f"not stored: {edits}"
    path.write_text(json.dumps(doc))


async def _run_first(tmp_path: Path, model_dir: Path) -> tuple[dict[str, str], datetime]:
    """A first run that counts some energy; its states at the stop and when it stopped."""
    async with running(tmp_path, house_yaml(model_dir), START) as runtime:
        await feed_house(runtime, meter_readings(WINDOW + 30))
        assert runtime.data[RUNNING].meters[0].windows > 0
        states = _states(runtime)
        stopped = runtime.clock.now()
    assert sum(float(v) for v in states.values()) > 0, states
    return states, stopped


async def test_an_energy_total_comes_back_after_a_restart_and_counts_on_from_it(
    tmp_path: Path, model_dir: Path
) -> None:
    async with running(tmp_path, house_yaml(model_dir), START) as runtime:
        await feed_house(runtime, meter_readings(WINDOW + 30))
        before = _states(runtime)
        exact = _totals(runtime)
        stopped = runtime.clock.now()
    assert sum(exact.values()) > 0, exact

    async with running(tmp_path, house_yaml(model_dir), stopped + timedelta(minutes=1)) as runtime:
        # At once, before a window is whole again (no recorder: the window fills live).
        assert _states(runtime) == before
        assert _totals(runtime) == exact  # the extra data keeps what the state rounds
        assert runtime.states.get("sensor.house_fridge_power").state == "unavailable"
        await feed_house(runtime, meter_readings(WINDOW + 30))
        assert runtime.data[RUNNING].meters[0].windows > 0
        after = _totals(runtime)
        for name in APPLIANCES:
            assert after[name] >= exact[name], name
        assert sum(after.values()) > sum(exact.values())
        fridge = runtime.states.get("sensor.house_fridge_energy")
        assert float(fridge.state) == pytest.approx(after["fridge"], abs=1e-4)
        counted = after
        stopped = runtime.clock.now()

    # And again: the second run's total, not the first's, is what comes back.
    async with running(tmp_path, house_yaml(model_dir), stopped + timedelta(minutes=1)) as runtime:
        assert _totals(runtime) == counted


async def test_a_stored_total_that_is_not_a_number_of_kwh_starts_from_zero_with_a_warning(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before, stopped = await _run_first(tmp_path, model_dir)
    _edit_stored(
        tmp_path,
        {
            "sensor.house_fridge_energy": ("lots", None),
            "sensor.house_kettle_energy": ("-3.5", {"native_value": -3.5}),
            "sensor.house_heat_pump_energy": ("unavailable", None),
            "sensor.house_microwave_energy": ("0.5", {"native_value": "nan"}),
        },
    )
    caplog.set_level(logging.WARNING, logger="integrations.nilm.live")
    async with running(tmp_path, house_yaml(model_dir), stopped + timedelta(minutes=1)) as runtime:
        garbage = ("fridge", "kettle", "heat_pump", "microwave")
        now = _states(runtime)
        for name in garbage:
            assert now[name] == "0.0", name
        # The others lost nothing.
        for name in set(APPLIANCES) - set(garbage):
            assert now[name] == before[name], name
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        for name in garbage:
            assert any(f"sensor.house_{name}_energy" in m and "from 0" in m for m in warned), (
                name,
                warned,
            )
        # And they count from 0 like new ones.
        await feed_house(runtime, meter_readings(WINDOW + 30))
        totals = _totals(runtime)
        assert all(totals[name] >= 0 for name in garbage)
        assert totals["washing_machine"] >= float(before["washing_machine"])


async def test_a_model_with_another_set_of_appliances_keeps_the_totals_of_the_ones_it_still_has(
    tmp_path: Path, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before, stopped = await _run_first(tmp_path, model_dir)
    # The model is replaced by one whose last appliance is a sauna, not a heat pump.
    manifest = model_dir / "tiny.json"
    doc = json.loads(manifest.read_text())
    assert doc["appliances"][-1]["name"] == "heat_pump"
    doc["appliances"][-1]["name"] = "sauna"
    manifest.write_text(json.dumps(doc))
    caplog.set_level(logging.WARNING)
    kept = tuple(a for a in APPLIANCES if a != "heat_pump")
    async with running(tmp_path, house_yaml(model_dir), stopped + timedelta(minutes=1)) as runtime:
        assert runtime.states.get("sensor.house_heat_pump_energy") is None
        assert _states(runtime, ("sauna",)) == {"sauna": "0.0"}
        assert _states(runtime, kept) == {a: before[a] for a in kept}
        await feed_house(runtime, meter_readings(WINDOW + 30))
        assert runtime.data[RUNNING].meters[0].windows > 0
        totals = _totals(runtime)
        for name in kept:
            assert totals[name] >= float(before[name]), name
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
