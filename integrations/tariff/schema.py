"""The ``tariff:`` section: a TOU plan or a price entity, windows, autopilot, notifications.

Example (Asia/Kolkata-style TOU)::

    tariff:
      currency: INR
      carbon_intensity: 0.71            # kg CO2e per kWh
      windows: ["01:00:00", "03:00:00"] # a cheapest-window sensor for each
      plan:
        name: Kolkata TOU
        fixed_daily_charge: 12
        export_price: 3.5
        holidays: [2026-01-26]
        day_sets:                       # or seasons: [{name, from: "04-01", to: "09-30", day_sets}]
          all_days:
            days: [mon, tue, wed, thu, fri, sat, sun, holiday]
            slots:
              - {start: "00:00", end: "06:00", price: 5.2, type: off_peak}
              - {start: "06:00", end: "18:00", price: 7.0, type: standard}
              - {start: "18:00", end: "23:00", price: 9.8, type: peak}
              - {start: "23:00", end: "24:00", price: 5.2, type: off_peak}
      # or, instead of plan: price_entity: sensor.nordpool_kwh_fi_eur (raw_today/raw_tomorrow)
      #                      or an Octopus rates entity (rates with value_inc_vat)
      autopilot: {dry_run: false, override_minutes: 30, must_run: [appliance.ev_charger]}
      notifications: {prepaid_balance: sensor.meter_balance, balance_below: 200}

Errors name the key; slot overlaps and gaps name the plan, season, day set and times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import voluptuous as vol

from core import validators

from .const import (
    CONF_AUTOPILOT,
    CONF_CARBON_INTENSITY,
    CONF_CURRENCY,
    CONF_NOTIFY,
    CONF_PLAN,
    CONF_PRICE_ENTITY,
    CONF_RESOLUTION,
    CONF_WINDOWS,
    DEFAULT_RESOLUTION,
    SlotType,
)
from .plan import (
    DAY_MINUTES,
    HOLIDAY,
    WEEKDAYS,
    DaySet,
    Plan,
    Season,
    Slot,
    check_days,
    check_seasons,
    check_slots,
)

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True, slots=True)
class AutopilotConfig:
    """The peak autopilot's policy."""

    enabled: bool = True
    dry_run: bool = False
    #: Slot types during which running appliances of ``tiers`` are paused.
    pause_in: tuple[SlotType, ...] = (SlotType.PEAK,)
    #: Appliance tiers the autopilot may pause (``essential`` is never allowed).
    tiers: tuple[str, ...] = ("shiftable", "deferrable")
    #: A user action this recent exempts an appliance.
    override: timedelta = timedelta(minutes=30)
    must_run: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """What the 15-minute checks look at."""

    peak_warning: timedelta = timedelta(minutes=30)
    spike_factor: float = 2.0
    prepaid_balance: str | None = None
    balance_below: float = 0.0


@dataclass(frozen=True, slots=True)
class TariffConfig:
    """The whole section."""

    plan: Plan | None
    price_entity: str | None
    currency: str
    windows: tuple[timedelta, ...]
    resolution: timedelta
    carbon_intensity: float
    autopilot: AutopilotConfig
    notify: NotifyConfig


def _minutes(value: Any, *, end: bool = False) -> int:
    match = _TIME_RE.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise vol.Invalid(f"expected a time HH:MM, got {value!r}")
    hour, minute = int(match[1]), int(match[2])
    total = hour * 60 + minute
    if minute > 59 or total > DAY_MINUTES or (total == DAY_MINUTES and not end):
        raise vol.Invalid(
            f"not a time of day: {value!r}" + (" (24:00 only as an end)" if not end else "")
        )
    return total


