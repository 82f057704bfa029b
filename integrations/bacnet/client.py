"""The BACnet/IP wire: a bacpypes3 Application wrapped so that errors are ``DeviceError``s.

bacpypes3 reports a device's Error, Reject or Abort as ``ErrorRejectAbortNack``, which derives
from ``BaseException`` (``except Exception`` does not catch it), and sometimes returns it rather
than raising it. Every call here turns both into ``DeviceProtocolError``/``DeviceTimeout``, and
bounds every wait with the configured timeout, so the rest of the integration only ever sees
``DeviceError``.

Imported from ``edgewise_setup`` only: bacpypes3 is loaded when a site configures BACnet.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bacpypes3.apdu import (
    AbortPDU,
    ErrorRejectAbortNack,
    IAmRequest,
    ReadPropertyMultipleACK,
    ReadPropertyMultipleRequest,
    RejectPDU,
    SimpleAckPDU,
    SubscribeCOVRequest,
)
from bacpypes3.app import Application
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.basetypes import (
    ErrorType,
    PriorityValue,
    PropertyIdentifier,
    PropertyReference,
    ReadAccessSpecification,
    StatusFlags,
)
from bacpypes3.constructeddata import Array, SequenceOf
from bacpypes3.errors import ServicesError
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import (
    Atomic,
    Enumerated,
    Null,
    ObjectIdentifier,
)

from core import DeviceError, DeviceProtocolError, DeviceTimeout

from .schema import LocalDeviceConfig, ObjectRef

_LOGGER = logging.getLogger(__name__)

#: Abort/reject reasons that mean the request was too big for the device: ask for less.
TOO_BIG_REASONS = frozenset(
    {"segmentation-not-supported", "buffer-overflow", "apdu-too-long", "window-size-out-of-range"}
)
#: The reject a device sends for a service it does not implement (ReadPropertyMultiple).
UNRECOGNIZED_SERVICE = "unrecognized-service"

#: Seconds to wait for the UDP sockets to be bound (bacpypes3 retries once a second).
BIND_TIMEOUT = 10.0
#: Called with (property name, decoded value) for each value of a COV notification.
CovCallback = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class IAm:
    """A device that answered a Who-Is."""

    instance: int
    address: str
    max_apdu: int
    segmentation: str
    vendor_id: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, as the discovery service returns it."""
        return {
            "instance": self.instance,
            "address": self.address,
            "max_apdu": self.max_apdu,
            "segmentation": self.segmentation,
            "vendor_id": self.vendor_id,
        }


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One property of one object, read: a value, or the device's error for it."""

    object: ObjectRef
    property: str
    value: Any = None
    error: str | None = None


async def wait_bound(app: Application, within: float) -> None:
    """Wait until ``app``'s UDP sockets are bound.

    bacpypes3 binds in background tasks and retries forever when the address is not available
    (an interface not up yet at boot); a caller that must know whether it is listening waits
    here.

    Raises:
        OSError: not bound within ``within`` seconds (the address does not exist here).
    """
    tasks = []
    for link_layer in app.link_layers.values():
        server = getattr(link_layer, "server", None)
        # bacpypes3 keeps its binding tasks on the server and offers no public way to await them.
        tasks += list(getattr(server, "_transport_tasks", None) or [])
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=within)
    if pending:
        raise OSError(f"the address could not be bound within {within:g} s")


@functools.lru_cache(maxsize=4096)
def _object_id(obj: ObjectRef) -> ObjectIdentifier:
    return ObjectIdentifier(str(obj))


@functools.lru_cache(maxsize=256)
def _property_id(prop: str) -> PropertyIdentifier:
    return PropertyIdentifier(prop)


#: One request's read access specifications: (object, properties) in order.
ReadSpecs = tuple[tuple[ObjectRef, tuple[str, ...]], ...]
_READ_ACCESS_SPECS = SequenceOf(ReadAccessSpecification)


@functools.lru_cache(maxsize=1024)
def _read_access_specs(specs: ReadSpecs) -> Any:
    """The list of read access specifications of a ReadPropertyMultiple, built once.

    A poll asks for the same chunks every cycle; building bacpypes3's sequences (each element
    checked and cast) costs about as much as encoding them, so a chunk's list is kept and put
    into each new request (bacpypes3 encodes it without changing it).
    """
    return _READ_ACCESS_SPECS(
        [
            ReadAccessSpecification(
                objectIdentifier=_object_id(obj),
                listOfPropertyReferences=[
                    PropertyReference(propertyIdentifier=_property_id(prop)) for prop in props
                ],
            )
            for obj, props in specs
        ]
    )


