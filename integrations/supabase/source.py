"""Rows of one Supabase table as sensor entities, kept current by Realtime.

``TableSource`` reads the table through PostgREST (``reload``) and takes Realtime changes
(``apply_change``): the configured ``id_columns`` name the entity, ``value_column`` is its
state, the unit and device class come from the configuration or a column. A row that leaves the
filter or is deleted makes its entity unavailable; a new row adds an entity. While the feed is
down every entity is unavailable, and after ``feed_down_notify_after`` seconds a persistent
notification says so (dismissed when the feed is back). Nothing is ever written to the table.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core import DeviceInfo, Runtime, SensorEntity, add_entities
from core.const import MAX_STATE_LENGTH
from core.entity import format_state_value
from core.slug import slugify

from .const import DOMAIN
from .rest import PostgrestClient
from .schema import SourceConfig

_LOGGER = logging.getLogger(__name__)

RowKey = tuple[str, ...]


def feed_notification_id(table: str) -> str:
    """The id of a table's feed-down notification (one per table)."""
    return f"supabase_feed_down_{table}"


class RowSensor(SensorEntity):
    """One row's value."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, source: TableSource, key: RowKey) -> None:
        super().__init__()
        self.source = source
        self.key = key
        config = source.config
        self._attr_unique_id = f"supabase_{config.table}_{'_'.join(slugify(k) for k in key)}"
        self._attr_name = " ".join(key)
        self._attr_device_class = config.device_class
        self._attr_native_unit_of_measurement = config.unit

    @property
    def row(self) -> dict[str, Any] | None:
        """The row as last read, or None when it is gone."""
        return self.source.rows.get(self.key)

    @property
    def available(self) -> bool:
        """Available while the feed is up and the row exists."""
        return self.source.feed_up and self.row is not None

    @property
    def device_info(self) -> DeviceInfo:
        """The table (with its filter) as a device, in the configured area."""
        return self.source.device_info

    @property
    def native_value(self) -> Any:
        """The value column: a number when it is one, else its text; None (unknown) when it
        is longer than a state holds (the state machine would refuse it)."""
        row = self.row
        if row is None:
            return None
        value = row.get(self.source.config.value_column)
        if value is not None and not isinstance(value, int | float | str):
            value = str(value)
        text = format_state_value(value)
        if text is not None and len(text) > MAX_STATE_LENGTH:
            _LOGGER.warning(
                "%s: the %s column of %s holds %d characters, more than a state's %d; shown as "
                "unknown",
                self.entity_id,
                self.source.config.value_column,
                self.source.config.table,
                len(text),
                MAX_STATE_LENGTH,
            )
            return None
        return value

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The configured unit, or the row's unit column."""
        column = self.source.config.unit_column
        if column is not None and (row := self.row) is not None:
            unit = row.get(column)
            return None if unit is None else str(unit)
        return self.source.config.unit


