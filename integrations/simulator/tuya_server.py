"""The simulated home's plugs as Tuya devices on loopback, one TCP port per plug.

Imported only when ``simulator: {tuya: ...}`` is configured (it imports tinytuya through the
``tuya`` integration's device double). Each plug speaks the protocol version configured for it
and reports the metering plug's data points: 1 switch, 17 energy (0.001 kWh), 18 current (mA),
19 power (W x 10), 20 voltage (V x 10). A command on DP 1 switches the simulated plug at once;
after every simulation step the changed readings are pushed to the connected client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from integrations.tuya.device_double import DpsValue, TuyaDeviceDouble

from .const import ApplianceKind
from .home import Appliance
from .schema import TuyaExposure
from .sim import ExposureError, Simulation

_LOGGER = logging.getLogger(__name__)

#: The voltage the simulated grid holds, V.
VOLTAGE_V = 230.0


def device_id(kind: ApplianceKind) -> str:
    """The simulated plug's Tuya device id: 20 letters and digits, stable per appliance."""
    return f"ewsim{kind.value.replace('_', '')}"[:20].ljust(20, "0")


def plug_dps(appliance: Appliance) -> dict[str, DpsValue]:
    """The data points a metering plug reports for ``appliance`` now."""
    power = appliance.power_w if appliance.plug_on else 0.0
    return {
        "1": appliance.plug_on,
        "17": round(appliance.energy_kwh * 1000),
        "18": round(power / VOLTAGE_V * 1000),
        "19": round(power * 10),
        "20": round(VOLTAGE_V * 10),
    }


class SimTuyaServer:
    """A Tuya device double per appliance of the simulated home."""

    def __init__(
        self, simulation: Simulation, exposure: TuyaExposure, after_write: Callable[[], None]
    ) -> None:
        self._simulation = simulation
        self.exposure = exposure
        self._after_write = after_write
        self.devices: dict[ApplianceKind, TuyaDeviceDouble] = {}

    def _control(self, kind: ApplianceKind) -> Callable[[dict[str, Any]], None]:
        def control(changes: dict[str, Any]) -> None:
            home = self._simulation.home
            if home is None or not isinstance(changes.get("1"), bool):
                return
            home.appliances[kind].set_plug(changes["1"])
            self._after_write()
            self.refresh()

        return control

    async def start(self) -> None:
        """Listen for each plug on its port.

        Raises:
            ExposureError: no home, or a port cannot be listened on.
        """
        home = self._simulation.home
        exposure = self.exposure
        if home is None or not home.appliances:
            raise ExposureError("simulator.tuya: no home appliances to serve")
        for index, (kind, appliance) in enumerate(home.appliances.items()):
            double = TuyaDeviceDouble(
                device_id(kind),
                exposure.local_key,
                exposure.version_of(kind),
                plug_dps(appliance),
                host=exposure.host,
                port=exposure.port + index,
                on_control=self._control(kind),
            )
            try:
                await double.start()
            except OSError as err:
                await self.stop()
                raise ExposureError(
                    f"simulator.tuya: cannot listen on {exposure.host}:{exposure.port + index} "
                    f"for the {kind.value} plug (port in use or address not available): {err}"
                ) from err
            self.devices[kind] = double
        _LOGGER.info(
            "Simulator plugs as Tuya devices on %s: %s",
            exposure.host,
            ", ".join(
                f"{kind.value} {d.device_id} port {d.port} v{d.version}"
                for kind, d in self.devices.items()
            ),
        )

    def refresh(self) -> None:
        """Push the readings that changed since the last refresh."""
        home = self._simulation.home
        if home is None:
            return
        for kind, double in self.devices.items():
            now = plug_dps(home.appliances[kind])
            changed = {dp: value for dp, value in now.items() if double.dps.get(dp) != value}
            if changed:
                double.set_dps(changed)

    async def stop(self) -> None:
        """Stop every plug. Safe to call twice."""
        devices, self.devices = self.devices, {}
        for double in devices.values():
            await double.stop()