@functools.lru_cache(maxsize=4096)
def _object_ref(objid: ObjectIdentifier) -> ObjectRef:
    return ObjectRef(str(objid[0]), int(objid[1]))


@functools.lru_cache(maxsize=256)
def _property_name(prop: PropertyIdentifier) -> str:
    return str(prop)


def reason_of(err: BaseException) -> str:
    """The device's reason for an Error/Reject/Abort, as BACnet names it (``unknown-object``)."""
    if isinstance(err, ErrorRejectAbortNack):
        try:
            return str(err.reason)
        except TypeError:
            return type(err).__name__
    return str(err) or type(err).__name__


def _device_error(err: BaseException, device: str, address: str | None) -> DeviceError:
    reason = reason_of(err)
    if isinstance(err, AbortPDU) and reason == "no-response":
        return DeviceTimeout(f"{device} did not answer", device=device, address=address)
    kind = "rejected" if isinstance(err, RejectPDU) else "refused"
    if isinstance(err, AbortPDU):
        kind = "aborted"
    return DeviceProtocolError(
        f"{device} {kind} the request: {reason}", device=device, address=address, code=reason
    )


def plain(value: Any) -> Any:
    """A bacpypes3 value as plain Python: numbers, strings (enumerations by name), lists."""
    if value is None or isinstance(value, Null):
        return None
    if isinstance(value, ErrorType):
        return None
    if isinstance(value, StatusFlags):
        return [name for name, bit in zip(_STATUS_FLAG_NAMES, value, strict=False) if bit]
    if isinstance(value, Enumerated):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, ObjectIdentifier):
        return f"{value[0]},{value[1]}"
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]},{value[1]}"
    if isinstance(value, list | Array):
        return [plain(item) for item in value]
    return str(value)


_STATUS_FLAG_NAMES = ("in-alarm", "fault", "overridden", "out-of-service")
_PRIORITY_CHOICES = (
    "real",
    "enumerated",
    "unsigned",
    "boolean",
    "integer",
    "double",
    "characterString",
)


def priority_slots(array: Sequence[PriorityValue]) -> dict[int, Any]:
    """The occupied slots of a priority array: priority (1-16) to the value held there."""
    slots: dict[int, Any] = {}
    for priority, slot in enumerate(array, start=1):
        if getattr(slot, "null", None) is not None:
            continue
        for choice in _PRIORITY_CHOICES:
            held = getattr(slot, choice, None)
            if held is not None:
                slots[priority] = plain(held)
                break
    return slots


