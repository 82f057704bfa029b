"""The ``tuya:`` section: devices on the LAN, and where discovery listens.

Example::

    tuya:
      devices:
        - device_id: bf0123456789abcdefgh
          local_key: !secret kettle_plug_key    # 16 characters, from `python -m tinytuya wizard`
          host: 192.0.2.40
          version: 3.4                          # 3.1, 3.3, 3.4 or 3.5; detected when left out
          name: Kettle plug
          area: Kitchen
          poll_interval: 10                     # s between UPDATEDPS refreshes of power
        - device_id: bf9876543210abcdefgh
          local_key: !secret strip_key
          host: 192.0.2.41
          name: Desk strip
          dps:                                  # override what detection finds
            switch: [1, 2, 3]                   # one switch per gang
            power: 19
            power_scale: 0.1                    # device integer x scale = W
      discovery:
        bind: 0.0.0.0
        broadcast: 255.255.255.255

Errors name the file, line and key: a key that is not 16 characters, a version that does not
exist, a data point out of 1-255, the same device id twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from .const import (
    CONF_APP_PORT,
    CONF_AREA,
    CONF_BIND,
    CONF_BROADCAST,
    CONF_COMMAND_TIMEOUT,
    CONF_CURRENT,
    CONF_CURRENT_SCALE,
    CONF_DEVICE_ID,
    CONF_DEVICES,
    CONF_DISCOVERY,
    CONF_DPS,
    CONF_ENCRYPTED_PORT,
    CONF_ENERGY,
    CONF_ENERGY_SCALE,
    CONF_HEARTBEAT_INTERVAL,
    CONF_HOST,
    CONF_LOCAL_KEY,
    CONF_NAME,
    CONF_PLAIN_PORT,
    CONF_POLL_INTERVAL,
    CONF_PORT,
    CONF_POWER,
    CONF_POWER_SCALE,
    CONF_SWITCH,
    CONF_VERSION,
    CONF_VOLTAGE,
    CONF_VOLTAGE_SCALE,
    DEFAULT_COMMAND_TIMEOUT,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_PORT,
    DISCOVERY_APP_PORT,
    DISCOVERY_ENCRYPTED_PORT,
    DISCOVERY_PLAIN_PORT,
)
from .profile import ProfileOverride

_PORT = vol.All(int, vol.Range(min=1, max=65535))
_DP = vol.All(int, vol.Range(min=1, max=255))
_SCALE = vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False))
_MEASURES = {
    CONF_POWER: CONF_POWER_SCALE,
    CONF_CURRENT: CONF_CURRENT_SCALE,
    CONF_VOLTAGE: CONF_VOLTAGE_SCALE,
    CONF_ENERGY: CONF_ENERGY_SCALE,
}


@dataclass(frozen=True, slots=True)
class TuyaDeviceConfig:
    """One device of the ``tuya:`` section."""

    device_id: str
    local_key: str
    host: str
    port: int = DEFAULT_PORT
    version: float | None = None
    name: str | None = None
    area: str | None = None
    poll_interval: float = DEFAULT_POLL_INTERVAL
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT
    profile: ProfileOverride = field(default_factory=ProfileOverride)

    @property
    def title(self) -> str:
        """The device's name, or its id."""
        return self.name or self.device_id


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """Where ``tuya.discover`` listens and where it sends the 3.5 solicitation."""

    bind: str = "0.0.0.0"  # noqa: S104 - devices broadcast to the whole LAN
    broadcast: str = "255.255.255.255"
    plain_port: int = DISCOVERY_PLAIN_PORT
    encrypted_port: int = DISCOVERY_ENCRYPTED_PORT
    app_port: int = DISCOVERY_APP_PORT


@dataclass(frozen=True, slots=True)
class TuyaConfig:
    """The whole ``tuya:`` section."""

    devices: tuple[TuyaDeviceConfig, ...] = ()
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)


_VERSION_EXPECTED = "expected a Tuya protocol version (3.1, 3.3, 3.4 or 3.5)"


def _version(value: Any) -> float | None:
    if value is None or value == "auto":
        return None
    try:
        version = float(value)
    except (TypeError, ValueError) as err:
        raise vol.Invalid(
            f"expected a Tuya protocol version (3.1, 3.3, 3.4, 3.5), got {value!r}"
        ) from err
    if version not in (3.1, 3.2, 3.3, 3.4, 3.5):
        raise vol.Invalid(f"expected a Tuya protocol version (3.1, 3.3, 3.4, 3.5), got {value!r}")
    return version


