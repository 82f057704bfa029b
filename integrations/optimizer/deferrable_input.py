"""The deferrable-load request: its documented JSON read into frozen dataclasses.

Units: power kW, energy kWh, prices per kWh (any currency), demand charge per kW of the
horizon's peak import, times ISO 8601. See README.md for a complete example.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .const import MAX_LOADS, SLOT_MINUTES
from .errors import OptimizerInputError
from .inputs import (
    boolean,
    integer,
    mapping,
    moment,
    number,
    series,
    slot_of,
    unknown_keys,
)

_TOP_KEYS = frozenset(
    {
        "slot_minutes", "start", "time_zone", "import_price", "export_price", "pv_forecast",
        "base_load", "import_limit", "export_limit", "demand_charge", "loads", "battery",
        "time_limit",
    }
)  # fmt: skip
_LOAD_KEYS = frozenset(
    {
        "name", "power", "min_power", "hours", "slots", "energy", "start_slot", "end_slot",
        "start_time", "end_time", "contiguous", "pv_only", "optional", "value",
    }
)  # fmt: skip
_BATTERY_KEYS = frozenset(
    {
        "capacity", "charge_power", "discharge_power", "charge_efficiency",
        "discharge_efficiency", "soc_min", "soc_max", "soc_initial", "soc_final",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Load:
    """A deferrable load: what it needs, when, and how it may run.

    ``min_power == power`` is an on/off load that needs ``slots`` slots at full power; below it
    the load is variable (zero, or between ``min_power`` and ``power``) and needs ``energy``.
    """

    name: str
    power: float
    min_power: float
    slots: int
    energy: float
    start: int
    end: int
    contiguous: bool
    pv_only: bool
    optional: bool
    value: float

    @property
    def on_off(self) -> bool:
        """Whether the load runs at its nominal power or not at all."""
        return self.min_power >= self.power

    @property
    def window(self) -> range:
        """The slots it may run in."""
        return range(self.start, self.end)


@dataclass(frozen=True, slots=True)
class Battery:
    """A home battery; energies in kWh, powers in kW, states of charge as fractions."""

    capacity: float
    charge_power: float
    discharge_power: float
    charge_efficiency: float
    discharge_efficiency: float
    soc_min: float
    soc_max: float
    soc_initial: float
    soc_final: float


@dataclass(frozen=True, slots=True)
class DeferrableRequest:
    """A complete deferrable-load planning request."""

    slot_minutes: int
    start: datetime | None
    tz: tzinfo
    import_price: tuple[float, ...]
    export_price: tuple[float, ...]
    pv: tuple[float, ...]
    base_load: tuple[float, ...]
    import_limit: float | None
    export_limit: float | None
    demand_charge: float
    loads: tuple[Load, ...]
    battery: Battery | None
    time_limit: float | None

    @property
    def slots(self) -> int:
        """The horizon's length in slots."""
        return len(self.import_price)

    @property
    def dt(self) -> float:
        """A slot's length in hours."""
        return self.slot_minutes / 60

    @property
    def slot(self) -> timedelta:
        """A slot's length."""
        return timedelta(minutes=self.slot_minutes)


