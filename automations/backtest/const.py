"""Constants of the backtest: limits, defaults and the names of what it reports."""

from __future__ import annotations

from typing import Final

#: Recorded rows read per database query (states and events each): the memory bound of a replay.
DEFAULT_CHUNK_ROWS: Final = 50_000
#: State changes and events a replay handles before it stops with a partial report.
DEFAULT_MAX_ITEMS: Final = 20_000_000
#: Wall-clock seconds a replay may take before it stops with a partial report.
DEFAULT_MAX_SECONDS: Final = 300.0
#: Longest period one backtest may cover, in days.
MAX_PERIOD_DAYS: Final = 31
#: Runs whose full trace the report keeps (the summary counts every run).
DEFAULT_MAX_TRACES: Final = 500
#: Loop turns given to a replay step, so the runs it started proceed as far as they can.
SETTLE_TICKS: Final = 8
#: Items between two progress reports.
PROGRESS_EVERY: Final = 50_000

#: Trigger platforms the replay reproduces from what the recorder keeps.
REPLAYABLE_TRIGGERS: Final = frozenset(
    {
        "state",
        "numeric_state",
        "event",
        "time",
        "time_pattern",
        "sun",
        "template",
        "homeassistant",
        "edgewise",
    }
)

#: Events the replay never re-fires: they were caused by the live runtime's own work.
UNREPLAYED_EVENTS: Final = frozenset(
    {"call_service", "automation_triggered", "script_started", "service_registered"}
)

#: How a report ended.
STATUS_COMPLETE: Final = "complete"
STATUS_CANCELLED: Final = "cancelled"
STATUS_LIMIT_ITEMS: Final = "stopped_at_item_limit"
STATUS_LIMIT_TIME: Final = "stopped_at_time_limit"

#: The trace domain and item id prefix of replayed runs.
TRACE_DOMAIN: Final = "automation"
