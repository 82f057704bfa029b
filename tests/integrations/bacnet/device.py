"""A real bacpypes3 BACnet/IP device for the tests, in-process or run as a script.

Run as a script (``python device.py <host/prefix:port> <instance>``), it serves the standard objects
until killed; the namespace test starts it inside a network namespace that way.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterable
from typing import Any

from bacpypes3.app import Application
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.errors import ExecutionError
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryInputObject, BinaryValueObjectCmd
from bacpypes3.local.multistate import MultiStateOutputObject
from bacpypes3.primitivedata import ObjectIdentifier

from integrations.bacnet.client import priority_slots, wait_bound

DEVICE_HOST = "127.0.0.2"
CLIENT_HOST = "127.0.0.3"


def free_udp_port(host: str) -> int:
    """A UDP port on ``host`` that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class DeviceApplication(Application):  # type: ignore[misc]
    """A device whose behaviour a test can narrow: no RPM, refused writes or COV, counters."""

    rpm_enabled = True
    refuse_writes: frozenset[str] = frozenset()
    refuse_cov: frozenset[str] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribe_requests: list[str] = []
        self.rpm_requests = 0
        self.rp_requests = 0

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:
        if not self.rpm_enabled:
            # What a device without the service does: bacpypes3 rejects unrecognized-service.
            from bacpypes3.errors import UnrecognizedService

            raise UnrecognizedService("no ReadPropertyMultiple here")
        self.rpm_requests += 1
        await super().do_ReadPropertyMultipleRequest(apdu)

    async def do_ReadPropertyRequest(self, apdu: Any) -> None:
        self.rp_requests += 1
        await super().do_ReadPropertyRequest(apdu)

    async def do_WritePropertyRequest(self, apdu: Any) -> None:
        objid = apdu.objectIdentifier
        if f"{objid[0]},{objid[1]}" in self.refuse_writes:
            raise ExecutionError(errorClass="property", errorCode="writeAccessDenied")
        await super().do_WritePropertyRequest(apdu)

    async def do_SubscribeCOVRequest(self, apdu: Any) -> None:
        objid = apdu.monitoredObjectIdentifier
        key = f"{objid[0]},{objid[1]}"
        if key in self.refuse_cov:
            raise ExecutionError(errorClass="services", errorCode="covSubscriptionFailed")
        self.subscribe_requests.append(key)
        await super().do_SubscribeCOVRequest(apdu)


def standard_objects(points: int = 0) -> list[Any]:
    """The objects of the test device, plus ``points`` extra analog values (for the bench)."""
    objects: list[Any] = [
        AnalogValueObjectCmd(
            objectIdentifier=("analog-value", 1),
            objectName="Supply setpoint",
            description="Supply air temperature setpoint",
            presentValue=21.0,
            relinquishDefault=20.0,
            units="degreesCelsius",
            covIncrement=0.1,
        ),
        AnalogValueObjectCmd(
            objectIdentifier=("analog-value", 3),
            objectName="Locked setpoint",
            presentValue=5.0,
            relinquishDefault=5.0,
            units="percent",
            covIncrement=0.1,
        ),
        AnalogInputObject(
            objectIdentifier=("analog-input", 1),
            objectName="Supply temperature",
            description="Supply air temperature",
            presentValue=18.5,
            units="degreesCelsius",
            covIncrement=0.1,
        ),
        AnalogInputObject(
            objectIdentifier=("analog-input", 2),
            objectName="Return temperature",
            presentValue=24.0,
            units="degreesCelsius",
            covIncrement=0.1,
        ),
        BinaryInputObject(
            objectIdentifier=("binary-input", 1),
            objectName="Filter alarm",
            presentValue="inactive",
        ),
        BinaryValueObjectCmd(
            objectIdentifier=("binary-value", 1),
            objectName="Fan enable",
            presentValue="inactive",
            relinquishDefault="inactive",
        ),
        MultiStateOutputObject(
            objectIdentifier=("multi-state-output", 1),
            objectName="Mode",
            presentValue=1,
            numberOfStates=3,
            stateText=["Off", "Auto", "Manual"],
            relinquishDefault=1,
        ),
    ]
    for index in range(points):
        objects.append(
            AnalogValueObjectCmd(
                objectIdentifier=("analog-value", 1000 + index),
                objectName=f"Point {index}",
                presentValue=float(index),
                relinquishDefault=0.0,
                units="degreesCelsius",
            )
        )
    return objects


