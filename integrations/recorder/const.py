"""Constants of the ``recorder`` integration, by family, with the names Home Assistant uses."""

from __future__ import annotations

from datetime import UTC, datetime, time
from enum import StrEnum
from typing import Final

DOMAIN: Final = "recorder"
NAME: Final = "Recorder"

# Configuration keys (Home Assistant's, plus max_queue and db_retry_wait).
CONF_DB_URL: Final = "db_url"
CONF_COMMIT_INTERVAL: Final = "commit_interval"
CONF_PURGE_KEEP_DAYS: Final = "purge_keep_days"
CONF_AUTO_PURGE: Final = "auto_purge"
CONF_AUTO_REPACK: Final = "auto_repack"
CONF_MAX_QUEUE: Final = "max_queue"
CONF_DB_RETRY_WAIT: Final = "db_retry_wait"
CONF_INCLUDE: Final = "include"
CONF_EXCLUDE: Final = "exclude"
CONF_DOMAINS: Final = "domains"
CONF_ENTITIES: Final = "entities"
CONF_ENTITY_GLOBS: Final = "entity_globs"
CONF_EVENT_TYPES: Final = "event_types"

DEFAULT_DB_FILE: Final = "edgewise.db"
DEFAULT_COMMIT_INTERVAL: Final = 5.0
DEFAULT_PURGE_KEEP_DAYS: Final = 10
DEFAULT_MAX_QUEUE: Final = 200_000
DEFAULT_DB_RETRY_WAIT: Final = 3.0

# Services and their fields.
SERVICE_PURGE: Final = "purge"
SERVICE_PURGE_ENTITIES: Final = "purge_entities"
ATTR_KEEP_DAYS: Final = "keep_days"
ATTR_REPACK: Final = "repack"
ATTR_DOMAINS: Final = "domains"
ATTR_ENTITY_GLOBS: Final = "entity_globs"

#: Local wall time of the nightly purge, as Home Assistant does it.
AUTO_PURGE_TIME: Final = time(4, 12)

#: Events never recorded: the clock tick and writes that changed nothing (they only move
#: ``last_reported``, which the states table does not keep).
EXCLUDED_EVENT_TYPES: Final = frozenset({"time_changed", "state_reported"})

#: Most queued items one transaction writes; the rest go in the next one, right after. Once this
#: many are queued the writer commits without waiting for ``commit_interval``. Each commit
#: rewrites every index page it touches (about one per entity at a busy site), so bigger
#: batches write the SD card less per state: 20,000 rather than 5,000 took a sustained 1,000-
#: sensor load from about 2.5 KB to 0.75 KB written to disk per state (bench/recorder.py's
#: load through /proc/self/io), with the queue, and the memory it holds, still small.
MAX_BATCH_SIZE: Final = 20_000
#: Rows one purge transaction deletes, so that a write waits for at most one such chunk.
PURGE_CHUNK_SIZE: Final = 5_000
#: Distinct attribute sets / event payloads whose ids are kept in memory.
ATTRIBUTES_CACHE_SIZE: Final = 8_192
#: Seconds ``Recorder.stop`` waits for the queue to reach the database.
STOP_FLUSH_TIMEOUT: Final = 8.0


class RecorderStatus(StrEnum):
    """Where the recorder is: writing normally, buffering for an absent database, or full."""

    STARTING = "starting"
    OK = "ok"
    #: The database is unreachable or failing: items are queued and the write is retried.
    DEGRADED = "degraded"
    #: The queue reached ``max_queue``: new items are dropped (and counted) until it drains.
    FULL = "full"
    STOPPED = "stopped"


#: The times history, logbook and statistics queries accept (anything else answers 400): from
#: the Unix epoch to well past any recorded row, far enough from datetime's limits that a day
#: added or a time zone applied never overflows.
QUERY_TIME_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
QUERY_TIME_MAX: Final = datetime(2200, 1, 1, tzinfo=UTC)
