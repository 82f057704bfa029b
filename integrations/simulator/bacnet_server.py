"""The simulated AHU and chillers as a BACnet/IP device, served by bacpypes3.

Imported only when ``simulator: {bacnet: ...}`` is configured. The objects are listed in the
integration's docstring. Sensor-like objects (analog inputs) take the models' values after every
simulation step. The commandable objects follow BACnet's priority array: a write at any priority,
or a relinquish, changes the object's present value, and the present value drives the model.
While no priority holds a command the relinquish default follows the model, so a change made in
Edgewise (the simulator's own number and switch entities) shows on BACnet too; while a priority
holds one, the commanded value wins over local changes at the next step.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bacpypes3.app import Application
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryValueObject
from bacpypes3.local.cmd import Commandable

from integrations.bacnet.client import wait_bound

from .building import Building, Chiller
from .entities import SUPPLY_SETPOINT_MAX, SUPPLY_SETPOINT_MIN
from .schema import BacnetExposure
from .sim import ExposureError, Simulation

_LOGGER = logging.getLogger(__name__)

#: Seconds to wait for bacpypes3 to bind its UDP socket.
BIND_TIMEOUT = 10.0

#: Instance numbers of the objects (see the integration's docstring for the full map).
SUPPLY_SETPOINT_INSTANCE = 1
CHILLER_POWER_BASE = 10
CHILLER_LOAD_BASE = 20


class CommandableBinaryValue(Commandable, BinaryValueObject):  # type: ignore[misc]
    """A commandable binary value that tells its property monitors when it changes.

    bacpypes3's own ``BinaryValueObjectCmd`` lacks the local object base that keeps monitors.
    """

    _required = ("priorityArray", "relinquishDefault", "currentCommandPriority")


@dataclass(frozen=True, slots=True)
class _Input:
    """An analog input and the model value it shows."""

    obj: Any
    read: Callable[[], float]


class SimBacnetDevice:
    """A bacpypes3 device presenting the building's AHU and chillers."""

    def __init__(
        self, simulation: Simulation, exposure: BacnetExposure, after_write: Callable[[], None]
    ) -> None:
        """Serve ``simulation``'s building as ``exposure`` says once started.

        Args:
            simulation: the running simulation; it must have a building.
            exposure: address, port, instance and name of the device.
            after_write: called after a BACnet command changed the model (publishes the states).
        """
        self._simulation = simulation
        self.exposure = exposure
        self._after_write = after_write
        self.app: Any = None
        self._inputs: list[_Input] = []
        self.setpoint: Any = None
        self._enables: list[tuple[Any, Chiller]] = []
        #: True while the device side is being brought in line with the model (no feedback).
        self._syncing = False

    @property
    def where(self) -> str:
        """``address:port`` of the device."""
        return f"{self.exposure.address}:{self.exposure.port}"

    def _building(self) -> Building:
        building = self._simulation.building
        if building is None:
            raise ExposureError(f"simulator.bacnet ({self.where}): there is no building to serve")
        return building

    def _probe(self) -> None:
        """Fail at once, naming the port, when something else has the UDP address.

        bacpypes3 binds with SO_REUSEPORT and retries forever when the bind fails, so a taken
        port would otherwise show only as a device that never answers.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((self.exposure.address, self.exposure.port))
            except OSError as err:
                reason = "in use" if err.errno == errno.EADDRINUSE else "not available here"
                raise ExposureError(
                    f"simulator.bacnet: cannot listen on {self.where} "
                    f"(UDP port {self.exposure.port} {reason}): {err.strerror}"
                ) from err

    def _objects(self, building: Building) -> list[Any]:
        ahu = building.ahu
        inputs: list[tuple[int, str, str, Callable[[], float]]] = [
            (1, "AHU supply air temperature", "degreesCelsius", lambda: ahu.supply_temperature),
            (2, "AHU mixed air temperature", "degreesCelsius", lambda: ahu.mixed_temperature),
            (3, "Outdoor air temperature", "degreesCelsius", lambda: building.outdoor_temperature),
            (4, "AHU fan power", "kilowatts", lambda: ahu.fan_power_kw),
            (5, "AHU cooling load", "kilowatts", lambda: ahu.coil_load_kw),
        ]
        for n, chiller in enumerate(building.chillers, start=1):
            inputs.append(
                (
                    CHILLER_POWER_BASE + n,
                    f"Chiller {n} power",
                    "kilowatts",
                    _getter(chiller, "power_kw"),
                )
            )
            inputs.append(
                (
                    CHILLER_LOAD_BASE + n,
                    f"Chiller {n} cooling load",
                    "kilowatts",
                    _getter(chiller, "load_kw"),
                )
            )
        objects: list[Any] = []
        for instance, name, units, read in inputs:
            obj = AnalogInputObject(
                objectIdentifier=("analog-input", instance),
                objectName=name,
                presentValue=float(read()),
                units=units,
                covIncrement=0.1,
            )
            self._inputs.append(_Input(obj, read))
            objects.append(obj)
        self.setpoint = AnalogValueObjectCmd(
            objectIdentifier=("analog-value", SUPPLY_SETPOINT_INSTANCE),
            objectName="AHU supply air setpoint",
            description=(
                f"Supply air temperature setpoint, {SUPPLY_SETPOINT_MIN:g} to "
                f"{SUPPLY_SETPOINT_MAX:g} °C (values outside are clamped)"
            ),
            presentValue=float(ahu.supply_setpoint),
            relinquishDefault=float(ahu.supply_setpoint),
            units="degreesCelsius",
            covIncrement=0.1,
        )
        self.setpoint._property_monitors["presentValue"].append(self._on_setpoint)  # noqa: SLF001
        objects.append(self.setpoint)
        for n, chiller in enumerate(building.chillers, start=1):
            state = "active" if chiller.enabled else "inactive"
            enable = CommandableBinaryValue(
                objectIdentifier=("binary-value", n),
                objectName=f"Chiller {n} enable",
                presentValue=state,
                relinquishDefault=state,
            )
            enable._property_monitors["presentValue"].append(  # noqa: SLF001
                _enable_monitor(self, chiller)
            )
            self._enables.append((enable, chiller))
            objects.append(enable)
        return objects

    async def start(self) -> None:
        """Bind the device's UDP address and serve its objects.

        Raises:
            ExposureError: no building, or the address cannot be bound (port in use…).
        """
        building = self._building()
        self._probe()
        args = SimpleArgumentParser().parse_args(
            [
                "--name",
                self.exposure.name,
                "--instance",
                str(self.exposure.instance),
                "--address",
                f"{self.exposure.address}:{self.exposure.port}",
            ]
        )
        objects = self._objects(building)
        app = Application.from_args(args)
        try:
            for obj in objects:
                app.add_object(obj)
            await wait_bound(app, BIND_TIMEOUT)
        except OSError as err:
            app.close()
            raise ExposureError(f"simulator.bacnet: cannot listen on {self.where}: {err}") from err
        except BaseException:
            app.close()
            raise
        self.app = app
        _LOGGER.info(
            "Simulator AHU and chillers on BACnet/IP %s as device %d",
            self.where,
            self.exposure.instance,
        )

    async def stop(self) -> None:
        """Close the device's socket. Safe to call twice."""
        if self.app is not None:
            app, self.app = self.app, None
            app.close()

    # --- keeping the device and the model in line -------------------------------------------

    def refresh(self) -> None:
        """Show the model's values; let the priority arrays decide the commanded values."""
        if self.app is None:
            return
        self._syncing = True
        try:
            for item in self._inputs:
                item.obj.presentValue = float(item.read())
            ahu = self._building().ahu
            if _commanded(self.setpoint):
                ahu.supply_setpoint = _clamp(float(self.setpoint.presentValue))
            elif float(self.setpoint.relinquishDefault) != ahu.supply_setpoint:
                self.setpoint.relinquishDefault = float(ahu.supply_setpoint)
                self.setpoint.recalculating()
            for enable, chiller in self._enables:
                if _commanded(enable):
                    chiller.enabled = str(enable.presentValue) == "active"
                elif (str(enable.relinquishDefault) == "active") != chiller.enabled:
                    enable.relinquishDefault = "active" if chiller.enabled else "inactive"
                    enable.recalculating()
        finally:
            self._syncing = False

    def _on_setpoint(self, _old: Any, new: Any) -> None:
        """A write or relinquish changed the setpoint's present value: drive the AHU with it."""
        if self._syncing:
            return
        self._building().ahu.supply_setpoint = _clamp(float(new))
        self._after_write()

    def on_enable(self, chiller: Chiller, new: Any) -> None:
        """A write or relinquish changed a chiller's enable: drive the chiller with it."""
        if self._syncing:
            return
        chiller.enabled = str(new) == "active"
        self._after_write()


def _getter(chiller: Chiller, attr: str) -> Callable[[], float]:
    return lambda: float(getattr(chiller, attr))


def _enable_monitor(device: SimBacnetDevice, chiller: Chiller) -> Callable[[Any, Any], None]:
    return lambda _old, new: device.on_enable(chiller, new)


def _commanded(obj: Any) -> bool:
    """Whether some priority of ``obj``'s priority array holds a command."""
    return any(slot.null is None for slot in obj.priorityArray)


def _clamp(value: float) -> float:
    return min(max(value, SUPPLY_SETPOINT_MIN), SUPPLY_SETPOINT_MAX)
