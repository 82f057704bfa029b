"""Unit conversion for long-term statistics: energy, power, temperature and volume, as HA does.

``recorder.get_statistics`` takes ``units``, a mapping from a unit class to the unit wanted,
for example ``{"energy": "kWh", "temperature": "°F"}``. A statistic recorded in a unit of that
class is returned in the wanted unit; a statistic of another class (or of a unit not in the
table) is returned as recorded. Asking for a class or a unit that is not in the table is an error.

Energy, power and volume convert by a factor. Temperature is affine: ``mean``/``min``/``max``/
``state`` convert as temperatures, while ``sum`` and ``change`` (differences of values) convert
by the scale only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import voluptuous as vol

UNIT_CLASS_ENERGY: Final = "energy"
UNIT_CLASS_POWER: Final = "power"
UNIT_CLASS_TEMPERATURE: Final = "temperature"
UNIT_CLASS_VOLUME: Final = "volume"

#: Each unit class: unit -> how many base units (Wh, W, m³) one of it is.
_FACTORS: Final[Mapping[str, Mapping[str, float]]] = {
    UNIT_CLASS_ENERGY: {
        "Wh": 1.0,
        "kWh": 1e3,
        "MWh": 1e6,
        "GWh": 1e9,
        "TWh": 1e12,
        "J": 1 / 3600,
        "kJ": 1e3 / 3600,
        "MJ": 1e6 / 3600,
        "GJ": 1e9 / 3600,
    },
    UNIT_CLASS_POWER: {"mW": 1e-3, "W": 1.0, "kW": 1e3, "MW": 1e6, "GW": 1e9, "TW": 1e12},
    UNIT_CLASS_VOLUME: {
        "mL": 1e-6,
        "L": 1e-3,
        "m³": 1.0,
        "ft³": 0.028316846592,
        "CCF": 2.8316846592,
        "gal": 0.003785411784,
        "fl. oz.": 2.95735295625e-5,
    },
}
#: Temperature units: (scale, offset) so that kelvin = value * scale + offset.
_TEMPERATURE: Final[Mapping[str, tuple[float, float]]] = {
    "K": (1.0, 0.0),
    "°C": (1.0, 273.15),
    "°F": (5 / 9, 273.15 - 32 * 5 / 9),
}

UNIT_CLASSES: Final[frozenset[str]] = frozenset({*_FACTORS, UNIT_CLASS_TEMPERATURE})


def units_of(unit_class: str) -> frozenset[str]:
    """The units of ``unit_class`` (empty for an unknown class)."""
    if unit_class == UNIT_CLASS_TEMPERATURE:
        return frozenset(_TEMPERATURE)
    return frozenset(_FACTORS.get(unit_class, {}))


def unit_class_of(unit: str | None) -> str | None:
    """The class of ``unit``, or None when the table does not know it."""
    if unit in _TEMPERATURE:
        return UNIT_CLASS_TEMPERATURE
    for unit_class, factors in _FACTORS.items():
        if unit in factors:
            return unit_class
    return None


@dataclass(frozen=True, slots=True)
class Conversion:
    """How to turn values in one unit into another: ``value`` for values, ``delta`` for sums."""

    unit: str
    value: Callable[[float], float]
    delta: Callable[[float], float]


def check_units(units: Mapping[str, str]) -> None:
    """Check a ``units`` request.

    Raises:
        ValueError: a unit class is unknown, or a unit is not one of its class's.
    """
    for unit_class, unit in units.items():
        if unit_class not in UNIT_CLASSES:
            raise ValueError(
                f"unknown unit class {unit_class!r} in units; expected one of "
                f"{sorted(UNIT_CLASSES)}"
            )
        if unit not in units_of(unit_class):
            raise ValueError(
                f"unit {unit!r} is not a unit of {unit_class}; expected one of "
                f"{sorted(units_of(unit_class))}"
            )


def conversion(from_unit: str | None, units: Mapping[str, str]) -> Conversion | None:
    """The conversion of values recorded in ``from_unit`` that ``units`` asks for, if any.

    Returns:
        None when nothing is to convert: the unit is not in the table, its class is not asked
        for, or it is already the unit wanted.

    Raises:
        ValueError: as ``check_units``.
    """
    check_units(units)
    unit_class = unit_class_of(from_unit)
    if unit_class is None or unit_class not in units or from_unit is None:
        return None
    to_unit = units[unit_class]
    if to_unit == from_unit:
        return None
    if unit_class == UNIT_CLASS_TEMPERATURE:
        from_scale, from_offset = _TEMPERATURE[from_unit]
        to_scale, to_offset = _TEMPERATURE[to_unit]
        scale = from_scale / to_scale
        offset = (from_offset - to_offset) / to_scale
        return Conversion(to_unit, lambda v: v * scale + offset, lambda v: v * scale)
    factor = _FACTORS[unit_class][from_unit] / _FACTORS[unit_class][to_unit]
    return Conversion(to_unit, lambda v: v * factor, lambda v: v * factor)


def units_schema(value: object) -> dict[str, str]:
    """A voluptuous validator of ``units``: ``{unit class: unit}`` from the table."""
    checked = vol.Schema({str: str})(value)
    try:
        check_units(checked)
    except ValueError as err:
        raise vol.Invalid(str(err)) from err
    return dict(checked)