class _Application(Application):  # type: ignore[misc]  # bacpypes3 has no type information
    """bacpypes3's Application, with COV notifications handed to the integration's callbacks.

    bacpypes3's own subscription context registers itself only after the subscription is
    acknowledged, so the device's first notification (sent right after the ack) can find no
    subscriber; and it renews on its own timer. The integration renews subscriptions on the
    runtime's scheduler instead, and registers its callback before subscribing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cov_callbacks: dict[tuple[Address, int], tuple[ObjectIdentifier, CovCallback]] = {}

    async def _notify(self, apdu: Any) -> bool:
        entry = self.cov_callbacks.get((apdu.pduSource, apdu.subscriberProcessIdentifier))
        if entry is None or entry[0] != apdu.monitoredObjectIdentifier:
            return False
        objid, callback = entry
        vendor_info = await self.get_vendor_info(device_address=apdu.pduSource)
        object_class = vendor_info.get_object_class(objid[0])
        for property_value in apdu.listOfValues:
            prop = property_value.propertyIdentifier
            kind = object_class.get_property_type(prop) if object_class else None
            if kind is None:
                continue
            try:
                value = property_value.value.cast_out(kind, null=issubclass(kind, Atomic))
            except Exception:  # a malformed notification: one value only
                _LOGGER.debug("Undecodable COV value %s of %s", prop, objid, exc_info=True)
                continue
            callback(str(prop), value)
        return True

    async def do_ConfirmedCOVNotificationRequest(self, apdu: Any) -> None:
        """Hand the values to the subscriber and acknowledge, or refuse an unknown one."""
        if not await self._notify(apdu):
            raise ServicesError(errorCode="unknownSubscription")
        await self.response(SimpleAckPDU(context=apdu))

    async def do_UnconfirmedCOVNotificationRequest(self, apdu: Any) -> None:
        """Hand the values to the subscriber, if any (unconfirmed: nothing to answer)."""
        await self._notify(apdu)


class BacnetClient:
    """Edgewise's BACnet/IP device on the network, and the requests it sends.

    Use it as an async context manager (or ``start``/``close``); must run on the event loop.
    """

    def __init__(self, local: LocalDeviceConfig, *, timeout: float) -> None:
        self.local = local
        self.timeout = timeout
        self._app: _Application | None = None
        self._next_process_id = 1
        # (vendor, object type, property) -> the datatype to decode it with.
        self._types: dict[tuple[Any, Any, Any], type | None] = {}

    async def __aenter__(self) -> BacnetClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def app(self) -> _Application:
        """The running bacpypes3 application.

        Raises:
            RuntimeError: before ``start`` or after ``close``.
        """
        if self._app is None:
            raise RuntimeError("The BACnet client is not started")
        return self._app

    async def start(self) -> None:
        """Bind the local device's UDP port and register with the BBMD when one is set.

        Raises:
            RuntimeError: started twice.
            OSError: the address cannot be bound.
        """
        if self._app is not None:
            raise RuntimeError("The BACnet client is already started")
        argv = [
            "--name",
            self.local.name,
            "--instance",
            str(self.local.instance),
            "--address",
            self.local.bind_address,
        ]
        if self.local.bbmd:
            argv += ["--foreign", self.local.bbmd, "--ttl", str(self.local.ttl)]
        args = SimpleArgumentParser().parse_args(argv)
        app = _Application.from_args(args)
        try:
            await wait_bound(app, max(self.timeout, BIND_TIMEOUT))
        except OSError:
            app.close()
            raise
        self._app = app
        _LOGGER.info(
            "BACnet device %s (%d) listening on %s%s",
            self.local.name,
            self.local.instance,
            self.local.bind_address,
            f", foreign device of {self.local.bbmd}" if self.local.bbmd else "",
        )

    def close(self) -> None:
        """Close the UDP socket. Safe to call twice."""
        if self._app is not None:
            self._app.close()
            self._app = None

    # --- discovery ----------------------------------------------------------------------------

    async def who_is(
        self,
        low: int | None = None,
        high: int | None = None,
        address: str | None = None,
        wait: float = 3.0,
    ) -> list[IAm]:
        """Send a Who-Is (global broadcast, or to ``address``) and collect the I-Ams.

        Args:
            low, high: the instance range asked for; both or neither.
            address: a device's ``host:port`` for a directed Who-Is; None broadcasts.
            wait: seconds to wait for answers.
        """
        destination = Address(address) if address else None
        future = self.app.who_is(low, high, address=destination, timeout=wait)
        try:
            async with asyncio.timeout(wait + 1.0):
                answers: list[IAmRequest] = await future
        except TimeoutError:
            answers = []
        found: dict[int, IAm] = {}
        for answer in answers or []:
            instance = int(answer.iAmDeviceIdentifier[1])
            found[instance] = IAm(
                instance=instance,
                address=str(answer.pduSource),
                max_apdu=int(answer.maxAPDULengthAccepted),
                segmentation=str(answer.segmentationSupported),
                vendor_id=int(answer.vendorID),
            )
        return [found[key] for key in sorted(found)]

    # --- reading --------------------------------------------------------------------------------

    async def _call(self, device: str, address: str | None, coro: Any) -> Any:
        """Await a bacpypes3 request with the timeout; turn its failures into DeviceErrors."""
        try:
            async with asyncio.timeout(self.timeout):
                result = await coro
        except TimeoutError:
            raise DeviceTimeout(
                f"{device} did not answer within {self.timeout:g} s", device=device, address=address
            ) from None
        except ErrorRejectAbortNack as err:
            raise _device_error(err, device, address) from None
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            # bacpypes3 raises these for a property or value it cannot encode or decode.
            raise DeviceProtocolError(
                f"{device}: {err}", device=device, address=address, code=type(err).__name__
            ) from err
        if isinstance(result, ErrorRejectAbortNack):
            raise _device_error(result, device, address)
        return result

    async def read(self, address: str, obj: ObjectRef | str, prop: str) -> Any:
        """Read one property (ReadProperty); returns bacpypes3's decoded value.

        Raises:
            DeviceTimeout: no answer.
            DeviceProtocolError: the device refused (``unknown-object``, ``unknown-property``).
        """
        where = f"{obj}.{prop}"
        return await self._call(
            address, where, self.app.read_property(Address(address), str(obj), prop)
        )

    async def read_multiple(
        self, address: str, specs: Sequence[tuple[ObjectRef, Sequence[str]]]
    ) -> list[ReadResult]:
        """Read several properties of several objects in one ReadPropertyMultiple.

        Returns:
            One result per property asked for, in order; a property the device could not read
            carries its error instead of a value.

        Raises:
            DeviceTimeout: no answer.
            DeviceProtocolError: the device refused the whole request (``code`` says why:
                ``unrecognized-service`` when it has no RPM, a size reason when it was too big).
        """
        key: ReadSpecs = tuple((obj, tuple(props)) for obj, props in specs)
        request = ReadPropertyMultipleRequest(
            listOfReadAccessSpecs=_read_access_specs(key), destination=Address(address)
        )
        answer = await self._call(address, None, self.app.request(request))
        if not isinstance(answer, ReadPropertyMultipleACK):
            raise DeviceProtocolError(
                f"{address} answered a ReadPropertyMultiple with {type(answer).__name__}",
                device=address,
                address=address,
                code="unexpected-answer",
            )
        vendor_info = await self.app.get_vendor_info(device_address=request.pduDestination)
        results: list[ReadResult] = []
        for access_result in answer.listOfReadAccessResults:
            objid = access_result.objectIdentifier
            ref = _object_ref(objid)
            for element in access_result.listOfResults:
                prop = element.propertyIdentifier
                read_result = element.readResult
                if read_result.propertyAccessError is not None:
                    error = str(read_result.propertyAccessError.errorCode)
                    results.append(ReadResult(ref, _property_name(prop), error=error))
                    continue
                # No array index is asked for, so an array comes back whole.
                kind = self._property_type(vendor_info, objid[0], prop)
                value = None
                if kind is not None:
                    try:
                        value = read_result.propertyValue.cast_out(kind)
                    except (ValueError, TypeError, KeyError, AttributeError) as err:
                        # One value the device sent malformed: that property, not the request.
                        _LOGGER.debug("Undecodable %s of %s: %s", prop, objid, err)
                        results.append(ReadResult(ref, _property_name(prop), error="undecodable"))
                        continue
                results.append(ReadResult(ref, _property_name(prop), value=value))
        return results

    def _property_type(self, vendor_info: Any, object_type: Any, prop: Any) -> type | None:
        """The datatype to decode a property of an object type with (known ones kept)."""
        key = (vendor_info.vendor_identifier, object_type, prop)
        try:
            return self._types[key]
        except KeyError:
            pass
        object_class = vendor_info.get_object_class(object_type)
        kind = object_class.get_property_type(prop) if object_class is not None else None
        self._types[key] = kind
        return kind

    # --- writing --------------------------------------------------------------------------------

    async def write(self, address: str, obj: ObjectRef, value: Any, priority: int | None) -> None:
        """Write the present value at ``priority``; ``None`` as value relinquishes the slot.

        Raises:
            DeviceTimeout, DeviceProtocolError: as for reads (``write-access-denied``...).
        """
        payload = Null(()) if value is None else value
        await self._call(
            address,
            str(obj),
            self.app.write_property(
                Address(address), str(obj), "present-value", payload, priority=priority
            ),
        )

    # --- change of value ----------------------------------------------------------------------

    def new_process_id(self) -> int:
        """A subscriber process identifier not used before by this client."""
        process_id = self._next_process_id
        self._next_process_id = self._next_process_id % 4194303 + 1
        return process_id

    async def subscribe_cov(  # noqa: PLR0917 - the SubscribeCOV request's own parameters
        self,
        address: str,
        obj: ObjectRef,
        process_id: int,
        confirmed: bool,
        lifetime: int,
        callback: CovCallback,
    ) -> None:
        """Subscribe (or renew) to changes of ``obj``; ``callback`` gets each value notified.

        Raises:
            DeviceTimeout, DeviceProtocolError: no answer, or the device refused
                (``cov-subscription-failed``); the callback is then unregistered.
        """
        app = self.app
        key = (Address(address), process_id)
        objid = ObjectIdentifier(str(obj))
        app.cov_callbacks[key] = (objid, callback)
        request = SubscribeCOVRequest(
            subscriberProcessIdentifier=process_id,
            monitoredObjectIdentifier=objid,
            issueConfirmedNotifications=confirmed,
            lifetime=lifetime,
            destination=Address(address),
        )
        try:
            await self._call(address, str(obj), app.request(request))
        except DeviceError:
            app.cov_callbacks.pop(key, None)
            raise

    async def unsubscribe_cov(self, address: str, obj: ObjectRef, process_id: int) -> None:
        """Cancel a subscription; a device that does not answer is not waited for again."""
        if self._app is None:
            return
        self._app.cov_callbacks.pop((Address(address), process_id), None)
        request = SubscribeCOVRequest(
            subscriberProcessIdentifier=process_id,
            monitoredObjectIdentifier=ObjectIdentifier(str(obj)),
            destination=Address(address),
        )
        try:
            await self._call(address, str(obj), self._app.request(request))
        except DeviceError as err:
            _LOGGER.debug("Cancelling the COV subscription of %s failed: %s", obj, err)
