"""App state out: Edgewise's state upserted to Supabase tables, in order, through outages.

Every mirror table has the columns ``key text primary key``, ``data jsonb`` and
``updated_at timestamptz``; each item is upserted (``Prefer: resolution=merge-duplicates``)
with the service key, which stays in the server (secrets, never a browser). Mirrored:

- the states of the configured entities (``appliance.*`` by default): key = entity id;
- control-log entries of the ``appliance`` integration: key = time, appliance and context;
- persistent notifications: key = notification id (``dismissed`` when removed);
- receipts of metered appliance runs and the schedule log of the ``tariff`` integration;
- the ``tariff`` integration's appliance schedules (their definitions): key = schedule id, the
  data the schedule with ``change`` (``created``, ``updated``: re-planned or advanced to its
  next run, ``deleted``: removed or a one-shot that has run); all of them once at start-up
  (``updated``).

Items wait in an in-order outbox. The sender takes the oldest run of items for one table (the
latest item per key within a batch), upserts it, and only then drops it; while Supabase cannot
be reached it retries with backoff, and the outbox is kept on disk
(``.storage/supabase_mirror.json``), so what happened during an outage, or before a restart, is
delivered in order afterwards. The outbox is bounded (``MAX_OUTBOX``; the oldest go first, with
a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import os
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from core import Event, Runtime
from core.const import EVENT_STATE_CHANGED
from core.errors import DeviceError
from core.notifications import Notification, UpdateType

from .rest import PostgrestClient
from .schema import MirrorConfig

_LOGGER = logging.getLogger(__name__)

MAX_OUTBOX: Final = 100_000
MAX_BATCH: Final = 500
RETRY_MIN: Final = 0.5
RETRY_MAX: Final = 60.0
OUTBOX_FILE: Final = "supabase_mirror.json"

_Listener = TypeVar("_Listener")

#: One queued upsert: (table, row).
Item = tuple[str, dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _write_file(path: Path, items: list[Item]) -> None:
    """Replace ``path`` with ``items`` atomically (blocking)."""
    if not items:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump([[t, r] for t, r in items], handle, separators=(",", ":"), default=str)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def _read_file(path: Path) -> list[Item]:
    """The outbox kept at ``path`` (empty when there is none or it is unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        _LOGGER.error("Supabase mirror outbox %s unreadable, starting empty: %s", path, err)
        return []
    if not isinstance(raw, list) or not all(isinstance(i, list) and len(i) == 2 for i in raw):
        _LOGGER.error(
            "Supabase mirror outbox %s unreadable, starting empty: not a list of [table, row]",
            path,
        )
        return []
    return [(str(t), r) for t, r in raw if isinstance(r, dict)]


def _listen(listeners: list[_Listener], listener: _Listener) -> Callable[[], None]:
    """Add ``listener`` to a peer's listener list; answer its remover."""
    listeners.append(listener)

    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove


class Mirror:
    """The outbox and its sender. Runs on the event loop.

    Args:
        runtime: whose states, control log and notifications are mirrored.
        config: the tables and entities.
        rest: a PostgREST client with the service key.
    """

    def __init__(self, runtime: Runtime, config: MirrorConfig, rest: PostgrestClient) -> None:
        self.runtime = runtime
        self.config = config
        self.rest = rest
        self.outbox: deque[Item] = deque()
        self.delivered = 0
        self.path = runtime.config_dir / ".storage" / OUTBOX_FILE
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._removers: list[Callable[[], None]] = []
        self._on_disk = False
        self._failing = False
        self._dropped = 0

    async def start(self) -> None:
        """Load what an earlier run left, listen, and start the sender."""
        self.outbox.extend(await self.runtime.run_in_executor(_read_file, self.path))
        self._on_disk = bool(self.outbox)
        if self.outbox:
            _LOGGER.info("Supabase mirror: %d items from before, sending", len(self.outbox))
        if self.config.states_table is not None:
            self._removers.append(self.runtime.bus.listen(EVENT_STATE_CHANGED, self._state))
            for state in self.runtime.states.all():
                if self._watched(state.entity_id):
                    self._queue(self.config.states_table, state.entity_id, dict(state.as_dict()))
        if self.config.notifications_table is not None:
            self._removers.append(self.runtime.notifications.subscribe(self._notification))
        if self.config.control_log_table is not None:
            self._subscribe_control_log()
        if (
            self.config.receipts_table is not None
            or self.config.schedule_log_table is not None
            or self.config.schedules_table is not None
        ):
            self._subscribe_tariff()
        self._task = self.runtime.create_task(self._send_loop(), name="supabase.mirror")

    def _subscribe_control_log(self) -> None:
        try:
            from integrations.appliance.api import CONTROL_LOG  # noqa: PLC0415 - optional peer
        except ImportError:
            return
        log = self.runtime.data.get(CONTROL_LOG)
        if log is None:
            _LOGGER.warning("Supabase mirror: control_log_table set, but no appliance integration")
            return
        table = self.config.control_log_table
        assert table is not None  # noqa: S101 - checked by the caller

        def entry(item: Any) -> None:
            data = item.as_dict()
            key = f"{data['time']}|{data['appliance']}|{data['context_id']}"
            self._queue(table, key, data)

        self._removers.append(log.subscribe(entry))

    def _subscribe_tariff(self) -> None:
        """Receipts of metered runs, the schedule log and the schedules, from the ``tariff``
        integration."""
        try:
            from integrations.tariff import SCHEDULES  # noqa: PLC0415 - optional peer
        except ImportError:
            return
        schedules = self.runtime.data.get(SCHEDULES)
        if schedules is None:
            _LOGGER.warning("Supabase mirror: receipts/schedule log set, but no tariff integration")
            return
        receipts, log = self.config.receipts_table, self.config.schedule_log_table
        if receipts is not None:

            def receipt(item: dict[str, Any]) -> None:
                key = f"{item.get('appliance')}|{item.get('actual_start')}|{item.get('key', '')}"
                self._queue(receipts, key, item)

            self._removers.append(_listen(schedules.runs.listeners, receipt))
        if log is not None:

            def entry(item: dict[str, Any]) -> None:
                key = (
                    f"{item.get('id', item.get('name'))}|{item.get('planned')}|{item.get('action')}"
                )
                self._queue(log, key, item)

            self._removers.append(_listen(schedules.listeners, entry))
        if (definitions := self.config.schedules_table) is not None:

            def definition(change: str, spec: dict[str, Any]) -> None:
                self._queue(definitions, str(spec["id"]), {**spec, "change": change})

            for spec in schedules.list():
                definition("updated", spec)  # brought up to date, made before or not
            self._removers.append(_listen(schedules.definition_listeners, definition))

    def _watched(self, entity_id: str) -> bool:
        return any(fnmatch.fnmatchcase(entity_id, p) for p in self.config.entities)

    def _state(self, event: Event[Any]) -> None:
        entity_id = event.data["entity_id"]
        if not self._watched(entity_id) or self.config.states_table is None:
            return
        new = event.data.get("new_state")
        data = {"entity_id": entity_id, "removed": True} if new is None else new.as_dict()
        self._queue(self.config.states_table, entity_id, data)

    def _notification(self, update: UpdateType, items: dict[str, Notification]) -> None:
        table = self.config.notifications_table
        if table is None:
            return
        for notification_id, notification in items.items():
            data = dict(notification)
            data["dismissed"] = update is UpdateType.REMOVED
            self._queue(table, notification_id, data)

    def _queue(self, table: str, key: str, data: dict[str, Any]) -> None:
        """Add an upsert to the outbox (dropping the oldest past ``MAX_OUTBOX``)."""
        if len(self.outbox) >= MAX_OUTBOX:
            self.outbox.popleft()
            self._dropped += 1
            _LOGGER.warning("Supabase mirror outbox full (%d): dropped the oldest", MAX_OUTBOX)
        self.outbox.append((table, {"key": key, "data": data, "updated_at": _now()}))
        self._wake.set()

    def _batch(self) -> tuple[str, list[dict[str, Any]], int]:
        """The oldest run of items for one table (latest per key), and its length."""
        table = self.outbox[0][0]
        rows: dict[str, dict[str, Any]] = {}
        taken = 0
        for item_table, row in self.outbox:
            if item_table != table or taken >= MAX_BATCH:
                break
            rows.pop(row["key"], None)
            rows[row["key"]] = row
            taken += 1
        return table, list(rows.values()), taken

    async def _send_loop(self) -> None:
        delay = RETRY_MIN
        while True:
            if not self.outbox:
                self._wake.clear()
                if self._on_disk:
                    await self._persist()
                await self._wake.wait()
                continue
            table, rows, taken = self._batch()
            dropped = self._dropped
            try:
                await self.rest.upsert(table, rows, on_conflict="key")
            except DeviceError as err:
                if not self._failing:
                    _LOGGER.warning(
                        "Supabase mirror: %s unreachable (%s); %d items kept on disk",
                        table,
                        err,
                        len(self.outbox),
                    )
                self._failing = True
                await self._persist()
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            # Items dropped for room meanwhile were the oldest: some of this batch.
            for _ in range(max(0, taken - (self._dropped - dropped))):
                self.outbox.popleft()
            self.delivered += taken
            if self._failing:
                _LOGGER.info("Supabase mirror: delivering again")
                self._failing = False
            delay = RETRY_MIN

    async def _persist(self) -> None:
        items = list(self.outbox)
        await self.runtime.run_in_executor(_write_file, self.path, items)
        self._on_disk = bool(items)

    async def stop(self) -> None:
        """Stop listening and sending; keep what was not delivered on disk."""
        for remove in self._removers:
            remove()
        self._removers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.outbox or self._on_disk:
            await self._persist()
