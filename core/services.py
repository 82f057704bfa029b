"""The service registry: named actions (``domain.service``) for users, automations and the API.

A service has a handler and, optionally, a voluptuous schema for its data. Target keys
(``entity_id``, ``device_id``, ``area_id``, ``label_id``) are taken out of the data before the
schema runs and handed to the handler as a ``ServiceTarget``; entity services turn the target into
entities through the registries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import voluptuous as vol

from .auth.models import Permission
from .bus import EventBus, JobType, job_type_of
from .const import (
    ATTR_AREA_ID,
    ATTR_DEVICE_ID,
    ATTR_ENTITY_ID,
    ENTITY_MATCH_ALL,
    ENTITY_MATCH_NONE,
    EVENT_CALL_SERVICE,
    EVENT_SERVICE_REGISTERED,
    EVENT_SERVICE_REMOVED,
)
from .context import Context
from .errors import EdgewiseError, ServiceNotFoundError, ServiceValidationError

_LOGGER = logging.getLogger(__name__)

ATTR_LABEL_ID = "label_id"
_TARGET_KEYS = (ATTR_ENTITY_ID, ATTR_DEVICE_ID, ATTR_AREA_ID, ATTR_LABEL_ID)
_TARGET_KEY_SET = frozenset(_TARGET_KEYS)
_MATCH_WORDS = frozenset((ENTITY_MATCH_ALL, ENTITY_MATCH_NONE))
_NO_IDS: frozenset[str] = frozenset()

#: What a service may return when the caller asked for a response.
ServiceResponse = dict[str, Any]


class SupportsResponse(StrEnum):
    """Whether a service returns response data."""

    NONE = "none"
    OPTIONAL = "optional"
    ONLY = "only"


def _as_id_set(value: object, key: str, domain: str, service: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        if "," not in value:  # one id, the common case
            one = value.strip()
            if not one:
                return frozenset()
            return frozenset((one.lower() if key == ATTR_ENTITY_ID else one,))
        items: Iterable[object] = (part.strip() for part in value.split(","))
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        raise ServiceValidationError(
            f"{key} must be a string or a list of strings, got {type(value).__name__}",
            domain=domain,
            service=service,
            key=key,
        )
    result = set()
    for item in items:
        if not isinstance(item, str):
            raise ServiceValidationError(
                f"{key} must contain strings, got {item!r}", domain=domain, service=service, key=key
            )
        if item:
            result.add(item.lower() if key == ATTR_ENTITY_ID else item)
    return frozenset(result)


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """The entities, devices, areas and labels a service call is aimed at.

    ``match_all`` is set by ``entity_id: all``; ``match_none`` by ``entity_id: none``.
    """

    entity_ids: frozenset[str] = frozenset()
    device_ids: frozenset[str] = frozenset()
    area_ids: frozenset[str] = frozenset()
    label_ids: frozenset[str] = frozenset()
    match_all: bool = False

    @property
    def empty(self) -> bool:
        """Whether the call named no target at all."""
        return not (
            self.entity_ids or self.device_ids or self.area_ids or self.label_ids or self.match_all
        )

    def union(self, other: ServiceTarget) -> ServiceTarget:
        """The target aimed at what either of the two is aimed at."""
        return ServiceTarget(
            entity_ids=self.entity_ids | other.entity_ids,
            device_ids=self.device_ids | other.device_ids,
            area_ids=self.area_ids | other.area_ids,
            label_ids=self.label_ids | other.label_ids,
            match_all=self.match_all or other.match_all,
        )

    def as_dict(self) -> dict[str, list[str]]:
        """The JSON form, with only the keys that are set."""
        result: dict[str, list[str]] = {}
        if self.match_all:
            result[ATTR_ENTITY_ID] = [ENTITY_MATCH_ALL]
        elif self.entity_ids:
            result[ATTR_ENTITY_ID] = sorted(self.entity_ids)
        for key, ids in (
            (ATTR_DEVICE_ID, self.device_ids),
            (ATTR_AREA_ID, self.area_ids),
            (ATTR_LABEL_ID, self.label_ids),
        ):
            if ids:
                result[key] = sorted(ids)
        return result


#: The target of a call that names none (ServiceTarget is frozen, so one instance serves all).
NO_TARGET = ServiceTarget()


def extract_target(
    data: Mapping[str, Any], target: Mapping[str, Any] | None, domain: str, service: str
) -> tuple[dict[str, Any], ServiceTarget]:
    """Split the target keys out of ``data`` and ``target`` (both forms Home Assistant accepts).

    Returns:
        The data without target keys, and the merged target.

    Raises:
        ServiceValidationError: when a target key is not a string or list of strings.
    """
    in_data = not _TARGET_KEY_SET.isdisjoint(data)
    rest = {k: v for k, v in data.items() if k not in _TARGET_KEY_SET} if in_data else dict(data)
    if not in_data and not target:
        return rest, NO_TARGET
    ids: dict[str, frozenset[str]] = {}
    for source in (data if in_data else None, target):
        if not source:
            continue
        for key in _TARGET_KEYS:
            if key in source:
                found = _as_id_set(source[key], key, domain, service)
                ids[key] = ids[key] | found if key in ids else found
    if target and not _TARGET_KEY_SET.issuperset(target):
        unknown = sorted(set(target) - _TARGET_KEY_SET)
        raise ServiceValidationError(
            f"Unknown target key(s): {', '.join(unknown)}",
            domain=domain,
            service=service,
            key=f"target.{unknown[0]}",
        )
    entity_ids = ids.get(ATTR_ENTITY_ID, _NO_IDS)
    match_all = ENTITY_MATCH_ALL in entity_ids
    if match_all or ENTITY_MATCH_NONE in entity_ids:
        entity_ids = entity_ids - _MATCH_WORDS
    return rest, ServiceTarget(
        entity_ids=entity_ids,
        device_ids=ids.get(ATTR_DEVICE_ID, _NO_IDS),
        area_ids=ids.get(ATTR_AREA_ID, _NO_IDS),
        label_ids=ids.get(ATTR_LABEL_ID, _NO_IDS),
        match_all=match_all,
    )


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One call of a service: what was asked, of what, by whom."""

    domain: str
    service: str
    data: Mapping[str, Any]
    context: Context
    target: ServiceTarget = field(default_factory=ServiceTarget)
    return_response: bool = False