class TestDevice:
    """A real BACnet device on loopback that a test can stop, restart and change."""

    __test__ = False  # not a test class, whatever its name

    def __init__(
        self,
        instance: int = 1001,
        *,
        host: str = DEVICE_HOST,
        port: int | None = None,
        rpm: bool = True,
        refuse_writes: Iterable[str] = (),
        refuse_cov: Iterable[str] = (),
        extra_points: int = 0,
        prefix: int = 8,
        segmentation: bool = True,
    ) -> None:
        self.instance = instance
        self.host = host
        self.port = port or free_udp_port(host)
        self.rpm = rpm
        self.refuse_writes = frozenset(refuse_writes)
        self.refuse_cov = frozenset(refuse_cov)
        self.extra_points = extra_points
        self.prefix = prefix
        self.segmentation = segmentation
        self.app: DeviceApplication | None = None

    @property
    def address(self) -> str:
        """``host:port`` as the client reaches it."""
        return f"{self.host}:{self.port}"

    async def start(self) -> DeviceApplication:
        """Bind and serve (again); objects start from their initial values."""
        args = SimpleArgumentParser().parse_args(
            [
                "--name",
                f"Test device {self.instance}",
                "--instance",
                str(self.instance),
                "--address",
                f"{self.host}/{self.prefix}:{self.port}",
            ]
        )
        app = DeviceApplication.from_args(args)
        if not self.segmentation:
            # A small controller: 480-byte APDUs and no segmentation, as it says in its I-Am.
            app.device_object.segmentationSupported = "noSegmentation"
            app.device_object.maxApduLengthAccepted = 480
        app.rpm_enabled = self.rpm
        app.refuse_writes = self.refuse_writes
        app.refuse_cov = self.refuse_cov
        for obj in standard_objects(self.extra_points):
            app.add_object(obj)
        await wait_bound(app, 10.0)
        self.app = app
        return app

    def stop(self) -> None:
        """Stop answering (close the socket)."""
        if self.app is not None:
            self.app.close()
            self.app = None

    def obj(self, ref: str) -> Any:
        """The device's object ``type,instance``."""
        assert self.app is not None
        found = self.app.get_object_id(ObjectIdentifier(ref))
        assert found is not None, ref
        return found

    def set(self, ref: str, value: Any) -> None:
        """Change an object's present value on the device side."""
        self.obj(ref).presentValue = value

    def value(self, ref: str) -> Any:
        """An object's present value."""
        return self.obj(ref).presentValue

    def slots(self, ref: str) -> dict[int, Any]:
        """The occupied slots of an object's priority array."""
        return priority_slots(self.obj(ref).priorityArray)


async def _serve(address: str, instance: int, extra_points: int, rpm: bool) -> None:
    host_prefix, _, port = address.partition(":")
    host, _, prefix = host_prefix.partition("/")
    device = TestDevice(
        instance,
        host=host,
        port=int(port),
        prefix=int(prefix or 8),
        extra_points=extra_points,
        rpm=rpm,
    )
    await device.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # device.py <host/prefix:port> <instance> [<extra analog values> [no-rpm]]
    asyncio.run(
        _serve(
            sys.argv[1],
            int(sys.argv[2]),
            int(sys.argv[3]) if len(sys.argv) > 3 else 0,
            "no-rpm" not in sys.argv[4:],
        )
    )
