"""Which data points of a Tuya device mean what: detected from its status, overridable in YAML.

A metering plug reports 1 switch, 9 countdown, 17 energy added (0.001 kWh), 18 current (mA),
19 power (W x 10) and 20 voltage (V x 10); old 3.1 plugs 1 switch, 4 current, 5 power,
6 voltage; some vendors 104 current, 105 power, 106 voltage. Multi-gang strips have a boolean
switch per gang among DPs 1-8. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .const import PROFILE_COMMON, PROFILE_OLD, PROFILE_VENDOR, SWITCH_DP_RANGE

#: Scales from the device's integers to W, A, V and kWh.
DEFAULT_SCALES: Mapping[str, float] = {
    "power": 0.1,
    "current": 0.001,
    "voltage": 0.1,
    "energy": 0.001,
}
MEASUREMENTS = ("power", "current", "voltage", "energy")


@dataclass(frozen=True, slots=True)
class DpProfile:
    """The data points a device's entities read and write.

    Attributes:
        switches: the DP of each gang's switch, in gang order.
        measurements: the DP of each measurement present (``power``, ``current``, ...).
        scales: the factor from the device's integer to the entity's unit, per measurement.
    """

    switches: tuple[int, ...] = ()
    measurements: Mapping[str, int] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SCALES))

    @property
    def power_dps(self) -> list[int]:
        """The DPs UPDATEDPS refreshes: current, power and voltage (energy is a counter)."""
        return sorted(
            dp for name, dp in self.measurements.items() if name in ("power", "current", "voltage")
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, for diagnostics."""
        return {
            "switches": list(self.switches),
            "measurements": dict(self.measurements),
            "scales": dict(self.scales),
        }


@dataclass(frozen=True, slots=True)
class ProfileOverride:
    """What the YAML says about the data points; None leaves a part to detection."""

    switches: tuple[int, ...] | None = None
    measurements: Mapping[str, int] = field(default_factory=dict)
    scales: Mapping[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether the YAML gives the switches, so the entities need no status to be made."""
        return self.switches is not None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def detect_profile(dps: Mapping[str, Any]) -> DpProfile:
    """The profile that a device's first status suggests."""
    switches = tuple(dp for dp in SWITCH_DP_RANGE if isinstance(dps.get(str(dp)), bool))
    measurements: dict[str, int] = {}
    for candidate in (PROFILE_COMMON, PROFILE_VENDOR, PROFILE_OLD):
        if _is_number(dps.get(str(candidate["power"]))):
            measurements = {
                name: dp for name, dp in candidate.items() if _is_number(dps.get(str(dp)))
            }
            break
    if measurements:
        # A DP that is a measurement is not a gang (old plugs have no boolean at 4-6 anyway).
        switches = tuple(dp for dp in switches if dp not in measurements.values())
    return DpProfile(switches=switches, measurements=measurements)


def apply_override(detected: DpProfile, override: ProfileOverride) -> DpProfile:
    """``detected`` with what the YAML says put over it."""
    profile = detected
    if override.switches is not None:
        profile = replace(profile, switches=override.switches)
    if override.measurements:
        profile = replace(profile, measurements={**profile.measurements, **override.measurements})
    if override.scales:
        profile = replace(profile, scales={**profile.scales, **override.scales})
    return profile