def _month_day(value: Any) -> tuple[int, int]:
    match = _MONTH_DAY_RE.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise vol.Invalid(f"expected a date MM-DD, got {value!r}")
    month, day = int(match[1]), int(match[2])
    try:
        date(2024, month, day)
    except ValueError:
        raise vol.Invalid(f"not a date: {value!r}") from None
    return month, day


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise vol.Invalid(f"expected a date YYYY-MM-DD, got {value!r}") from None


_SLOT = vol.Schema(
    {
        vol.Required("start"): _minutes,
        vol.Required("end"): lambda v: _minutes(v, end=True),
        vol.Required("price"): vol.All(vol.Coerce(float), vol.Range(min=-1000, max=1000)),
        vol.Optional("type", default=SlotType.STANDARD.value): vol.All(
            vol.In([t.value for t in SlotType]), vol.Coerce(SlotType)
        ),
    }
)
_DAY_SET = vol.Schema(
    {
        vol.Required("days"): vol.All([vol.In([*WEEKDAYS, HOLIDAY])], vol.Length(min=1)),
        vol.Required("slots"): vol.All([_SLOT], vol.Length(min=1, max=96)),
    }
)
_DAY_SETS = vol.All({validators.string: _DAY_SET}, vol.Length(min=1, max=16))
_SEASON = vol.Schema(
    {
        vol.Required("name"): validators.string,
        vol.Required("from"): _month_day,
        vol.Required("to"): _month_day,
        vol.Required("day_sets"): _DAY_SETS,
    }
)
_PLAN = vol.Schema(
    {
        vol.Optional("name", default="Tariff"): validators.string,
        vol.Optional("fixed_daily_charge", default=0.0): vol.All(
            vol.Coerce(float), vol.Range(min=0)
        ),
        vol.Optional("export_price", default=0.0): vol.Coerce(float),
        vol.Optional("holidays", default=list): vol.All([_date], vol.Length(max=400)),
        vol.Exclusive("day_sets", "days"): _DAY_SETS,
        vol.Exclusive("seasons", "days"): vol.All([_SEASON], vol.Length(min=1, max=12)),
    }
)
_AUTOPILOT = vol.Schema(
    {
        vol.Optional("enabled", default=True): validators.boolean,
        vol.Optional("dry_run", default=False): validators.boolean,
        vol.Optional("pause_in", default=[SlotType.PEAK.value]): [
            vol.All(vol.In([t.value for t in SlotType]), vol.Coerce(SlotType))
        ],
        vol.Optional("tiers", default=["shiftable", "deferrable"]): vol.All(
            [vol.In(["shiftable", "deferrable"], msg="the autopilot never pauses essential loads")],
            vol.Length(min=1),
        ),
        vol.Optional("override_minutes", default=30): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("must_run", default=list): [validators.entity_domain("appliance")],
    }
)
_NOTIFY = vol.Schema(
    {
        vol.Optional("peak_warning_minutes", default=30): vol.All(
            vol.Coerce(float), vol.Range(min=1)
        ),
        vol.Optional("spike_factor", default=2.0): vol.All(vol.Coerce(float), vol.Range(min=1)),
        vol.Optional("prepaid_balance"): validators.entity_domain("sensor"),
        vol.Optional("balance_below", default=0.0): vol.Coerce(float),
    }
)


