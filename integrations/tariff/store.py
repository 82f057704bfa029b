"""What the tariff keeps across restarts, in one ``.storage/tariff`` JSON file.

Schedules (their definitions; the kernel's ``ScheduleStore`` keeps their timers in
``.storage/tariff.jobs.json``), the schedule log, receipts and open runs, the autopilot's paused
appliances, and the nightly per-appliance day aggregates. Saves are coalesced.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from core.state import finite_number
from core.storage import JsonStore, storage_path

from .const import RECEIPTS_KEPT, SCHEDULE_LOG_SIZE

if TYPE_CHECKING:
    from core import Runtime

_LOGGER = logging.getLogger(__name__)

STORE_KEY = "tariff"
STORE_VERSION = 1
#: Day aggregates kept (per appliance and day).
DAYS_KEPT = 4000
#: What metering an open run reads: text fields, numbers, and numbers it may lack.
_RUN_TEXT = ("appliance", "actual_start")
_RUN_NUMBERS = ("energy", "cost", "priced_energy")
_RUN_OPTIONAL_NUMBERS = ("runtime", "baseline_price")


class TariffStore:
    """The loaded data and its coalesced saving. Use on the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._store = JsonStore(
            runtime.run_in_executor,
            storage_path(runtime.config_dir, STORE_KEY),
            version=STORE_VERSION,
            key=STORE_KEY,
        )
        self.schedules: dict[str, dict[str, Any]] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=SCHEDULE_LOG_SIZE)
        self.receipts: deque[dict[str, Any]] = deque(maxlen=RECEIPTS_KEPT)
        self.open_runs: dict[str, dict[str, Any]] = {}
        self.paused: dict[str, dict[str, Any]] = {}
        self.days: deque[dict[str, Any]] = deque(maxlen=DAYS_KEPT)
        self.last_aggregated: str | None = None
        #: Closed day meters waiting for the 00:30 aggregation.
        self.pending_days: list[dict[str, Any]] = []

    async def load(self) -> None:
        """Read the file (a missing or corrupt one is an empty store).

        A section of the wrong type reads as empty, and an open run that lacks what metering
        reads is dropped, each with an error naming it: the rest still loads.
        """
        data = await self._store.load() or {}
        self.schedules = self._mapping(data, "schedules")
        self.log.extend(self._records(data, "log"))
        self.receipts.extend(self._records(data, "receipts"))
        self.open_runs = {}
        for key, run in self._mapping(data, "open_runs").items():
            if _run_readable(run):
                self.open_runs[key] = run
            else:
                _LOGGER.error("%s: open run %s is incomplete; dropped", self._store.path, key)
        self.paused = self._mapping(data, "paused")
        self.days.extend(self._records(data, "days"))
        self.pending_days = self._records(data, "pending_days")
        last = data.get("last_aggregated")
        self.last_aggregated = last if isinstance(last, str) else None

    def _mapping(self, data: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            _LOGGER.error("%s: %s is not a mapping; read as empty", self._store.path, key)
            return {}
        return {str(k): v for k, v in value.items() if isinstance(v, dict)}

    def _records(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key) or []
        if not isinstance(value, list):
            _LOGGER.error("%s: %s is not a list; read as empty", self._store.path, key)
            return []
        return [item for item in value if isinstance(item, dict)]

    def save(self, delay: float = 0.5) -> None:
        """Write within ``delay`` seconds (coalesced with every other change until then)."""
        self._store.schedule_save(self._data, delay=delay)

    def _data(self) -> dict[str, Any]:
        return {
            "schedules": self.schedules,
            "log": list(self.log),
            "receipts": list(self.receipts),
            "open_runs": self.open_runs,
            "paused": self.paused,
            "days": list(self.days),
            "last_aggregated": self.last_aggregated,
            "pending_days": self.pending_days,
        }

    async def flush(self) -> None:
        """Write what is pending."""
        await self._store.flush()


def _number(value: object) -> bool:
    return isinstance(value, int | float) and finite_number(value) is not None


def _run_readable(run: dict[str, Any]) -> bool:
    """Whether an open run has what metering and its receipt read, as finite numbers."""
    return (
        all(isinstance(run.get(k), str) for k in _RUN_TEXT)
        and all(_number(run.get(k)) for k in _RUN_NUMBERS)
        and all(run.get(k) is None or _number(run.get(k)) for k in _RUN_OPTIONAL_NUMBERS)
    )
