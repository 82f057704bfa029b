"""The devices: reading their points (RPM with fallback, COV), their connectivity, and writes.

One ``DeviceLink`` per remote device owns its address, what it supports (ReadPropertyMultiple,
how much per request), its points' last values, its COV subscriptions and a lock that puts its
writes on the wire one at a time. ``BacnetHub`` owns the links, the client and the write-command
log. Everything runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core import (
    Context,
    DeviceError,
    DeviceProtocolError,
    DeviceTimeout,
    Runtime,
    WriteOutOfBounds,
)
from core.metrics import get_metrics

from .client import TOO_BIG_REASONS, UNRECOGNIZED_SERVICE, BacnetClient, ReadResult, plain
from .client import priority_slots as decode_priority_array
from .commands import WriteCommand, WriteCommandLog
from .const import (
    ANALOG_TYPES,
    BINARY_TYPES,
    COV_RENEW_FRACTION,
    MULTISTATE_TYPES,
    UNIT_SYMBOLS,
    CovMode,
    Requester,
)
from .schema import DeviceConfig, ObjectRef, PointConfig

if TYPE_CHECKING:
    from .entities import BacnetConnectivity, BacnetPointEntity

_LOGGER = logging.getLogger(__name__)

PROP_PV = "present-value"
PROP_FLAGS = "status-flags"
#: Properties read once per point to describe it (as far as the device has them).
DESCRIBE_PROPS = {
    "analog": ("object-name", "description", "units"),
    "other": ("object-name", "description"),
}
#: A rough size of one property in a ReadPropertyMultiple answer, to fit an unsegmented APDU.
_BYTES_PER_PROPERTY = 16


@dataclass(slots=True, eq=False)
class Point:
    """A configured point and what the integration last learned of it."""

    config: PointConfig
    device: DeviceLink
    picked: bool = False
    value: Any = None
    status_flags: list[str] = field(default_factory=list)
    error: str | None = None
    described: bool = False
    object_name: str | None = None
    description: str | None = None
    device_unit: str | None = None
    state_text: list[str] = field(default_factory=list)
    priority_slots: dict[int, Any] | None = None
    relinquish_default: Any = None
    cov_active: bool = False
    cov_refused: str | None = None
    cov_process_id: int | None = None
    cov_cancel: Callable[[], None] | None = None
    entity: BacnetPointEntity | None = None

    @property
    def ref(self) -> ObjectRef:
        """The point's object."""
        return self.config.object

    @property
    def available(self) -> bool:
        """Whether the device answers, the point was read, and the device reports no fault."""
        return (
            bool(self.device.online)
            and self.error is None
            and self.value is not None
            and "fault" not in self.status_flags
        )

    @property
    def unit(self) -> str | None:
        """The configured unit, else the device's own, as a symbol where one is known."""
        if self.config.unit is not None:
            return self.config.unit
        if self.device_unit is None:
            return None
        return UNIT_SYMBOLS.get(self.device_unit, self.device_unit) or None

    def refresh(self) -> None:
        """Write the entity's state again, if it is added."""
        if self.entity is not None and self.entity.added:
            self.entity.write_state()