def _build_plan(raw: dict[str, Any], resolution: timedelta) -> Plan:
    name = raw["name"]
    step = int(resolution.total_seconds() // 60)
    seasons_raw = raw.get("seasons") or [
        {"name": None, "from": (1, 1), "to": (12, 31), "day_sets": raw.get("day_sets") or {}}
    ]
    if not raw.get("seasons") and not raw.get("day_sets"):
        raise vol.Invalid(f"plan {name!r}: give day_sets or seasons", path=["day_sets"])
    seasons = []
    for season_raw in seasons_raw:
        day_sets = []
        for set_name, set_raw in season_raw["day_sets"].items():
            slots = tuple(
                Slot(s["start"], s["end"], s["price"], s["type"]) for s in set_raw["slots"]
            )
            try:
                check_slots(name, season_raw["name"], set_name, slots)
                for slot in slots:
                    if slot.start % step or slot.end % step:
                        raise ValueError(
                            f"plan {name!r}, day set {set_name!r}: slot times must be on the "
                            f"{step}-minute grid (resolution)"
                        )
            except ValueError as err:
                raise vol.Invalid(str(err), path=["day_sets", set_name, "slots"]) from None
            day_sets.append(
                DaySet(
                    set_name,
                    frozenset(set_raw["days"]),
                    tuple(sorted(slots, key=lambda s: s.start)),
                )
            )
        try:
            check_days(name, season_raw["name"], day_sets)
        except ValueError as err:
            raise vol.Invalid(str(err), path=["day_sets"]) from None
        seasons.append(
            Season(
                season_raw["name"] or "all year",
                season_raw["from"],
                season_raw["to"],
                tuple(day_sets),
            )
        )
    try:
        check_seasons(name, seasons)
    except ValueError as err:
        raise vol.Invalid(str(err), path=["seasons"]) from None
    return Plan(
        name=name,
        seasons=tuple(seasons),
        holidays=frozenset(raw["holidays"]),
        fixed_daily_charge=raw["fixed_daily_charge"],
        export_price=raw["export_price"],
    )


def _build(section: dict[str, Any]) -> TariffConfig:
    if (CONF_PLAN in section) == (CONF_PRICE_ENTITY in section):
        raise vol.Invalid("give exactly one of plan (TOU) and price_entity (dynamic prices)")
    resolution = section[CONF_RESOLUTION]
    plan = None
    if CONF_PLAN in section:
        try:
            plan = _build_plan(section[CONF_PLAN], resolution)
        except vol.Invalid as err:
            raise vol.Invalid(err.msg, path=[CONF_PLAN, *err.path]) from None
    auto = section[CONF_AUTOPILOT]
    notify = section[CONF_NOTIFY]
    return TariffConfig(
        plan=plan,
        price_entity=section.get(CONF_PRICE_ENTITY),
        currency=section[CONF_CURRENCY],
        windows=tuple(section[CONF_WINDOWS]),
        resolution=resolution,
        carbon_intensity=section[CONF_CARBON_INTENSITY],
        autopilot=AutopilotConfig(
            enabled=auto["enabled"],
            dry_run=auto["dry_run"],
            pause_in=tuple(auto["pause_in"]),
            tiers=tuple(auto["tiers"]),
            override=timedelta(minutes=auto["override_minutes"]),
            must_run=tuple(auto["must_run"]),
        ),
        notify=NotifyConfig(
            peak_warning=timedelta(minutes=notify["peak_warning_minutes"]),
            spike_factor=notify["spike_factor"],
            prepaid_balance=notify.get("prepaid_balance"),
            balance_below=notify["balance_below"],
        ),
    )


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(CONF_PLAN): _PLAN,
            vol.Optional(CONF_PRICE_ENTITY): validators.entity_id,
            vol.Optional(CONF_CURRENCY, default="EUR"): validators.currency,
            vol.Optional(CONF_WINDOWS, default=list): vol.All(
                [
                    vol.All(
                        validators.time_period,
                        vol.Range(min=timedelta(minutes=1), max=timedelta(hours=24)),
                    )
                ],
                vol.Length(max=8),
            ),
            vol.Optional(CONF_RESOLUTION, default=DEFAULT_RESOLUTION): vol.All(
                validators.time_period, vol.In([timedelta(minutes=m) for m in (5, 15, 30, 60)])
            ),
            vol.Optional(CONF_CARBON_INTENSITY, default=0.0): vol.All(
                vol.Coerce(float), vol.Range(min=0)
            ),
            vol.Optional(CONF_AUTOPILOT, default=dict): _AUTOPILOT,
            vol.Optional(CONF_NOTIFY, default=dict): _NOTIFY,
        }
    ),
    _build,
)
