"""Physics of the simulated building: zone energy balance, chiller curve, staging, meter sums."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from astral import Observer

from integrations.simulator.building import (
    KW_PER_TON,
    Building,
    Chiller,
    ChillerParams,
    ZoneMode,
    ZoneParams,
    default_zone_params,
    kw_per_ton,
    stage_chillers,
    zone_step,
)

AMSTERDAM = Observer(52.37, 4.89, 0)
TZ = ZoneInfo("Europe/Amsterdam")


def test_zone_without_hvac_relaxes_to_outdoor_with_time_constant_rc() -> None:
    params = ZoneParams(name="Z", resistance=5.0, capacitance=2000.0)
    tau = params.tau
    assert tau == 10_000.0
    t0, t_out = 22.0, 5.0
    temperature = t0
    for n in range(1, 121):  # 120 one-minute steps
        temperature = zone_step(temperature, t_out, 0.0, params, 60.0)
        expected = t_out + (t0 - t_out) * math.exp(-60.0 * n / tau)
        assert temperature == pytest.approx(expected, rel=1e-12)
    # After one time constant, 1/e of the difference is left.
    one_tau = zone_step(t0, t_out, 0.0, params, tau)
    assert (one_tau - t_out) / (t0 - t_out) == pytest.approx(math.exp(-1))


def test_zone_with_constant_gain_settles_at_outdoor_plus_r_times_gain() -> None:
    params = ZoneParams(name="Z", resistance=4.0, capacitance=1000.0)
    temperature = 10.0
    for _ in range(500):
        temperature = zone_step(temperature, 10.0, 2.5, params, 600.0)
    assert temperature == pytest.approx(10.0 + 4.0 * 2.5)


def test_building_zone_with_hvac_off_at_night_follows_the_rc_model() -> None:
    building = Building(default_zone_params(("A",), 400.0), [ChillerParams("1")], AMSTERDAM, TZ)
    zone = building.zones[0]
    zone.mode = ZoneMode.OFF
    building.ahu.fan_on = False
    # Sunday night: no sun, no occupants, only unoccupied equipment gains.
    when = datetime(2024, 1, 7, 0, 0, tzinfo=UTC)
    t0 = zone.temperature
    building.step(60.0, when, 0.0)
    gains = zone.equipment_power
    assert zone.q_hvac == 0.0
    assert zone.q_solar == 0.0
    expected = zone_step(t0, 0.0, gains, zone.params, 60.0)
    assert zone.temperature == pytest.approx(expected)


def test_chiller_curve_is_best_between_60_and_80_percent_and_plausible_at_design() -> None:
    params = ChillerParams("1", design_kw_per_ton=0.6)
    plrs = [p / 100 for p in range(15, 101)]
    values = [kw_per_ton(params, plr) for plr in plrs]
    best = plrs[values.index(min(values))]
    assert 0.6 <= best <= 0.8
    assert 0.5 <= kw_per_ton(params, 1.0) <= 1.0
    assert kw_per_ton(params, 0.2) > kw_per_ton(params, 0.5) > kw_per_ton(params, 0.7)


def test_chiller_reports_kw_per_ton_and_cop_of_its_compressor() -> None:
    chiller = Chiller(ChillerParams("1", capacity_tons=10.0))
    chiller.run(0.7 * 10 * KW_PER_TON)
    assert chiller.kw_per_ton == pytest.approx(kw_per_ton(chiller.params, 0.7))
    assert chiller.cop == pytest.approx(KW_PER_TON / kw_per_ton(chiller.params, 0.7))
    assert 4.0 < (chiller.cop or 0) < 8.0


@pytest.mark.parametrize("load_tons", [0.5, 5.0, 10.0, 11.0, 20.0, 29.0, 30.0])
def test_staging_meets_the_load_with_as_few_chillers_as_keep_them_below_90_percent(
    load_tons: float,
) -> None:
    chillers = [Chiller(ChillerParams(str(n), capacity_tons=10.0)) for n in range(3)]
    load = load_tons * KW_PER_TON
    delivered = stage_chillers(chillers, load)
    assert delivered == pytest.approx(load)
    assert sum(c.load_kw for c in chillers) == pytest.approx(load)
    running = [c for c in chillers if c.running]
    assert len(running) == min(math.ceil(load_tons / 9.0), 3)
    # Lead first, load shared equally.
    assert all(c.running for c in chillers[: len(running)])
    assert len({round(c.load_kw, 9) for c in running}) == 1


def test_staging_skips_disabled_chillers_and_is_limited_by_the_enabled_capacity() -> None:
    chillers = [Chiller(ChillerParams(str(n), capacity_tons=10.0)) for n in range(3)]
    chillers[0].enabled = False
    delivered = stage_chillers(chillers, 25 * KW_PER_TON)
    assert not chillers[0].running
    assert delivered == pytest.approx(20 * KW_PER_TON)
    assert stage_chillers([Chiller(ChillerParams("x"), enabled=False)], 10.0) == 0.0


def test_main_meter_equals_the_sum_of_every_load_exactly() -> None:
    building = Building(
        default_zone_params(("A", "B", "C"), 400.0),
        [ChillerParams(str(n)) for n in range(1, 4)],
        AMSTERDAM,
        TZ,
    )
    when = datetime(2024, 7, 3, 10, 0, tzinfo=UTC)  # a warm Wednesday morning
    energy = 0.0
    for n in range(60):
        building.step(60.0, when + timedelta(minutes=n), 28.0)
        loads = (
            [c.power_kw for c in building.chillers]
            + [building.ahu.fan_power_kw]
            + [z.equipment_power + z.reheat_power for z in building.zones]
        )
        assert building.meter.power_kw == pytest.approx(math.fsum(loads), abs=1e-9)
        energy += building.meter.power_kw / 60
    assert building.meter.energy_kwh == pytest.approx(energy)
    assert any(c.running for c in building.chillers)
    assert building.ahu.coil_load_kw == pytest.approx(sum(c.load_kw for c in building.chillers))


def test_fan_off_stops_all_cooling_and_heating() -> None:
    building = Building(default_zone_params(("A",), 400.0), [ChillerParams("1")], AMSTERDAM, TZ)
    building.ahu.fan_on = False
    building.step(60.0, datetime(2024, 7, 3, 10, 0, tzinfo=UTC), 30.0)
    assert building.ahu.airflow == 0.0
    assert building.ahu.fan_power_kw == 0.0
    assert building.zones[0].q_hvac == 0.0
    assert not building.chillers[0].running