class DeviceLink:
    """One remote device: reading, subscribing and writing its points."""

    def __init__(self, hub: BacnetHub, config: DeviceConfig) -> None:
        self.hub = hub
        self.config = config
        self.address: str | None = config.address
        self.online: bool | None = None
        self.rpm: bool | None = None if config.max_per_request else False
        self.max_apdu: int | None = None
        self.segmentation: str | None = None
        self.vendor_id: int | None = None
        self.points: dict[ObjectRef, Point] = {}
        self.requests = 0
        self.last_error: str | None = None
        self.connectivity: BacnetConnectivity | None = None
        self._chunk = config.max_per_request
        self._capabilities_asked = False
        self._metric_label = str(config.instance)
        self._write_lock = asyncio.Lock()
        self._poll_locks: dict[str, asyncio.Lock] = {}

    def count_request(self) -> None:
        """Count one request sent to the device (for the benchmark and ``/metrics``)."""
        self.requests += 1
        self.hub.metrics.requests.labels(device=self._metric_label).inc()

    @property
    def name(self) -> str:
        """The device's configured name."""
        return self.config.name

    @property
    def label(self) -> str:
        """How errors name the device."""
        return f"{self.config.name} ({self.config.instance})"

    def add_point(self, config: PointConfig, *, picked: bool = False) -> Point:
        """Add a point to the device (not yet read)."""
        point = Point(config, self, picked=picked)
        self.points[config.object] = point
        return point

    def groups(self) -> dict[str, float]:
        """The poll groups in use and their intervals in seconds."""
        groups = {point.config.group for point in self.points.values()} or {"default"}
        return {group: self.config.interval_of(group) for group in sorted(groups)}

    # --- connectivity ---------------------------------------------------------------------------

    def _set_online(self, online: bool, error: str | None = None) -> None:
        was = self.online
        self.online = online
        self.last_error = error
        self.hub.metrics.online.labels(device=self._metric_label).set(1 if online else 0)
        if was == online:
            return
        if online:
            if was is False:
                _LOGGER.info("BACnet device %s answers again", self.label)
            self.hub.runtime.create_task(
                self.subscribe_cov(), name=f"bacnet[{self.config.instance}].cov"
            )
        else:
            _LOGGER.warning("BACnet device %s is unavailable: %s", self.label, error)
            for point in self.points.values():
                point.cov_active = False
        for point in self.points.values():
            point.refresh()
        if self.connectivity is not None and self.connectivity.added:
            self.connectivity.write_state()

    async def resolve(self) -> str:
        """The device's address: configured, else found with a Who-Is for its instance.

        Also learns the device's maximum APDU and segmentation from its I-Am.

        Raises:
            DeviceTimeout: no device with the instance answered.
        """
        instance = self.config.instance
        answers = await self.hub.client.who_is(
            instance, instance, address=self.address, wait=min(self.hub.client.timeout, 3.0)
        )
        self.count_request()
        if answers:
            answer = answers[0]
            self.address = self.address or answer.address
            self.max_apdu = answer.max_apdu
            self.segmentation = answer.segmentation
            self.vendor_id = answer.vendor_id
        if self.address is None:
            raise DeviceTimeout(
                f"No device with instance {instance} answered a Who-Is", device=self.label
            )
        return self.address

    # --- reading --------------------------------------------------------------------------------

    def _chunk_size(self) -> int:
        """Properties per ReadPropertyMultiple: configured, bounded by an unsegmented APDU."""
        size = self._chunk
        if self.segmentation is not None and self.segmentation == "no-segmentation":
            size = min(size, max(1, (self.max_apdu or 480) // _BYTES_PER_PROPERTY))
        return max(1, size)

    async def read_specs(
        self, specs: Sequence[tuple[ObjectRef, Sequence[str]]]
    ) -> dict[tuple[ObjectRef, str], ReadResult]:
        """Read every property asked for, with as few requests as the device allows.

        ReadPropertyMultiple in chunks while the device takes it; a device that rejects the
        service is read one ReadProperty at a time from then on, and a request too big for it
        is split. A property the device cannot read comes back with its error.

        Raises:
            DeviceTimeout: the device did not answer (it is then offline).
        """
        if self.max_apdu is None and not self._capabilities_asked:
            # A configured address skips discovery; one directed Who-Is still tells the
            # device's maximum APDU and segmentation, which size the requests.
            self._capabilities_asked = True
            await self.resolve()
        address = self.address or await self.resolve()
        results: dict[tuple[ObjectRef, str], ReadResult] = {}
        pending = [(obj, prop) for obj, props in specs for prop in props]
        while pending and self.rpm is not False:
            chunk = pending[: self._chunk_size()]
            grouped: dict[ObjectRef, list[str]] = {}
            for obj, prop in chunk:
                grouped.setdefault(obj, []).append(prop)
            try:
                self.count_request()
                answer = await self.hub.client.read_multiple(address, list(grouped.items()))
            except DeviceProtocolError as err:
                if err.code == UNRECOGNIZED_SERVICE:
                    _LOGGER.info(
                        "%s does not support ReadPropertyMultiple; reading one property at a time",
                        self.label,
                    )
                    self.rpm = False
                    break
                if err.code in TOO_BIG_REASONS and len(chunk) > 1:
                    self._chunk = max(1, len(chunk) // 2)
                    _LOGGER.info("%s: %s; %d per request now", self.label, err, self._chunk)
                    continue
                # Another refusal of the whole request (an unknown object in it): read the
                # chunk property by property, so that one bad point does not hide the others.
                for obj, prop in chunk:
                    results[(obj, prop)] = await self._read_one(address, obj, prop)
                pending = pending[len(chunk) :]
                continue
            self.rpm = True
            for result in answer:
                results[(result.object, result.property)] = result
            pending = pending[len(chunk) :]
        for obj, prop in pending:
            results[(obj, prop)] = await self._read_one(address, obj, prop)
        return results

    async def _read_one(self, address: str, obj: ObjectRef, prop: str) -> ReadResult:
        self.count_request()
        try:
            value = await self.hub.client.read(address, obj, prop)
        except DeviceProtocolError as err:
            return ReadResult(obj, prop, error=str(err.code))
        return ReadResult(obj, prop, value=value)

    async def poll(self, group: str | None = None, *, requested: bool = False) -> None:
        """Read the present value and status flags of the points of ``group`` (all when None).

        Points kept current by COV are left out. A device that does not answer goes offline
        (its entities unavailable); one that answers again comes back. A scheduled poll that
        finds the previous one of its group still running is skipped; a ``requested`` one (a
        service call, a point just picked) waits for it and then reads.
        """
        lock = self._poll_locks.setdefault(group or "*", asyncio.Lock())
        if lock.locked() and not requested:
            _LOGGER.debug("%s: poll of %s still running; skipped", self.label, group)
            return
        async with lock:
            started = time.perf_counter()
            await self._poll(group)
            self.hub.metrics.poll_seconds.labels(device=self._metric_label).observe(
                time.perf_counter() - started
            )

    async def _poll(self, group: str | None) -> None:
        points = [
            p
            for p in self.points.values()
            if (group is None or p.config.group == group) and not p.cov_active
        ]
        undescribed = [p for p in self.points.values() if not p.described]
        specs: list[tuple[ObjectRef, Sequence[str]]] = [
            (p.ref, (PROP_PV, PROP_FLAGS)) for p in points
        ]
        for point in undescribed:
            specs.append((point.ref, _describe_props(point.ref)))
        if not specs:
            # Nothing to read in this group (all COV): a heartbeat keeps connectivity honest.
            specs = [(ObjectRef("device", self.config.instance), ("system-status",))]
        try:
            results = await self.read_specs(specs)
        except DeviceError as err:
            self._set_online(False, str(err))
            return
        self._set_online(True)
        for point in undescribed:
            _apply_description(point, results)
        for point in points:
            _apply_values(point, results)
        for point in {*points, *undescribed}:
            point.refresh()

    # --- change of value ------------------------------------------------------------------------

    async def subscribe_cov(self) -> None:
        """Subscribe to every COV point not yet subscribed; refused ones stay polled."""
        for point in list(self.points.values()):
            if point.config.cov is not CovMode.NONE and not point.cov_active:
                await self._subscribe(point)

    async def _subscribe(self, point: Point) -> None:
        if point.cov_refused is not None or self.online is not True or self.address is None:
            return
        client = self.hub.client
        if point.cov_process_id is None:
            point.cov_process_id = client.new_process_id()
        lifetime = self.config.cov_lifetime
        try:
            self.count_request()
            await client.subscribe_cov(
                self.address,
                point.ref,
                point.cov_process_id,
                point.config.cov is CovMode.CONFIRMED,
                lifetime,
                lambda prop, value: self._on_cov(point, prop, value),
            )
        except DeviceProtocolError as err:
            point.cov_refused = str(err.code)
            point.cov_active = False
            _LOGGER.warning(
                "%s refused a COV subscription to %s (%s); polling it instead",
                self.label,
                point.ref,
                err.code,
            )
            point.refresh()
            return
        except DeviceError as err:
            point.cov_active = False
            _LOGGER.debug("COV subscription to %s of %s failed: %s", point.ref, self.label, err)
            return
        point.cov_active = True
        self._arm_renewal(point, lifetime)
        point.refresh()

    def _arm_renewal(self, point: Point, lifetime: int) -> None:
        if point.cov_cancel is not None:
            point.cov_cancel()
        scheduler = self.hub.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - the runtime starts it before integrations
        when = scheduler.clock.now() + timedelta(seconds=lifetime * COV_RENEW_FRACTION)

        async def renew(_due: object) -> None:
            point.cov_cancel = None
            point.cov_active = False
            await self._subscribe(point)

        point.cov_cancel = scheduler.at(
            when, renew, name=f"bacnet[{self.config.instance}].cov_renew[{point.ref}]"
        )

    def _on_cov(self, point: Point, prop: str, value: Any) -> None:
        if prop == PROP_PV:
            point.value = plain(value)
            point.error = None
        elif prop == PROP_FLAGS:
            point.status_flags = plain(value) or []
        else:
            return
        point.refresh()

    async def unsubscribe_all(self) -> None:
        """Cancel every COV subscription (at shutdown)."""
        for point in self.points.values():
            if point.cov_cancel is not None:
                point.cov_cancel()
                point.cov_cancel = None
            if point.cov_active and self.address is not None and point.cov_process_id:
                point.cov_active = False
                await self.hub.client.unsubscribe_cov(self.address, point.ref, point.cov_process_id)

    # --- writing --------------------------------------------------------------------------------

    async def read_priority_array(self, point: Point) -> dict[int, Any]:
        """Read the point's priority array (and relinquish default); who holds it, by priority.

        Raises:
            DeviceError: the device did not answer or has no priority array for the object.
        """
        address = self.address or await self.resolve()
        client = self.hub.client
        self.count_request()
        array = await client.read(address, point.ref, "priority-array")
        point.priority_slots = decode_priority_array(array)
        try:
            self.count_request()
            point.relinquish_default = plain(
                await client.read(address, point.ref, "relinquish-default")
            )
        except DeviceProtocolError:
            point.relinquish_default = None
        return point.priority_slots

    async def write(  # noqa: PLR0917 - one argument per column of the write-command queue
        self,
        point: Point,
        value: Any,
        priority: int,
        action: str,
        context: Context,
        requested_by: Requester,
    ) -> WriteCommand:
        """Write ``value`` (None relinquishes) at ``priority`` through the write-command queue.

        The command is recorded pending, checked (writable, priority, bounds: refused before the
        wire), run when the device's earlier writes are done, and recorded completed or failed.
        The present value and priority array are read back afterwards.

        Raises:
            WriteOutOfBounds: the value or priority is not allowed; nothing was sent.
            DeviceError: the device refused or did not answer.
        """
        log: WriteCommandLog = self.hub.commands
        entity_id = point.entity.entity_id if point.entity is not None else str(point.ref)
        command = log.create(
            entity_id,
            self.config.instance,
            str(point.ref),
            action,
            value,
            priority,
            context,
            requested_by,
        )
        try:
            wire_value = self._check(point, value, priority)
            async with self._write_lock:
                log.executing(command)
                address = self.address or await self.resolve()
                self.count_request()
                await self.hub.client.write(address, point.ref, wire_value, priority)
        except DeviceError as err:
            log.finished(command, str(err))
            self.hub.metrics.writes.labels(status="failed").inc()
            if isinstance(err, DeviceTimeout):
                self._set_online(False, str(err))
            raise
        log.finished(command)
        self.hub.metrics.writes.labels(status="completed").inc()
        await self._read_back(point)
        return command

    def _check(self, point: Point, value: Any, priority: int) -> Any:
        """The value to put on the wire, or WriteOutOfBounds naming what is not allowed."""
        config = point.config
        where = str(point.ref)
        if not config.writable:
            raise WriteOutOfBounds(
                f"{where} of {self.label} is not writable (writable: false)",
                device=self.label,
                address=where,
            )
        if not 1 <= priority <= 16 or priority < self.config.min_priority:
            raise WriteOutOfBounds(
                f"priority {priority} is not allowed for {where} of {self.label}: the most "
                f"urgent allowed is {self.config.min_priority}",
                device=self.label,
                address=where,
            )
        if value is None:
            return None
        kind = point.ref.type
        if kind in BINARY_TYPES:
            return "active" if value in (True, 1, "active", "on") else "inactive"
        if kind in MULTISTATE_TYPES:
            state = int(value)
            count = len(point.state_text) or None
            if state < 1 or (count is not None and state > count):
                raise WriteOutOfBounds(
                    f"state {state} is outside 1 to {count or 'the number of states'} for "
                    f"{where} of {self.label}",
                    device=self.label,
                    address=where,
                )
            return state
        number = float(value)
        low = config.minimum if config.minimum is not None else float("-inf")
        high = config.maximum if config.maximum is not None else float("inf")
        if not low <= number <= high:
            raise WriteOutOfBounds(
                f"value {number:g} for {where} of {self.label} is outside its bounds "
                f"{config.minimum} to {config.maximum}",
                device=self.label,
                address=where,
            )
        return number

    async def _read_back(self, point: Point) -> None:
        """Read the present value and the priority array after a write (best effort)."""
        specs: list[tuple[ObjectRef, Sequence[str]]] = [(point.ref, (PROP_PV, PROP_FLAGS))]
        if point.ref.type not in {"analog-input", "binary-input", "multi-state-input"}:
            specs[0] = (point.ref, (PROP_PV, PROP_FLAGS, "priority-array"))
        try:
            results = await self.read_specs(specs)
        except DeviceError as err:
            _LOGGER.debug("Reading %s back after a write failed: %s", point.ref, err)
            return
        _apply_values(point, results)
        array = results.get((point.ref, "priority-array"))
        if array is not None and array.error is None and array.value is not None:
            point.priority_slots = decode_priority_array(array.value)
        point.refresh()


def _describe_props(ref: ObjectRef) -> tuple[str, ...]:
    if ref.type in ANALOG_TYPES:
        return DESCRIBE_PROPS["analog"]
    if ref.type in MULTISTATE_TYPES:
        return (*DESCRIBE_PROPS["other"], "state-text")
    return DESCRIBE_PROPS["other"]


def _apply_description(point: Point, results: dict[tuple[ObjectRef, str], ReadResult]) -> None:
    ref = point.ref
    point.described = True
    name = results.get((ref, "object-name"))
    if name is not None and name.error is None:
        point.object_name = plain(name.value)
    description = results.get((ref, "description"))
    if description is not None and description.error is None:
        point.description = plain(description.value)
    units = results.get((ref, "units"))
    if units is not None and units.error is None:
        point.device_unit = plain(units.value)
    states = results.get((ref, "state-text"))
    if states is not None and states.error is None and states.value is not None:
        point.state_text = [str(s) for s in plain(states.value)]
    if point.entity is not None:
        point.entity.described()


def _apply_values(point: Point, results: dict[tuple[ObjectRef, str], ReadResult]) -> None:
    value = results.get((point.ref, PROP_PV))
    if value is None:
        return
    if value.error is not None:
        if point.error != value.error:
            _LOGGER.warning(
                "%s of %s cannot be read: %s", point.ref, point.device.label, value.error
            )
        point.error = value.error
        return
    point.error = None
    point.value = plain(value.value)
    flags = results.get((point.ref, PROP_FLAGS))
    if flags is not None and flags.error is None:
        point.status_flags = plain(flags.value) or []


class HubMetrics:
    """The integration's figures on ``/metrics``, labelled by device instance."""

    def __init__(self, runtime: Runtime) -> None:
        metrics = get_metrics(runtime)
        self.poll_seconds = metrics.histogram(
            "bacnet_poll_seconds", "Time to poll one group of a BACnet device", ["device"]
        )
        self.requests = metrics.counter(
            "bacnet_requests", "Confirmed requests sent to a BACnet device", ["device"]
        )
        self.online = metrics.gauge(
            "bacnet_device_online", "Whether a BACnet device answers (1) or not (0)", ["device"]
        )
        self.writes = metrics.counter(
            "bacnet_write_commands", "Write commands to BACnet points, by outcome", ["status"]
        )


class BacnetHub:
    """The integration's state: the client, the device links and the write-command log."""

    def __init__(self, runtime: Runtime, client: BacnetClient, commands: WriteCommandLog) -> None:
        self.runtime = runtime
        self.metrics = HubMetrics(runtime)
        self.client = client
        self.commands = commands
        self.links: dict[int, DeviceLink] = {}
        self.cancels: list[Callable[[], None]] = []
        self._polled: set[tuple[int, str]] = set()

    def link(self, config: DeviceConfig) -> DeviceLink:
        """The link of a device, made on first use."""
        link = self.links.get(config.instance)
        if link is None:
            link = self.links[config.instance] = DeviceLink(self, config)
        return link

    def find_point(self, entity_id: str) -> Point | None:
        """The point behind an entity id, if it is a BACnet point."""
        for link in self.links.values():
            for point in link.points.values():
                entity = point.entity
                if entity is not None and entity.added and entity.entity_id == entity_id:
                    return point
        return None

    def device(self, key: int | str) -> DeviceLink | None:
        """A device by instance, or by configured name (case-insensitive)."""
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            return self.links.get(int(key))
        for link in self.links.values():
            if link.name.lower() == str(key).lower():
                return link
        return None

    def start_polling(self, links: Iterable[DeviceLink]) -> None:
        """Poll ``links`` now, and each poll group not yet polled at its interval from now on.

        Called at setup, and again when a picked point joins a device (perhaps a new group).
        """
        scheduler = self.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - the runtime starts it before integrations
        for link in links:
            self.runtime.create_task(
                link.poll(requested=True), name=f"bacnet[{link.config.instance}].poll"
            )
            for group, seconds in link.groups().items():
                if (link.config.instance, group) in self._polled:
                    continue
                self._polled.add((link.config.instance, group))

                async def poll(_due: object, link: DeviceLink = link, group: str = group) -> None:
                    await link.poll(group)

                self.cancels.append(
                    scheduler.every(
                        timedelta(seconds=seconds),
                        poll,
                        name=f"bacnet[{link.config.instance}].poll[{group}]",
                    )
                )

    async def close(self) -> None:
        """Stop polling, cancel the COV subscriptions, and close the socket."""
        while self.cancels:
            self.cancels.pop()()
        for link in self.links.values():
            try:
                async with asyncio.timeout(2.0):
                    await link.unsubscribe_all()
            except TimeoutError:
                _LOGGER.debug("Cancelling the COV subscriptions of %s timed out", link.label)
        self.client.close()