ServiceHandler = Callable[[ServiceCall], Awaitable[ServiceResponse | None] | ServiceResponse | None]


@dataclass(frozen=True, slots=True)
class Service:
    """A registered service: its handler, schema, whether it returns data, and who may call it.

    ``permission`` is what a user of the HTTP and WebSocket APIs needs to call it: ``CONTROL``
    (operators: operate equipment, run automations) or ``ADMIN`` (change the configuration:
    reloads, purges, adding points). Calls made by the runtime itself (automations, schedules)
    are not checked.
    """

    domain: str
    name: str
    handler: ServiceHandler
    schema: vol.Schema | None
    supports_response: SupportsResponse
    job_type: JobType
    description: str = ""
    permission: Permission = Permission.CONTROL


def _invalid_path(err: vol.Invalid) -> str | None:
    return ".".join(str(p) for p in err.path) if err.path else None


class ServiceRegistry:
    """Holds every service and runs calls to them.

    Must be used from the event loop.
    """

    def __init__(
        self,
        bus: EventBus,
        executor_job: Callable[[Callable[[], object]], Awaitable[object]],
        *,
        track: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
    ) -> None:
        self._bus = bus
        self._track = track
        self._executor_job = executor_job
        self._services: dict[str, dict[str, Service]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Service calls so far, valid or not (read by ``/metrics``).
        self.calls = 0

    def register(
        self,
        domain: str,
        service: str,
        handler: ServiceHandler,
        schema: vol.Schema | None = None,
        *,
        supports_response: SupportsResponse = SupportsResponse.NONE,
        description: str = "",
        permission: Permission = Permission.CONTROL,
    ) -> Callable[[], None]:
        """Register (or replace) ``domain.service``; fires ``service_registered``.

        Args:
            domain, service: the service's name.
            handler: runs each call (a coroutine function, a ``@callback`` or a plain function,
                which runs in the executor).
            schema: validates the call's data (its target keys taken out first).
            supports_response: whether it returns response data.
            description: one line for ``/api/services`` and the panel.
            permission: what a user of the APIs needs to call it: ``CONTROL`` (the default)
                for operating equipment, ``ADMIN`` for changing the configuration (reloads,
                purges, adding or removing points and devices).

        Returns:
            A function that removes the service (unless it was replaced since). When an
            integration registers it during its setup, its stop calls this function.

        Raises:
            ValueError: ``permission`` is neither ``CONTROL`` nor ``ADMIN``.
        """
        if permission not in (Permission.CONTROL, Permission.ADMIN):
            raise ValueError(
                f"Service {domain}.{service}: permission must be CONTROL or ADMIN, "
                f"not {permission.name}"
            )
        domain, service = domain.lower(), service.lower()
        registered = Service(
            domain,
            service,
            handler,
            schema,
            supports_response,
            job_type_of(handler),
            description,
            permission,
        )
        self._services.setdefault(domain, {})[service] = registered
        self._bus.fire(EVENT_SERVICE_REGISTERED, {"domain": domain, "service": service})

        def remove() -> None:
            if self._services.get(domain, {}).get(service) is registered:
                self.remove(domain, service)

        return remove if self._track is None else self._track(remove)

    def remove(self, domain: str, service: str) -> None:
        """Remove ``domain.service``; fires ``service_removed``.

        Raises:
            ServiceNotFoundError: when it is not registered.
        """
        domain, service = domain.lower(), service.lower()
        services = self._services.get(domain, {})
        if service not in services:
            raise ServiceNotFoundError(domain, service)
        del services[service]
        if not services:
            del self._services[domain]
        self._bus.fire(EVENT_SERVICE_REMOVED, {"domain": domain, "service": service})

    def has(self, domain: str, service: str) -> bool:
        """Whether ``domain.service`` is registered."""
        return service.lower() in self._services.get(domain.lower(), {})

    def get(self, domain: str, service: str) -> Service:
        """The registered service.

        Raises:
            ServiceNotFoundError: when it is not registered.
        """
        try:
            return self._services[domain.lower()][service.lower()]
        except KeyError:
            raise ServiceNotFoundError(domain, service) from None

    def services(self) -> dict[str, dict[str, Service]]:
        """Every service, by domain then name (a copy)."""
        return {domain: dict(services) for domain, services in self._services.items()}

    async def call(
        self,
        domain: str,
        service: str,
        data: Mapping[str, Any] | None = None,
        *,
        target: Mapping[str, Any] | ServiceTarget | None = None,
        context: Context | None = None,
        blocking: bool = True,
        return_response: bool = False,
    ) -> ServiceResponse | None:
        """Validate and run a service call.

        Args:
            domain, service: the service to call.
            data: its data; target keys may be given here or in ``target``.
            target: ``entity_id`` / ``device_id`` / ``area_id`` / ``label_id``, or a target
                parsed once beforehand with ``extract_target`` (for a call made many times).
            context: the caller's context; a new one when not given.
            blocking: wait for the handler to finish; when false, return once it is started.
            return_response: ask for the service's response data (requires ``blocking``).

        Returns:
            The handler's response when ``return_response`` was asked, else None.

        Raises:
            ServiceNotFoundError: the service is not registered.
            ServiceValidationError: the data or target does not fit, or a response was asked of
                a service that gives none (or not asked of one that only gives one).
            Whatever the handler raises.
        """
        self.calls += 1
        svc = self.get(domain, service)
        if return_response:
            if not blocking:
                raise ServiceValidationError(
                    "A non-blocking call cannot return a response",
                    domain=svc.domain,
                    service=svc.name,
                )
            if svc.supports_response is SupportsResponse.NONE:
                raise ServiceValidationError(
                    f"Service {svc.domain}.{svc.name} does not return a response",
                    domain=svc.domain,
                    service=svc.name,
                )
        elif svc.supports_response is SupportsResponse.ONLY:
            raise ServiceValidationError(
                f"Service {svc.domain}.{svc.name} only returns a response: call it with "
                "return_response",
                domain=svc.domain,
                service=svc.name,
            )
        if isinstance(target, ServiceTarget):
            rest, call_target = extract_target(data or {}, None, svc.domain, svc.name)
            call_target = target if call_target is NO_TARGET else call_target.union(target)
        else:
            rest, call_target = extract_target(data or {}, target, svc.domain, svc.name)
        if svc.schema is not None:
            try:
                rest = svc.schema(rest)
            except vol.Invalid as err:
                raise ServiceValidationError(
                    f"Invalid data for {svc.domain}.{svc.name}: {humanize(err)}",
                    domain=svc.domain,
                    service=svc.name,
                    key=_invalid_path(err),
                ) from None
        context = context if context is not None else Context()
        call = ServiceCall(svc.domain, svc.name, rest, context, call_target, return_response)
        bus = self._bus
        # With no listener, fire() only counts the event: do not build its data.
        bus.fire(
            EVENT_CALL_SERVICE,
            {
                "domain": svc.domain,
                "service": svc.name,
                "service_data": {**rest, **call_target.as_dict()},
            }
            if bus.has_listeners(EVENT_CALL_SERVICE)
            else None,
            context,
        )
        if not blocking:
            task = asyncio.get_running_loop().create_task(
                self._run_logged(svc, call), name=f"service[{svc.domain}.{svc.name}]"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return None
        if svc.job_type is JobType.CALLBACK:
            # Called here rather than through _run: one coroutine less on the hot path.
            response = svc.handler(call)
            if response is not None and isinstance(response, Awaitable):
                response = await response
        else:
            response = await self._run(svc, call)
        if not return_response:
            return None
        if response is not None and not isinstance(response, dict):
            raise EdgewiseError(
                f"Service {svc.domain}.{svc.name} returned {type(response).__name__}, not a dict"
            )
        return response

    async def _run(self, svc: Service, call: ServiceCall) -> ServiceResponse | None:
        if svc.job_type is JobType.COROUTINE:
            result = svc.handler(call)
            assert isinstance(result, Awaitable)  # noqa: S101 - job_type says so
            return await result
        if svc.job_type is JobType.CALLBACK:
            result = svc.handler(call)
            return await result if isinstance(result, Awaitable) else result
        blocking_result = await self._executor_job(lambda: svc.handler(call))
        return blocking_result if isinstance(blocking_result, dict) else None

    async def _run_logged(self, svc: Service, call: ServiceCall) -> None:
        try:
            await self._run(svc, call)
        except Exception:
            _LOGGER.exception("Error in service %s.%s", svc.domain, svc.name)


def humanize(err: vol.Invalid) -> str:
    """One line per voluptuous error, each with the key path it concerns."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    parts = []
    for error in errors:
        path = _invalid_path(error)
        parts.append(f"{error.msg} @ data['{path}']" if path else str(error.msg))
    return "; ".join(parts)
