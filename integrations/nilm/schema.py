"""The ``nilm:`` section: which power sensors to disaggregate, with which model.

Example::

    nilm:
      model: edgewise-nilm-home      # a model id from the registry (default: the shipped one)
      models_dir: nilm_models        # extra models, relative to the configuration directory
      meters:
        - name: House                # the appliance sensors are named "House fridge power", ...
          power_sensor: sensor.house_meter_power   # any power sensor in W or kW
          area: Hallway              # where the meter is (default: the power sensor's area)
          areas:                     # where each appliance is (default: the meter's area)
            fridge: Kitchen
            washing_machine: Utility room

Each appliance's sensors belong to a device ("House fridge (NILM)") placed in that area when it
is first made, so the panel shows them next to that room's plug readings; a user's later choice
of area in the panel wins.

Errors name the key: a sensor that is not a ``sensor.`` entity id, a repeated meter name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from core import validators
from core.slug import slugify

from .const import DEFAULT_MODEL


@dataclass(frozen=True)
class MeterConfig:
    """One meter to disaggregate."""

    name: str
    power_sensor: str
    model: str
    #: The meter's area name; None: the power sensor's area (entity's, else its device's).
    area: str | None = None
    #: Appliance name -> area name, for appliances not in the meter's area.
    areas: tuple[tuple[str, str], ...] = ()

    def area_of(self, appliance: str) -> str | None:
        """The configured area of ``appliance`` (None: the meter's)."""
        return dict(self.areas).get(appliance, self.area)

    @property
    def key(self) -> str:
        """The meter's slug, for unique ids."""
        return slugify(self.name)


@dataclass(frozen=True)
class NilmConfig:
    """The validated ``nilm:`` section."""

    model: str
    models_dir: str
    meters: tuple[MeterConfig, ...]


_METER = vol.Schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Required("power_sensor"): validators.entity_domain("sensor"),
        vol.Optional("model"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("area"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("areas", default=dict): {
            vol.All(str, vol.Length(min=1, max=64)): vol.All(str, vol.Length(min=1, max=64))
        },
    }
)


def _build(value: dict[str, Any]) -> NilmConfig:
    model = value["model"]
    meters = tuple(
        MeterConfig(
            m["name"],
            m["power_sensor"],
            m.get("model", model),
            m.get("area"),
            tuple(sorted(m["areas"].items())),
        )
        for m in value["meters"]
    )
    keys = [m.key for m in meters]
    for index, key in enumerate(keys):
        if key in keys[:index]:
            raise vol.Invalid(f"meter name {meters[index].name!r} repeats", path=["meters", index])
    return NilmConfig(model, value["models_dir"], meters)


CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema(
        {
            vol.Optional("model", default=DEFAULT_MODEL): vol.All(str, vol.Length(min=1, max=64)),
            vol.Optional("models_dir", default="nilm_models"): vol.All(str, vol.Length(min=1)),
            vol.Optional("meters", default=list): [_METER],
        }
    ),
    _build,
)
