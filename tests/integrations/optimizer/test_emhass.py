"""EMHASS's runtime parameters give the same plan as the native request."""

from __future__ import annotations

from datetime import UTC

import pytest

from integrations.optimizer.deferrable import solve
from integrations.optimizer.deferrable_input import parse_deferrable
from integrations.optimizer.emhass import from_emhass, is_emhass
from integrations.optimizer.errors import OptimizerInputError

PRICES = [0.30, 0.28, 0.12, 0.10, 0.11, 0.25, 0.31, 0.14, 0.13, 0.29, 0.27, 0.15]
PV_W = [0, 0, 0, 500, 1800, 3200, 3500, 2600, 1200, 300, 0, 0]
LOAD_W = [400, 380, 350, 420, 600, 550, 500, 450, 700, 900, 800, 500]

EMHASS = {
    "optimization_time_step": 60,
    "load_cost_forecast": PRICES,
    "prod_price_forecast": [0.05] * 12,
    "pv_power_forecast": PV_W,
    "load_power_forecast": LOAD_W,
    "nominal_power_of_deferrable_loads": [2000, 3000],
    "operating_hours_of_each_deferrable_load": [2, 3],
    "start_timesteps_of_each_deferrable_load": [0, 2],
    "end_timesteps_of_each_deferrable_load": [0, 10],
    "treat_deferrable_load_as_semi_cont": [True, False],
    "minimum_power_of_deferrable_loads": [0, 1000],
    "set_deferrable_load_single_constant": [True, False],
    "maximum_power_from_grid": 6000,
    "set_use_battery": True,
    "battery_nominal_energy_capacity": 5000,
    "battery_charge_power_max": 2000,
    "battery_discharge_power_max": 2000,
    "battery_minimum_state_of_charge": 0.2,
    "battery_maximum_state_of_charge": 0.9,
    "soc_init": 0.5,
    "soc_final": 0.6,
    "publish_prefix": "home_",
}

NATIVE = {
    "slot_minutes": 60,
    "import_price": PRICES,
    "export_price": 0.05,
    "pv_forecast": [w / 1000 for w in PV_W],
    "base_load": [w / 1000 for w in LOAD_W],
    "import_limit": 6.0,
    "loads": [
        {"name": "deferrable0", "power": 2.0, "hours": 2, "contiguous": True},
        {"name": "deferrable1", "power": 3.0, "min_power": 1.0, "hours": 3, "start_slot": 2,
         "end_slot": 10, "contiguous": False},
    ],
    "battery": {"capacity": 5.0, "charge_power": 2.0, "discharge_power": 2.0,
                "soc_min": 0.2, "soc_max": 0.9, "soc_initial": 0.5, "soc_final": 0.6},
}  # fmt: skip


def test_emhass_runtime_parameters_give_the_native_plan() -> None:
    assert is_emhass(EMHASS)
    native, ignored = from_emhass(EMHASS)
    emhass_plan = solve(parse_deferrable(native, UTC), 30.0)
    native_plan = solve(parse_deferrable(NATIVE, UTC), 30.0)

    assert ignored == ["publish_prefix"]
    assert emhass_plan["status"] == native_plan["status"] == "optimal"
    assert emhass_plan["objective"] == pytest.approx(native_plan["objective"], abs=1e-6)
    for ours, theirs in zip(emhass_plan["loads"], native_plan["loads"], strict=True):
        assert ours["power"] == pytest.approx(theirs["power"], abs=1e-6)


def test_emhass_zero_end_timestep_means_the_horizon_end() -> None:
    native, _ = from_emhass({**EMHASS, "end_timesteps_of_each_deferrable_load": [0, -1]})

    assert [load["end_slot"] for load in native["loads"]] == [12, 12]


def test_emhass_prediction_horizon_cuts_the_forecasts() -> None:
    native, _ = from_emhass({**EMHASS, "prediction_horizon": 10})

    assert len(native["import_price"]) == len(native["pv_forecast"]) == 10


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"operating_hours_of_each_deferrable_load": [2]},
            "operating_hours_of_each_deferrable_load",
        ),
        ({"number_of_deferrable_loads": 3}, "number_of_deferrable_loads"),
        ({"pv_power_forecast": [0] * 5}, "pv_power_forecast"),
        ({"prediction_horizon": 20}, "prediction_horizon"),
    ],
)
def test_bad_emhass_input_names_the_emhass_key(change: dict[str, object], field: str) -> None:
    with pytest.raises(OptimizerInputError) as caught:
        from_emhass({**EMHASS, **change})

    assert caught.value.field == field
