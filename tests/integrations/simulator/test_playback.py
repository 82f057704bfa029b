"""The home played from household physics: the meter is generate_house's, the plugs its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from integrations.simulator import DRIVER
from integrations.simulator.const import ApplianceKind
from integrations.simulator.home import Home
from integrations.simulator.household import APPLIANCES, generate_house
from integrations.simulator.playback import (
    HouseTrace,
    PlayedAppliance,
    PlayedHome,
    TraceError,
    ensure_trace,
    trace_path,
)
from integrations.simulator.sim import SimulationDriver
from tests.integrations._runtime import clock_of, running

TZ = ZoneInfo("Europe/Amsterdam")
SEED = 42
#: 07:00 on a Thursday in Amsterdam: breakfast, kettles boil.
START = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)


@pytest.fixture
async def trace() -> HouseTrace:
    """The house of ``SEED``, generated once into the user's cache folder."""
    return await ensure_trace(SEED)


def _played(trace: HouseTrace, schedules: bool = True) -> PlayedHome:
    home = PlayedHome(trace, tuple(ApplianceKind), SEED, TZ, schedules=schedules)
    home.step(0.0, START, 5.0)
    return home


async def test_the_meter_reads_generate_houses_aggregate_period_by_period(
    trace: HouseTrace,
) -> None:
    house = generate_house(SEED)
    home = _played(trace)
    when = START
    kettle = 0.0
    for _ in range(24 * 600):  # a day of 6 s periods
        when += timedelta(seconds=6)
        home.step(6.0, when, 5.0)
        row = trace.row_of(when.timestamp() - 6, TZ)
        assert home.meter.power_w == pytest.approx(float(house.aggregate[row]), abs=0.01)
        for kind, appliance in home.appliances.items():
            truth = float(house.appliances[kind.value][row])
            assert appliance.power_w == pytest.approx(truth, abs=1e-3), kind
        kettle = max(kettle, float(house.appliances["kettle"][row]))
    assert kettle > 1500, "a kettle boiled in the meter (no plug of the home has it)"
    assert set(trace.columns) == {"other", *APPLIANCES}


async def test_a_plug_off_takes_its_appliance_out_of_the_meter(trace: HouseTrace) -> None:
    house = generate_house(SEED)
    home = _played(trace)
    heat_pump = home.appliances[ApplianceKind.HEAT_PUMP]
    heat_pump.set_plug(False)
    when = START
    for _ in range(600):
        when += timedelta(seconds=6)
        home.step(6.0, when, 5.0)
        row = trace.row_of(when.timestamp() - 6, TZ)
        missing = float(house.appliances["heat_pump"][row])
        assert home.meter.power_w == pytest.approx(float(house.aggregate[row]) - missing, abs=0.01)
        assert heat_pump.power_w == 0.0
        assert heat_pump.status == "off"


async def test_a_plug_switched_on_replays_one_of_the_houses_own_cycles(
    trace: HouseTrace,
) -> None:
    home = _played(trace, schedules=False)
    washer = home.appliances[ApplianceKind.WASHING_MACHINE]
    assert isinstance(washer, PlayedAppliance)
    washer.set_plug(False)
    washer.set_plug(True)
    column = trace.columns.index("washing_machine")
    cycle_rows = dict(trace.cycles["washing_machine"])
    when = START
    seen: list[float] = []
    for _ in range(4 * 600):
        when += timedelta(seconds=6)
        home.step(6.0, when, 5.0)
        seen.append(washer.power_w)
    first = next(i for i, w in enumerate(seen) if w > 0)
    # The replayed cycle is one of the house's, row for row.
    matches = [
        start
        for start, length in cycle_rows.items()
        if all(
            seen[i] == pytest.approx(trace.row(start + i)[column], abs=1e-6)
            for i in range(min(length, len(seen)))
        )
    ]
    assert first == 0
    assert matches, "the replayed cycle is not one of the house's"
    assert max(seen) > 100
    assert seen[-1] == 0.0, "without schedules it runs only on demand"


async def test_the_running_simulator_publishes_one_period_mean_every_6_s(tmp_path: Path) -> None:
    yaml = (
        "http:\n  server_port: 0\n"
        "edgewise:\n  time_zone: Europe/Amsterdam\n"
        "simulator:\n  seed: 42\n  building: false\n"
    )
    house = generate_house(SEED)
    trace = await ensure_trace(SEED)
    async with running(tmp_path, yaml, START + timedelta(seconds=1)) as runtime:
        assert isinstance(runtime.data[DRIVER], SimulationDriver)
        clock = clock_of(runtime)
        for _ in range(20):
            await clock.advance_and_settle(timedelta(seconds=6))
            now = clock.now().timestamp()
            row = trace.row_of((now // 6) * 6 - 6, TZ)
            state = runtime.states.get("sensor.house_meter_power")
            assert state is not None
            assert float(state.state) == pytest.approx(float(house.aggregate[row]), abs=0.06)
        assert runtime.states.get("sensor.kettle_power") is None  # no plug of its own


async def test_a_damaged_cached_house_is_generated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = trace_path(SEED, 6, 14)
    assert path.is_relative_to(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"period": 6}\n' + b"\0" * 100)  # a copy cut short
    with pytest.raises(TraceError, match="not a generated house"):
        HouseTrace(path)
    trace = await ensure_trace(SEED)
    assert trace.rows == 14 * 14_400
    assert trace.path == path


async def test_simple_physics_keeps_home_pys_models(tmp_path: Path) -> None:
    yaml = "http:\n  server_port: 0\nsimulator:\n  building: false\n  home: {physics: simple}\n"
    async with running(tmp_path, yaml, START) as runtime:
        home = runtime.data[DRIVER].simulation.home
        assert type(home) is Home
        assert runtime.states.get("sensor.ev_charger_battery") is not None
        assert runtime.states.get("sensor.heat_pump_cop") is not None


async def test_a_longer_step_reads_the_mean_of_its_periods(trace: HouseTrace) -> None:
    house = generate_house(SEED)
    home = _played(trace)
    when = START
    for _ in range(200):
        when += timedelta(seconds=30)
        home.step(30.0, when, 5.0)
        rows = [trace.row_of(when.timestamp() - 6 * k, TZ) for k in range(1, 6)]
        mean = sum(float(house.aggregate[r]) for r in rows) / 5
        assert home.meter.power_w == pytest.approx(mean, abs=0.01)
        fridge = sum(float(house.appliances["fridge"][r]) for r in rows) / 5
        assert home.appliances[ApplianceKind.FRIDGE].power_w == pytest.approx(fridge, abs=1e-3)