class TableSource:
    """A table's rows and their entities. Runs on the event loop.

    Args:
        runtime: the runtime the entities belong to.
        config: the table, its filters and columns.
        rest: a PostgREST client with the anon key.
        notify_after: seconds of feed outage before a notification.
    """

    def __init__(
        self, runtime: Runtime, config: SourceConfig, rest: PostgrestClient, notify_after: float
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.rest = rest
        self.notify_after = notify_after
        self.rows: dict[RowKey, dict[str, Any]] = {}
        self.entities: dict[RowKey, RowSensor] = {}
        self.feed_up = False
        self._pending: set[RowKey] = set()
        self._notify_handle: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def device_info(self) -> DeviceInfo:
        """The device every entity of this source belongs to."""
        filters = ",".join(str(f) for f in self.config.filters)
        return DeviceInfo(
            identifiers=frozenset({(DOMAIN, f"{self.config.table}?{filters}")}),
            name=self.config.name or self.config.table,
            manufacturer="Supabase",
            model=self.config.table,
            suggested_area=self.config.area,
        )

    def key_of(self, row: dict[str, Any]) -> RowKey | None:
        """The entity key of ``row`` (None when an id column is missing or null)."""
        values = [row.get(c) for c in self.config.id_columns]
        if any(v is None for v in values):
            return None
        return tuple(str(v) for v in values)

    def _passes(self, row: dict[str, Any]) -> bool:
        return all(f.matches(row) for f in self.config.filters)

    async def reload(self) -> None:
        """Read every row again and bring the entities up to date.

        Raises:
            DeviceError: PostgREST could not be read.
        """
        rows = await self.rest.select(
            self.config.table, self.config.filters, limit=self.config.max_rows
        )
        fresh: dict[RowKey, dict[str, Any]] = {}
        for row in rows:
            key = self.key_of(row)
            if key is not None:
                fresh[key] = row
        changed = {k for k in fresh if self.rows.get(k) != fresh[k]} | (set(self.rows) - set(fresh))
        self.rows = fresh
        await self._add_missing()
        for key in changed:
            self._write(key)

    def _write(self, key: RowKey) -> None:
        entity = self.entities.get(key)
        if entity is not None and entity.added:
            entity.write_state()

    async def _add_missing(self) -> None:
        new = [RowSensor(self, k) for k in self.rows if k not in self.entities]
        for entity in new:
            self.entities[entity.key] = entity
        if new:
            await add_entities(self.runtime, DOMAIN, new)

    def apply_change(self, change: dict[str, Any]) -> None:
        """Take a Realtime change for this table: the state is written at once."""
        if change.get("table") != self.config.table:
            return
        kind = change.get("type")
        record = change.get("record") or {}
        if kind in ("INSERT", "UPDATE") and isinstance(record, dict):
            key = self.key_of(record)
            if key is None:
                return
            if not self._passes(record):
                if self.rows.pop(key, None) is not None:
                    self._write(key)
                return
            self.rows[key] = record
            if key in self.entities:
                self._write(key)
            elif key not in self._pending:
                self._pending.add(key)
                task = self.runtime.create_task(
                    self._add_new(key), name=f"supabase[{self.config.table}].add"
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif kind == "DELETE":
            old = change.get("old_record") or {}
            if not isinstance(old, dict) or not old:
                return
            for key, row in list(self.rows.items()):
                if all(row.get(c) == v for c, v in old.items()):
                    del self.rows[key]
                    self._write(key)

    async def _add_new(self, key: RowKey) -> None:
        try:
            await self._add_missing()
        finally:
            self._pending.discard(key)

    async def joined(self) -> None:
        """The feed is (back) up: re-read the table, then mark the entities available.

        Raises:
            DeviceError: the table could not be read (the feed reconnects and tries again).
        """
        await self.reload()
        self.feed_up = True
        if self._notify_handle is not None:
            self._notify_handle.cancel()
            self._notify_handle = None
        self.runtime.notifications.dismiss(feed_notification_id(self.config.table))
        for key in self.entities:
            self._write(key)

    def down(self) -> None:
        """The feed is lost: entities unavailable; a notification if it stays down."""
        if self.feed_up:
            self.feed_up = False
            for key in self.entities:
                self._write(key)
        if self._notify_handle is None:
            self._notify_handle = asyncio.get_running_loop().call_later(
                self.notify_after, self._notify_down
            )

    def _notify_down(self) -> None:
        self._notify_handle = None
        if self.feed_up:
            return
        self.runtime.notifications.create(
            f"The Supabase Realtime feed of `{self.config.table}` has been down for more than "
            f"{self.notify_after:g} s; its entities are unavailable until it is back.",
            title="Supabase feed down",
            notification_id=feed_notification_id(self.config.table),
        )

    def stop(self) -> None:
        """Cancel the timer and pending additions."""
        if self._notify_handle is not None:
            self._notify_handle.cancel()
        for task in self._tasks:
            task.cancel()
