"""Unit conversion of long-term statistics (integrations/recorder/units.py)."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.recorder.units import (
    check_units,
    conversion,
    unit_class_of,
    units_schema,
)


def test_energy_power_and_volume_convert_by_factor() -> None:
    kwh = conversion("kWh", {"energy": "Wh"})
    assert kwh is not None
    assert (kwh.unit, kwh.value(1.5), kwh.delta(2.0)) == ("Wh", 1500.0, 2000.0)
    mj = conversion("kWh", {"energy": "MJ"})
    assert mj is not None
    assert mj.value(1.0) == pytest.approx(3.6)
    watts = conversion("W", {"power": "kW"})
    assert watts is not None
    assert watts.value(2500.0) == pytest.approx(2.5)
    litres = conversion("L", {"volume": "m³"})
    assert litres is not None
    assert litres.value(1000.0) == pytest.approx(1.0)
    gallons = conversion("gal", {"volume": "L"})
    assert gallons is not None
    assert gallons.value(1.0) == pytest.approx(3.785411784)


def test_temperature_values_are_affine_and_differences_scale_only() -> None:
    to_f = conversion("°C", {"temperature": "°F"})
    assert to_f is not None
    assert to_f.value(100.0) == pytest.approx(212.0)
    assert to_f.value(-40.0) == pytest.approx(-40.0)
    assert to_f.delta(10.0) == pytest.approx(18.0)
    to_k = conversion("°F", {"temperature": "K"})
    assert to_k is not None
    assert to_k.value(32.0) == pytest.approx(273.15)


def test_nothing_to_convert_gives_none() -> None:
    assert conversion("kWh", {"energy": "kWh"}) is None  # already in the unit asked for
    assert conversion("kWh", {"power": "W"}) is None  # another class
    assert conversion("lx", {"energy": "Wh"}) is None  # a unit the table does not know
    assert conversion(None, {"energy": "Wh"}) is None
    assert unit_class_of("m³") == "volume"
    assert unit_class_of("ppm") is None


def test_unknown_classes_and_units_of_another_class_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown unit class 'speed'"):
        check_units({"speed": "m/s"})
    with pytest.raises(ValueError, match="'W' is not a unit of energy"):
        conversion("kWh", {"energy": "W"})
    with pytest.raises(vol.Invalid, match="'°C' is not a unit of volume"):
        units_schema({"volume": "°C"})
    with pytest.raises(vol.Invalid):
        units_schema({"energy": 5})
    assert units_schema({"energy": "kWh"}) == {"energy": "kWh"}
