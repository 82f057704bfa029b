"""Setpoint MPC: R and C identified from the simulator's zone model, comfort kept at least cost."""

from __future__ import annotations

import math
import random
from datetime import UTC
from typing import Any

import pytest

from integrations.optimizer.errors import OptimizerInputError
from integrations.optimizer.mpc import identify, parse_setpoints, solve
from integrations.simulator.building import ZoneParams, zone_step

ZONE = ZoneParams(name="test", resistance=4.0, capacitance=8000.0)


def simulated_history(hours: int = 48, step_s: float = 300.0) -> dict[str, Any]:
    """The simulator's zone model driven by a varying heater and outdoor temperature."""
    rnd = random.Random(7)  # noqa: S311 - seeded test data
    temperature = [20.0]
    outdoor, hvac = [], []
    steps = int(hours * 3600 / step_s)
    for k in range(steps):
        out = 8 + 5 * math.sin(2 * math.pi * k * step_s / 86400)
        q = rnd.choice([0.0, 0.0, 2.0, 4.0])
        outdoor.append(out)
        hvac.append(q)
        temperature.append(zone_step(temperature[-1], out, q, ZONE, step_s))
    return {
        "step_s": step_s,
        "temperature": temperature[:-1],
        "outdoor": outdoor,
        "hvac": hvac,
    }


def test_identification_recovers_the_simulator_zone() -> None:
    history = simulated_history()
    model = identify(history["step_s"], history["temperature"], history["outdoor"], history["hvac"])

    assert model.resistance == pytest.approx(ZONE.resistance, rel=0.01)
    assert model.capacitance == pytest.approx(ZONE.capacitance, rel=0.01)
    assert model.rmse is not None
    assert model.rmse < 1e-6


def _request(**change: Any) -> dict[str, Any]:
    n = 96  # 24 h of 15-minute slots
    occupied = [8 <= h < 18 for h in range(24)]
    data = {
        "slot_minutes": 15,
        "temperature": 18.0,
        "outdoor": [5 + 3 * math.sin(2 * math.pi * (k / 4 - 9) / 24) for k in range(n)],
        "price": [0.35 if 7 <= k // 4 < 21 else 0.15 for k in range(n)],
        "comfort_low": [21.0 if o else 16.0 for o in occupied],
        "comfort_high": [24.0 if o else 28.0 for o in occupied],
        "zone": {"resistance": ZONE.resistance, "capacitance": ZONE.capacitance},
        "heating_capacity": 8.0,
        "cooling_capacity": 8.0,
        "heating_cop": 3.0,
        "cooling_cop": 3.0,
    }
    data.update(change)
    return data


def test_schedule_keeps_comfort_in_closed_loop_on_the_simulator_model() -> None:
    history = simulated_history()
    result = solve(parse_setpoints(_request(zone=None, history=history), UTC), 10.0)
    assert result["status"] == "optimal"

    # Drive the true zone model with the planned heat: it stays in the band.
    temperature = 18.0
    for slot in result["slots"]:
        q = slot["heating_kw"] - slot["cooling_kw"]
        temperature = zone_step(temperature, slot["outdoor"], q, ZONE, 900.0)
        assert slot["comfort_low"] - 0.01 <= temperature <= slot["comfort_high"] + 0.01
        assert slot["comfort_low"] <= slot["setpoint"] <= slot["comfort_high"]


def test_schedule_preheats_before_the_price_rises() -> None:
    result = solve(parse_setpoints(_request(), UTC), 10.0)
    # Occupancy starts at 08:00 and the price rises at 07:00: heat is bought before 07:00.
    cheap_heat = sum(s["heating_kw"] for s in result["slots"][:28])
    assert cheap_heat > 0
    reasons = [s["reason"] for s in result["slots"][:28] if s["heating_kw"] > 0]
    assert any("pre-heating" in r and "before dearer slots" in r for r in reasons)


def test_unreachable_comfort_names_the_slot() -> None:
    result = solve(parse_setpoints(_request(heating_capacity=1.0), UTC), 10.0)

    assert result["status"] == "infeasible"
    problem = result["problems"][0]
    assert problem["requirement"] == "comfort low 16 °C in slot 6"
    assert problem["slots"] == [6]
    assert "with full heating (1 kW)" in problem["reason"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"comfort_low": [25.0] * 24}, "comfort_low"),
        ({"price": [0.1] * 5}, "price"),
        ({"zone": {"resistance": -1, "capacitance": 10}}, "zone.resistance"),
        ({"zone": None}, "zone"),
        ({"outdoor": [math.nan] * 96}, "outdoor.0"),
    ],
)
def test_bad_setpoint_input_is_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(OptimizerInputError) as caught:
        parse_setpoints(_request(**change), UTC)

    assert caught.value.field == field


def test_history_without_excitation_is_refused() -> None:
    flat = [20.0] * 20
    with pytest.raises(OptimizerInputError) as caught:
        identify(300.0, flat, flat, [0.0] * 20)

    assert caught.value.field == "history"
