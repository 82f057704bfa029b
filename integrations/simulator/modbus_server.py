"""The simulated meters on Modbus TCP, served by pymodbus's own server.

Imported only when ``simulator: {modbus: ...}`` is configured. Each meter is one Modbus device
(unit) behind one TCP server; its values are input registers (function code 4), refreshed after
every simulation step (see the register map in the integration's docstring).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Coroutine

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from .const import MODBUS_BUILDING_METER_ID, MODBUS_HOUSE_METER_ID
from .schema import ModbusExposure
from .sim import ExposureError, Simulation

_LOGGER = logging.getLogger(__name__)

#: Input registers of each meter: power W float32 (0-1), energy kWh float32 (2-3), energy Wh
#: uint32 (4-5).
REGISTER_COUNT = 6
#: Function code of "read input registers".
_READ_INPUT_REGISTERS = 4


def float32(value: float) -> list[int]:
    """``value`` as an IEEE 754 float32, high word first (big-endian words and bytes)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def uint32(value: int) -> list[int]:
    """``value`` (clamped to 0…2³²-1) as two registers, high word first."""
    value = min(max(value, 0), 0xFFFFFFFF)
    return [value >> 16, value & 0xFFFF]


def meter_registers(power_w: float, energy_kwh: float) -> list[int]:
    """The six input registers of a meter reading ``power_w`` and ``energy_kwh``."""
    return float32(power_w) + float32(energy_kwh) + uint32(round(energy_kwh * 1000))


class SimModbusServer:
    """A pymodbus TCP server presenting the building meter (id 1) and the house meter (id 2)."""

    def __init__(self, simulation: Simulation, exposure: ModbusExposure) -> None:
        """Serve ``simulation``'s meters at ``exposure.host``:``exposure.port`` once started."""
        self._simulation = simulation
        self.exposure = exposure
        self._server: ModbusTcpServer | None = None
        #: The registers each device answers with, by device id; replaced on each refresh.
        self.registers: dict[int, list[int]] = {}
        self.refresh()

    @property
    def running(self) -> bool:
        """Whether the server listens."""
        return self._server is not None

    def refresh(self) -> None:
        """Take the meters' current readings; the next read of each device returns them."""
        if (building := self._simulation.building) is not None:
            meter = building.meter
            self.registers[MODBUS_BUILDING_METER_ID] = meter_registers(
                meter.power_kw * 1000, meter.energy_kwh
            )
        if (home := self._simulation.home) is not None:
            house = home.meter
            self.registers[MODBUS_HOUSE_METER_ID] = meter_registers(house.power_w, house.energy_kwh)

    def _action_for(self, device_id: int) -> Callable[..., Coroutine[None, None, ExcCodes | None]]:
        async def action(
            function_code: int,
            start: int,
            _address: int,
            _count: int,
            registers: list[int],
            _values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            # The block starts at register 0; copy the last refreshed readings in before pymodbus
            # builds the response from it.
            if function_code == _READ_INPUT_REGISTERS:
                for address, value in enumerate(self.registers[device_id]):
                    if 0 <= address - start < len(registers):
                        registers[address - start] = value
            return None

        return action

    def _devices(self) -> list[SimDevice]:
        return [
            SimDevice(
                id=device_id,
                simdata=(
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, values=[0], datatype=DataType.REGISTERS)],
                    [SimData(0, values=list(values), datatype=DataType.REGISTERS)],
                ),
                action=self._action_for(device_id),
            )
            for device_id, values in sorted(self.registers.items())
        ]

    async def start(self) -> None:
        """Listen on the configured host and port.

        Raises:
            ExposureError: nothing to serve, or the address cannot be listened on (port in use…).
        """
        where = f"{self.exposure.host}:{self.exposure.port}"
        if not self.registers:
            raise ExposureError(f"simulator.modbus ({where}): no building and no home to serve")
        server = ModbusTcpServer(self._devices(), address=(self.exposure.host, self.exposure.port))
        try:
            await server.serve_forever(background=True)
        except (OSError, RuntimeError) as err:
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise ExposureError(
                f"simulator.modbus: cannot listen on {where} (TCP port {self.exposure.port} "
                f"in use or address not available): {err}"
            ) from err
        self._server = server
        _LOGGER.info(
            "Simulator meters on Modbus TCP %s (device ids %s)",
            where,
            ", ".join(str(i) for i in sorted(self.registers)),
        )

    async def stop(self) -> None:
        """Stop listening and drop the clients. Safe to call twice."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()  # type: ignore[no-untyped-call]
