"""The ``appliance:`` section: appliances with or without a plug, and the prices to account in.

Example::

    appliance:
      price: 0.30                       # per kWh, flat (until a tariff provides prices)
      currency: EUR
      carbon_intensity: 0.25            # kg CO2e per kWh; or carbon_sensor (g CO2e/kWh)
      appliances:
        - name: Kettle
          area: Kitchen
          tier: essential               # essential, shiftable or deferrable
          power: 2000                   # nameplate, W
          switch: switch.kettle_plug    # any on/off entity: Tuya, MQTT, Modbus, template
          power_sensor: sensor.kettle_plug_power
        - name: Dishwasher              # no switch: a virtual appliance, tracked by Edgewise
          area: Kitchen
          tier: shiftable
          power: 1800

Errors name the file, line and key: an unknown tier, a negative power, a switch that is not an
entity id, two appliances with the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from core import validators
from core.slug import slugify

from .const import (
    CONF_APPLIANCES,
    CONF_AREA,
    CONF_CARBON_INTENSITY,
    CONF_CARBON_SENSOR,
    CONF_CURRENCY,
    CONF_NAME,
    CONF_POWER,
    CONF_POWER_SENSOR,
    CONF_PRICE,
    CONF_RUNNING_THRESHOLD,
    CONF_SWITCH,
    CONF_TIER,
    DEFAULT_RUNNING_THRESHOLD,
    Tier,
)


@dataclass(frozen=True, slots=True)
class ApplianceConfig:
    """One appliance."""

    name: str
    tier: Tier
    power: float
    area: str | None = None
    switch: str | None = None
    power_sensor: str | None = None
    running_threshold: float = DEFAULT_RUNNING_THRESHOLD

    @property
    def key(self) -> str:
        """The slug of its name: its unique id and object id."""
        return slugify(self.name)

    @property
    def virtual(self) -> bool:
        """Whether no switch backs it."""
        return self.switch is None


@dataclass(frozen=True, slots=True)
class AppliancesConfig:
    """The whole section."""

    appliances: tuple[ApplianceConfig, ...] = ()
    price: float = 0.0
    currency: str = "EUR"
    carbon_intensity: float = 0.0
    carbon_sensor: str | None = None


_APPLIANCE = vol.Schema(
    {
        vol.Required(CONF_NAME): vol.All(str, vol.Strip, vol.Length(min=1, max=100)),
        vol.Optional(CONF_AREA): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional(CONF_TIER, default=Tier.SHIFTABLE.value): vol.All(
            vol.In([t.value for t in Tier]), vol.Coerce(Tier)
        ),
        vol.Required(CONF_POWER): vol.All(vol.Coerce(float), vol.Range(min=0, max=100_000)),
        vol.Optional(CONF_SWITCH): validators.entity_id,
        vol.Optional(CONF_POWER_SENSOR): validators.entity_domain("sensor"),
        vol.Optional(CONF_RUNNING_THRESHOLD, default=DEFAULT_RUNNING_THRESHOLD): vol.All(
            vol.Coerce(float), vol.Range(min=0)
        ),
    }
)


def _unique_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        key = slugify(item[CONF_NAME])
        if key in seen:
            raise vol.Invalid(
                f"two appliances are called {item[CONF_NAME]!r}", path=[index, CONF_NAME]
            )
        seen.add(key)
    return items


def _build(section: dict[str, Any]) -> AppliancesConfig:
    return AppliancesConfig(
        appliances=tuple(
            ApplianceConfig(
                name=item[CONF_NAME],
                tier=item[CONF_TIER],
                power=item[CONF_POWER],
                area=item.get(CONF_AREA),
                switch=item.get(CONF_SWITCH),
                power_sensor=item.get(CONF_POWER_SENSOR),
                running_threshold=item[CONF_RUNNING_THRESHOLD],
            )
            for item in section[CONF_APPLIANCES]
        ),
        price=section[CONF_PRICE],
        currency=section[CONF_CURRENCY],
        carbon_intensity=section[CONF_CARBON_INTENSITY],
        carbon_sensor=section.get(CONF_CARBON_SENSOR),
    )


CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema(
        {
            vol.Optional(CONF_APPLIANCES, default=list): vol.All([_APPLIANCE], _unique_names),
            vol.Optional(CONF_PRICE, default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
            vol.Optional(CONF_CURRENCY, default="EUR"): validators.currency,
            vol.Optional(CONF_CARBON_INTENSITY, default=0.0): vol.All(
                vol.Coerce(float), vol.Range(min=0)
            ),
            vol.Optional(CONF_CARBON_SENSOR): validators.entity_domain("sensor"),
        }
    ),
    _build,
)