def _local_key(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 16 or not value.isascii():
        raise vol.Invalid(
            "a Tuya local key is 16 ASCII characters (see `python -m tinytuya wizard`)"
        )
    return value


_DPS_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_SWITCH): vol.All(
            lambda v: v if isinstance(v, list) else [v], [_DP], vol.Length(min=1, max=16)
        ),
        **{vol.Optional(name): _DP for name in _MEASURES},
        **{vol.Optional(scale): _SCALE for scale in _MEASURES.values()},
    }
)

_DEVICE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_DEVICE_ID): vol.All(str, vol.Match(r"^[A-Za-z0-9]{10,32}$")),
        vol.Required(CONF_LOCAL_KEY): _local_key,
        vol.Required(CONF_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_PORT): _PORT,
        vol.Optional(CONF_VERSION): _version,
        vol.Optional(CONF_NAME): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional(CONF_AREA): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional(CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=3600)
        ),
        vol.Optional(CONF_HEARTBEAT_INTERVAL, default=DEFAULT_HEARTBEAT_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=1, max=60)
        ),
        vol.Optional(CONF_COMMAND_TIMEOUT, default=DEFAULT_COMMAND_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=30)
        ),
        vol.Optional(CONF_DPS): _DPS_SCHEMA,
    }
)

_DISCOVERY_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_BIND, default="0.0.0.0"): str,  # noqa: S104 - LAN broadcasts
        vol.Optional(CONF_BROADCAST, default="255.255.255.255"): str,
        vol.Optional(CONF_PLAIN_PORT, default=DISCOVERY_PLAIN_PORT): _PORT,
        vol.Optional(CONF_ENCRYPTED_PORT, default=DISCOVERY_ENCRYPTED_PORT): _PORT,
        vol.Optional(CONF_APP_PORT, default=DISCOVERY_APP_PORT): _PORT,
    }
)


def _unique_ids(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for index, device in enumerate(devices):
        if device[CONF_DEVICE_ID] in seen:
            raise vol.Invalid(
                f"device id {device[CONF_DEVICE_ID]} appears twice", path=[index, CONF_DEVICE_ID]
            )
        seen.add(device[CONF_DEVICE_ID])
    return devices


def _profile(dps: dict[str, Any] | None) -> ProfileOverride:
    if not dps:
        return ProfileOverride()
    switches = dps.get(CONF_SWITCH)
    return ProfileOverride(
        switches=tuple(switches) if switches is not None else None,
        measurements={name: dps[name] for name in _MEASURES if name in dps},
        scales={name: dps[scale] for name, scale in _MEASURES.items() if scale in dps},
    )


def _device(d: dict[str, Any]) -> TuyaDeviceConfig:
    return TuyaDeviceConfig(
        device_id=d[CONF_DEVICE_ID],
        local_key=d[CONF_LOCAL_KEY],
        host=d[CONF_HOST],
        port=d[CONF_PORT],
        version=d.get(CONF_VERSION),
        name=d.get(CONF_NAME),
        area=d.get(CONF_AREA),
        poll_interval=d[CONF_POLL_INTERVAL],
        heartbeat_interval=d[CONF_HEARTBEAT_INTERVAL],
        command_timeout=d[CONF_COMMAND_TIMEOUT],
        profile=_profile(d.get(CONF_DPS)),
    )


def device_config(data: Any) -> TuyaDeviceConfig:
    """One device from the API or the device store, validated as a YAML device is.

    Raises:
        vol.Invalid: the data does not describe a device; the message names the key.
    """
    return _device(_DEVICE_SCHEMA(data))


def _build(section: dict[str, Any] | None) -> TuyaConfig:
    section = section or {}
    devices = tuple(_device(d) for d in section.get(CONF_DEVICES, []))
    discovery = section.get(CONF_DISCOVERY)
    return TuyaConfig(
        devices=devices,
        discovery=DiscoveryConfig(**discovery) if discovery else DiscoveryConfig(),
    )


def _empty_as_dict(value: Any) -> Any:
    return {} if value is None else value


CONFIG_SCHEMA = vol.All(
    _empty_as_dict,
    vol.Schema(
        {
            vol.Optional(CONF_DEVICES, default=list): vol.All([_DEVICE_SCHEMA], _unique_ids),
            vol.Optional(CONF_DISCOVERY): _DISCOVERY_SCHEMA,
        }
    ),
    _build,
)