def time_zone(value: object, default: tzinfo) -> tzinfo:
    """The request's time zone (an IANA name), or the site's."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise OptimizerInputError(
            f"expected an IANA time zone name, got {value!r}", field="time_zone"
        )
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise OptimizerInputError(f"unknown time zone {value!r}", field="time_zone") from None


def slot_minutes(value: object, field: str = "slot_minutes") -> int:
    """A slot length in minutes, one of ``SLOT_MINUTES``."""
    minutes = integer(value, field, minimum=1)
    if minutes not in SLOT_MINUTES:
        raise OptimizerInputError(
            f"must be one of {', '.join(map(str, SLOT_MINUTES))} minutes, got {minutes}",
            field=field,
        )
    return minutes


def parse_deferrable(data: Mapping[str, Any], site_tz: tzinfo) -> DeferrableRequest:
    """Read and check a native request.

    Raises:
        OptimizerInputError: with the key of the first bad value.
    """
    data = mapping(data, "request")
    unknown_keys(data, _TOP_KEYS, "")
    minutes = slot_minutes(data.get("slot_minutes", 30))
    tz = time_zone(data.get("time_zone"), site_tz)
    start = None if data.get("start") is None else moment(data["start"], "start", tz)
    if "import_price" not in data:
        raise OptimizerInputError("is required (a price per slot)", field="import_price")
    import_price = series(data["import_price"], "import_price", None)
    n = len(import_price)
    if n == 0:
        raise OptimizerInputError("must have at least one slot", field="import_price")
    export_price = series(data.get("export_price", 0.0), "export_price", n)
    pv = series(data.get("pv_forecast", 0.0), "pv_forecast", n, minimum=0.0)
    base = series(data.get("base_load", 0.0), "base_load", n, minimum=0.0)
    limit = _optional_number(data, "import_limit", strict=True)
    export_limit = _optional_number(data, "export_limit", strict=False)
    demand = number(data.get("demand_charge", 0.0), "demand_charge", minimum=0.0)
    time_limit = _optional_number(data, "time_limit", strict=True)
    dt = minutes / 60
    loads_data = data.get("loads", [])
    if not isinstance(loads_data, list):
        raise OptimizerInputError("expected a list of loads", field="loads")
    if len(loads_data) > MAX_LOADS:
        raise OptimizerInputError(f"at most {MAX_LOADS} loads are accepted", field="loads")
    default_value = max(import_price)
    loads = tuple(
        _load(item, f"loads.{i}", n=n, dt=dt, start=start, tz=tz, default_value=default_value)
        for i, item in enumerate(loads_data)
    )
    names = [load.name for load in loads]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise OptimizerInputError(f"the name {name!r} is used twice", field=f"loads.{i}.name")
    battery = None if data.get("battery") is None else _battery(data["battery"], "battery")
    return DeferrableRequest(
        slot_minutes=minutes,
        start=start,
        tz=tz,
        import_price=tuple(import_price),
        export_price=tuple(export_price),
        pv=tuple(pv),
        base_load=tuple(base),
        import_limit=limit,
        export_limit=export_limit,
        demand_charge=demand,
        loads=loads,
        battery=battery,
        time_limit=time_limit,
    )


def _optional_number(data: Mapping[str, Any], key: str, *, strict: bool) -> float | None:
    value = data.get(key)
    return None if value is None else number(value, key, minimum=0.0, strict_min=strict)


def _load(
    item: object,
    field: str,
    *,
    n: int,
    dt: float,
    start: datetime | None,
    tz: tzinfo,
    default_value: float,
) -> Load:
    data = mapping(item, field)
    unknown_keys(data, _LOAD_KEYS, field)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise OptimizerInputError("every load needs a name", field=f"{field}.name")
    power = number(data.get("power"), f"{field}.power", minimum=0.0, strict_min=True)
    min_power = number(data.get("min_power", power), f"{field}.min_power", minimum=0.0)
    if min_power > power:
        raise OptimizerInputError(
            f"minimum power {min_power:g} kW is above the nominal {power:g} kW",
            field=f"{field}.min_power",
        )
    given = [k for k in ("hours", "slots", "energy") if data.get(k) is not None]
    if len(given) != 1:
        raise OptimizerInputError(
            "give exactly one of hours, slots or energy",
            field=f"{field}.{given[-1] if given else 'hours'}",
        )
    key = given[0]
    if key == "slots":
        amount = integer(data[key], f"{field}.slots", minimum=0)
        energy = amount * power * dt
    else:
        amount_f = number(data[key], f"{field}.{key}", minimum=0.0)
        energy = amount_f * power if key == "hours" else amount_f
    # An on/off load runs whole slots: the requirement is rounded up to the next slot.
    slots = math.ceil(energy / (power * dt) - 1e-9)
    if min_power >= power:
        energy = slots * power * dt
    first, last = _window(data, field, n=n, start=start, tz=tz, slot=timedelta(hours=dt))
    return Load(
        name=name.strip(),
        power=power,
        min_power=min_power,
        slots=slots,
        energy=energy,
        start=first,
        end=last,
        contiguous=boolean(data.get("contiguous", True), f"{field}.contiguous"),
        pv_only=boolean(data.get("pv_only", False), f"{field}.pv_only"),
        optional=boolean(data.get("optional", False), f"{field}.optional"),
        value=number(data.get("value", default_value), f"{field}.value"),
    )


def _window(
    data: Mapping[str, Any],
    field: str,
    *,
    n: int,
    start: datetime | None,
    tz: tzinfo,
    slot: timedelta,
) -> tuple[int, int]:
    first = 0
    last = n
    for key, default in (("start", 0), ("end", n)):
        by_slot, by_time = data.get(f"{key}_slot"), data.get(f"{key}_time")
        if by_slot is not None and by_time is not None:
            raise OptimizerInputError(
                f"give {key}_slot or {key}_time, not both", field=f"{field}.{key}_time"
            )
        value = default
        if by_slot is not None:
            value = integer(by_slot, f"{field}.{key}_slot")
        elif by_time is not None:
            if start is None:
                raise OptimizerInputError(
                    "a window given by time needs the request's start", field=f"{field}.{key}_time"
                )
            when = moment(by_time, f"{field}.{key}_time", tz)
            value = slot_of(when, start, slot, f"{field}.{key}_time")
        if value < 0 or value > n:
            raise OptimizerInputError(
                f"slot {value} is outside the horizon (0-{n})", field=f"{field}.{key}_slot"
            )
        if key == "start":
            first = value
        else:
            last = value
    if last <= first:
        raise OptimizerInputError(
            f"the window ends (slot {last}) at or before it starts (slot {first})",
            field=f"{field}.end_slot",
        )
    return first, last


def _battery(item: object, field: str) -> Battery:
    data = mapping(item, field)
    unknown_keys(data, _BATTERY_KEYS, field)

    def get(key: str, default: float | None = None, **bounds: Any) -> float:
        value = data.get(key, default)
        if value is None:
            raise OptimizerInputError("is required", field=f"{field}.{key}")
        return number(value, f"{field}.{key}", **bounds)

    capacity = get("capacity", minimum=0.0, strict_min=True)
    charge = get("charge_power", minimum=0.0, strict_min=True)
    discharge = get("discharge_power", charge, minimum=0.0, strict_min=True)
    eta_c = get("charge_efficiency", 0.95, minimum=0.0, strict_min=True, maximum=1.0)
    eta_d = get("discharge_efficiency", 0.95, minimum=0.0, strict_min=True, maximum=1.0)
    soc_min = get("soc_min", 0.0, minimum=0.0, maximum=1.0)
    soc_max = get("soc_max", 1.0, minimum=0.0, maximum=1.0)
    if soc_min > soc_max:
        raise OptimizerInputError(
            f"soc_min {soc_min:g} is above soc_max {soc_max:g}", field=f"{field}.soc_min"
        )
    soc_initial = get("soc_initial", (soc_min + soc_max) / 2, minimum=0.0, maximum=1.0)
    soc_final = get("soc_final", soc_initial, minimum=0.0, maximum=1.0)
    for key, value in (("soc_initial", soc_initial), ("soc_final", soc_final)):
        if not soc_min - 1e-9 <= value <= soc_max + 1e-9:
            raise OptimizerInputError(
                f"{value:g} is outside the battery's bounds [{soc_min:g}, {soc_max:g}]",
                field=f"{field}.{key}",
            )
    return Battery(
        capacity, charge, discharge, eta_c, eta_d, soc_min, soc_max, soc_initial, soc_final
    )
