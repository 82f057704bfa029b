"""What the tariff keeps across restarts, in one ``.storage/tariff`` JSON file.

Schedules (their definitions; the kernel's ``ScheduleStore`` keeps their timers in
``.storage/tariff.jobs.json``), the schedule log, receipts and open runs, the autopilot's paused
appliances, and the nightly per-appliance day aggregates. Saves are coalesced.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from core.storage import JsonStore, storage_path

from .const import RECEIPTS_KEPT, SCHEDULE_LOG_SIZE

if TYPE_CHECKING:
    from core import Runtime

STORE_KEY = "tariff"
STORE_VERSION = 1
#: Day aggregates kept (per appliance and day).
DAYS_KEPT = 4000


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
        """Read the file (a missing or corrupt one is an empty store)."""
        data = await self._store.load() or {}
        self.schedules = {
            str(k): v for k, v in (data.get("schedules") or {}).items() if isinstance(v, dict)
        }
        self.log.extend(e for e in data.get("log") or [] if isinstance(e, dict))
        self.receipts.extend(r for r in data.get("receipts") or [] if isinstance(r, dict))
        self.open_runs = {
            str(k): v for k, v in (data.get("open_runs") or {}).items() if isinstance(v, dict)
        }
        self.paused = {
            str(k): v for k, v in (data.get("paused") or {}).items() if isinstance(v, dict)
        }
        self.days.extend(d for d in data.get("days") or [] if isinstance(d, dict))
        self.pending_days = [d for d in data.get("pending_days") or [] if isinstance(d, dict)]
        last = data.get("last_aggregated")
        self.last_aggregated = last if isinstance(last, str) else None

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
