"""The ``schedule`` item schema, entity and services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

import voluptuous as vol

from core import Runtime, ServiceCall, ServiceResponse, SupportsResponse, callback, validators
from core.collection import BASE_ITEM_FIELDS, CONF_NAME, CollectionEntity, Item
from core.const import STATE_OFF, STATE_ON
from core.entity import StateType
from core.entity_platform import entities_for_call

DOMAIN: Final = "schedule"

CONF_FROM: Final = "from"
CONF_TO: Final = "to"
CONF_DATA: Final = "data"
ATTR_NEXT_EVENT: Final = "next_event"
SERVICE_GET_SCHEDULE: Final = "get_schedule"

#: The day keys, Monday first (``date.weekday()`` order).
DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
END_OF_DAY: Final = "24:00:00"


def _wall_time(value: object) -> str:
    """A time of day ``HH:MM[:SS]``, normalised to ``HH:MM:SS``."""
    if isinstance(value, time):
        return value.replace(microsecond=0).isoformat()
    try:
        return time.fromisoformat(validators.string(value).strip()).isoformat()
    except ValueError:
        raise vol.Invalid(f"expected a time HH:MM[:SS], got {value!r}") from None


def _end_time(value: object) -> str:
    """Like ``_wall_time``, and ``24:00``/``24:00:00`` for the end of the day."""
    if isinstance(value, str) and value.strip() in ("24:00", END_OF_DAY):
        return END_OF_DAY
    return _wall_time(value)


def _blocks_in_order(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort a day's blocks; each must end after it starts and none may overlap the next."""
    ordered = sorted(blocks, key=lambda block: block[CONF_FROM])
    previous_end: str | None = None
    for index, block in enumerate(ordered):
        if block[CONF_FROM] >= block[CONF_TO]:
            raise vol.Invalid(
                f"block from {block[CONF_FROM]} to {block[CONF_TO]} does not end after it starts",
                [index],
            )
        if previous_end is not None and block[CONF_FROM] < previous_end:
            raise vol.Invalid(
                f"block from {block[CONF_FROM]} overlaps the one before it (until {previous_end})",
                [index],
            )
        previous_end = block[CONF_TO]
    return ordered


BLOCK_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_FROM): _wall_time,
        vol.Required(CONF_TO): _end_time,
        vol.Optional(CONF_DATA): vol.Schema({str: vol.Any(bool, str, int, float)}),
    }
)

_DAY_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(day, default=list): vol.All(
        validators.ensure_list, [BLOCK_SCHEMA], _blocks_in_order
    )
    for day in DAYS
}

# A schedule needs a name. Markers compare equal by key, so the optional one is left out rather
# than overridden (a dict would keep the first marker object with the second's validator).
ITEM_SCHEMA = vol.Schema(
    {
        **{marker: check for marker, check in BASE_ITEM_FIELDS.items() if marker != CONF_NAME},
        vol.Required(CONF_NAME): vol.All(validators.string, vol.Length(min=1)),
        **_DAY_FIELDS,
    }
)


@dataclass(frozen=True, slots=True)
class Block:
    """One block on one day, as instants (UTC)."""

    start: datetime
    end: datetime
    data: dict[str, Any]


class Schedule(CollectionEntity):
    """On inside one of the week's blocks; switches at each block edge on the scheduler."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._on = False
        self._data: dict[str, Any] = {}
        self._next_event: datetime | None = None
        self._cancel_job: Callable[[], None] | None = None

    @property
    def state(self) -> StateType:
        """``on`` inside a block, else ``off``."""
        return STATE_ON if self._on else STATE_OFF

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``next_event`` (local time, ISO 8601) and the current block's data."""
        tz = self.runtime.core.tzinfo
        next_event = self._next_event.astimezone(tz).isoformat() if self._next_event else None
        return {ATTR_NEXT_EVENT: next_event, **self._data}

    def get_schedule(self) -> dict[str, list[dict[str, Any]]]:
        """The blocks of each day, as configured."""
        return {day: [dict(block) for block in self.config[day]] for day in DAYS}

    def blocks_of(self, day: date) -> list[Block]:
        """The blocks of local ``day`` as instants (DST rule: see the integration's doc)."""
        tz = self.runtime.core.tzinfo
        blocks = []
        for block in self.config[DAYS[day.weekday()]]:
            start = datetime.combine(day, time.fromisoformat(block[CONF_FROM]), tz)
            if block[CONF_TO] == END_OF_DAY:
                end = datetime.combine(day + timedelta(days=1), time(), tz)
            else:
                end = datetime.combine(day, time.fromisoformat(block[CONF_TO]), tz)
            # A naive wall time in a gap maps (fold=0) past the gap by its length; a repeated
            # one to its first occurrence: converting to UTC applies both.
            start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
            if end_utc > start_utc:
                blocks.append(Block(start_utc, end_utc, dict(block.get(CONF_DATA) or {})))
        return blocks

    def _evaluate(self, now: datetime) -> None:
        """Set state, data and next edge for instant ``now``."""
        today = now.astimezone(self.runtime.core.tzinfo).date()
        blocks = [
            block
            for offset in range(-1, 9)
            for block in self.blocks_of(today + timedelta(days=offset))
        ]
        current = next((b for b in blocks if b.start <= now < b.end), None)
        self._on = current is not None
        self._data = current.data if current is not None else {}
        edges = [edge for b in blocks for edge in (b.start, b.end) if edge > now]
        self._next_event = min(edges) if edges else None

    def _update(self) -> None:
        self._unschedule()
        self._evaluate(self.runtime.clock.now())
        if self._next_event is not None and self.runtime.has_scheduler:
            self._cancel_job = self.runtime.scheduler.at(
                self._next_event, self._on_edge, name=f"schedule[{self.entity_id}]"
            )

    @callback
    def _on_edge(self, when: datetime) -> None:
        self._cancel_job = None
        self._update()
        self.write_state()

    def _unschedule(self) -> None:
        if self._cancel_job is not None:
            self._cancel_job()
            self._cancel_job = None

    async def added_to_runtime(self) -> None:
        """Work out the state and arm the next edge before the first write."""
        await super().added_to_runtime()
        self._update()

    async def will_remove(self) -> None:
        """Stop following the edges."""
        await super().will_remove()
        self._unschedule()

    def config_changed(self) -> None:
        """Re-evaluate with the new blocks."""
        self._update()


def register_services(runtime: Runtime) -> None:
    """Register ``get_schedule`` (response only)."""

    def get_schedule(call: ServiceCall) -> ServiceResponse:
        return {
            entity.entity_id: entity.get_schedule()
            for entity in entities_for_call(runtime, call, Schedule)
        }

    runtime.services.register(
        DOMAIN,
        SERVICE_GET_SCHEDULE,
        callback(get_schedule),
        vol.Schema({}),
        supports_response=SupportsResponse.ONLY,
    )
