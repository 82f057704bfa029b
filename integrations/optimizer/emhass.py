"""EMHASS's runtime parameters, read as a native deferrable-load request.

An automation that posts EMHASS's runtime-parameter JSON (``load_cost_forecast``,
``nominal_power_of_deferrable_loads``…) to ``optimizer.plan_deferrable_loads`` gets the same plan
as the native request it translates to. EMHASS's units are W and Wh, prices per kWh; its
semantics are kept: a start time step of 0 or less is the horizon's start, an end time step of 0
or less its end; ``treat_deferrable_load_as_semi_cont`` (default true) runs a load at its nominal
power or not at all, false lets it vary between ``minimum_power_of_deferrable_loads`` and the
nominal power; ``set_deferrable_load_single_constant`` (default false) asks for one block at the
nominal power.
Parameters EMHASS has that the optimizer does not model are listed in the plan's
``ignored_parameters`` rather than dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import OptimizerInputError
from .inputs import boolean, integer, number, series

#: Keys that mark a request as EMHASS's.
EMHASS_KEYS = frozenset(
    {
        "load_cost_forecast", "prod_price_forecast", "pv_power_forecast", "load_power_forecast",
        "nominal_power_of_deferrable_loads", "operating_hours_of_each_deferrable_load",
        "operating_timesteps_of_each_deferrable_load", "start_timesteps_of_each_deferrable_load",
        "end_timesteps_of_each_deferrable_load", "treat_deferrable_load_as_semi_cont",
        "set_deferrable_load_single_constant", "minimum_power_of_deferrable_loads",
        "number_of_deferrable_loads", "optimization_time_step", "prediction_horizon",
        "maximum_power_from_grid", "maximum_power_to_grid", "set_use_battery",
        "battery_nominal_energy_capacity", "battery_charge_power_max",
        "battery_discharge_power_max", "battery_charge_efficiency",
        "battery_discharge_efficiency", "battery_minimum_state_of_charge",
        "battery_maximum_state_of_charge", "battery_target_state_of_charge", "soc_init",
        "soc_final", "def_total_hours", "def_total_timestep", "def_start_timestep",
        "def_end_timestep", "num_def_loads", "P_deferrable_nom",
    }
)  # fmt: skip
#: Keys of the native format that may ride along with EMHASS's.
_PASSTHROUGH = frozenset({"start", "time_zone", "time_limit", "demand_charge"})
#: Older EMHASS names of the same parameters.
_ALIASES = {
    "def_total_hours": "operating_hours_of_each_deferrable_load",
    "def_total_timestep": "operating_timesteps_of_each_deferrable_load",
    "def_start_timestep": "start_timesteps_of_each_deferrable_load",
    "def_end_timestep": "end_timesteps_of_each_deferrable_load",
    "num_def_loads": "number_of_deferrable_loads",
    "P_deferrable_nom": "nominal_power_of_deferrable_loads",
}


def is_emhass(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` uses EMHASS's parameter names."""
    return "import_price" not in data and not EMHASS_KEYS.isdisjoint(data)


def _list(data: Mapping[str, Any], key: str, count: int, default: object) -> list[Any]:
    value = data.get(key)
    if value is None:
        return [default] * count
    if not isinstance(value, list):
        raise OptimizerInputError(
            f"expected a list with one value per deferrable load, got {value!r}", field=key
        )
    if len(value) != count:
        raise OptimizerInputError(
            f"has {len(value)} values for {count} deferrable loads", field=key
        )
    return value


def from_emhass(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The native request for EMHASS runtime parameters, and the parameters it ignored.

    Raises:
        OptimizerInputError: naming the EMHASS key of a bad value.
    """
    data: dict[str, Any] = {_ALIASES.get(k, k): v for k, v in raw.items()}
    ignored = sorted(k for k in raw if k not in EMHASS_KEYS and k not in _PASSTHROUGH)
    if "load_cost_forecast" not in data:
        raise OptimizerInputError("is required (a price per time step)", field="load_cost_forecast")
    prices = series(data["load_cost_forecast"], "load_cost_forecast", None)
    n = len(prices)
    if data.get("prediction_horizon") is not None:
        horizon = integer(data["prediction_horizon"], "prediction_horizon", minimum=1)
        if horizon > n:
            raise OptimizerInputError(
                f"{horizon} time steps, but load_cost_forecast has only {n}",
                field="prediction_horizon",
            )
        n = horizon
    native: dict[str, Any] = {k: raw[k] for k in _PASSTHROUGH if k in raw}
    native["slot_minutes"] = data.get("optimization_time_step", 30)
    native["import_price"] = prices[:n]

    def per_slot(key: str, scale: float, default: float) -> list[float]:
        if data.get(key) is None:
            return [default] * n
        values = series(data[key], key, None, scale=scale)
        if len(values) < n:
            raise OptimizerInputError(f"has {len(values)} values, the horizon has {n}", field=key)
        return values[:n]

    native["export_price"] = per_slot("prod_price_forecast", 1.0, 0.0)
    native["pv_forecast"] = per_slot("pv_power_forecast", 0.001, 0.0)
    native["base_load"] = per_slot("load_power_forecast", 0.001, 0.0)
    if data.get("maximum_power_from_grid") is not None:
        native["import_limit"] = (
            number(data["maximum_power_from_grid"], "maximum_power_from_grid") / 1000
        )
    if data.get("maximum_power_to_grid") is not None:
        native["export_limit"] = (
            number(data["maximum_power_to_grid"], "maximum_power_to_grid") / 1000
        )
    native["loads"] = _loads(data, n)
    if data.get("set_use_battery") is not None and boolean(
        data["set_use_battery"], "set_use_battery"
    ):
        native["battery"] = _battery(data)
    return native, ignored


def _loads(data: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
    powers = data.get("nominal_power_of_deferrable_loads", [])
    if not isinstance(powers, list):
        raise OptimizerInputError(
            "expected a list of powers in W", field="nominal_power_of_deferrable_loads"
        )
    count = len(powers)
    if data.get("number_of_deferrable_loads") is not None:
        declared = integer(
            data["number_of_deferrable_loads"], "number_of_deferrable_loads", minimum=0
        )
        if declared != count:
            raise OptimizerInputError(
                f"says {declared} loads, nominal_power_of_deferrable_loads lists {count}",
                field="number_of_deferrable_loads",
            )
    by_steps = data.get("operating_timesteps_of_each_deferrable_load") is not None
    amounts = _list(
        data,
        "operating_timesteps_of_each_deferrable_load"
        if by_steps
        else "operating_hours_of_each_deferrable_load",
        count,
        0,
    )
    starts = _list(data, "start_timesteps_of_each_deferrable_load", count, 0)
    ends = _list(data, "end_timesteps_of_each_deferrable_load", count, 0)
    semi = _list(data, "treat_deferrable_load_as_semi_cont", count, True)
    single = _list(data, "set_deferrable_load_single_constant", count, False)
    minimum = _list(data, "minimum_power_of_deferrable_loads", count, 0.0)
    loads = []
    for i in range(count):
        power = number(
            powers[i], f"nominal_power_of_deferrable_loads.{i}", minimum=0.0, strict_min=True
        )
        start = integer(starts[i], f"start_timesteps_of_each_deferrable_load.{i}")
        end = integer(ends[i], f"end_timesteps_of_each_deferrable_load.{i}")
        one_block = boolean(single[i], f"set_deferrable_load_single_constant.{i}")
        # EMHASS's single constant load runs at its nominal power in one block.
        on_off = boolean(semi[i], f"treat_deferrable_load_as_semi_cont.{i}") or one_block
        low = number(minimum[i], f"minimum_power_of_deferrable_loads.{i}", minimum=0.0)
        load: dict[str, Any] = {
            "name": f"deferrable{i}",
            "power": power / 1000,
            "min_power": power / 1000 if on_off else low / 1000,
            "start_slot": max(start, 0),
            "end_slot": n if end <= 0 else end,
            "contiguous": one_block,
        }
        load["slots" if by_steps else "hours"] = amounts[i]
        loads.append(load)
    return loads


def _battery(data: Mapping[str, Any]) -> dict[str, Any]:
    """EMHASS's battery (W, Wh, fractions; its defaults) as the native battery (kW, kWh)."""

    def get(key: str, default: float) -> float:
        value = data.get(key)
        return default if value is None else number(value, key)

    target = get("battery_target_state_of_charge", 0.6)
    return {
        "capacity": get("battery_nominal_energy_capacity", 5000.0) / 1000,
        "charge_power": get("battery_charge_power_max", 1000.0) / 1000,
        "discharge_power": get("battery_discharge_power_max", 1000.0) / 1000,
        "charge_efficiency": get("battery_charge_efficiency", 0.95),
        "discharge_efficiency": get("battery_discharge_efficiency", 0.95),
        "soc_min": get("battery_minimum_state_of_charge", 0.3),
        "soc_max": get("battery_maximum_state_of_charge", 0.9),
        "soc_initial": get("soc_init", target),
        "soc_final": get("soc_final", target),
    }
