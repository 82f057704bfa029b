"""Constants of the ``timescale`` integration (the central historian), by family."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "timescale"
NAME: Final = "TimescaleDB historian"

# Configuration keys.
CONF_DB_URL: Final = "db_url"
CONF_SITE_ID: Final = "site_id"
CONF_TABLE: Final = "table"
CONF_BUFFER_PATH: Final = "buffer_path"
CONF_BUFFER_MAX_ROWS: Final = "buffer_max_rows"
CONF_BUFFER_FULL_POLICY: Final = "buffer_full_policy"
CONF_BATCH_SIZE: Final = "batch_size"
CONF_FLUSH_INTERVAL: Final = "flush_interval"
CONF_RETRY_WAIT: Final = "retry_wait"
CONF_ATTRIBUTES: Final = "attributes"
CONF_COMPRESS_AFTER_DAYS: Final = "compress_after_days"
CONF_RETAIN_DAYS: Final = "retain_days"
CONF_WRITE_COMMANDS: Final = "write_commands"
CONF_COMMAND_POLL_INTERVAL: Final = "command_poll_interval"
CONF_INCLUDE: Final = "include"
CONF_EXCLUDE: Final = "exclude"

DEFAULT_TABLE: Final = "edgewise_points"
DEFAULT_BUFFER_FILE: Final = "historian_buffer.db"
DEFAULT_BUFFER_MAX_ROWS: Final = 5_000_000
DEFAULT_BATCH_SIZE: Final = 10_000
DEFAULT_FLUSH_INTERVAL: Final = 1.0
DEFAULT_RETRY_WAIT: Final = 5.0
DEFAULT_COMPRESS_AFTER_DAYS: Final = 7
DEFAULT_COMMAND_POLL_INTERVAL: Final = 5.0
#: The central table of write commands (BacPipes' columns).
COMMANDS_TABLE: Final = "write_commands"
#: Context ids of the writes made for central commands: ``central:<site>:<command id>``.
COMMAND_CONTEXT_PREFIX: Final = "central"

#: Seconds one central transaction (COPY and INSERT of a batch) may take before it is abandoned.
SEND_TIMEOUT: Final = 60.0
#: Connections a batch is split between, each part written at the same time.
SEND_CONNECTIONS: Final = 2
#: Seconds to connect to the central database.
CONNECT_TIMEOUT: Final = 10.0
#: Seconds ``Historian.stop`` spends moving what is in memory to the buffer and sending.
STOP_FLUSH_TIMEOUT: Final = 8.0
#: Seconds between runs of the purge job on a plain PostgreSQL table.
PURGE_INTERVAL: Final = 3600.0
#: Longest allowed SQL identifier for the table name.
MAX_TABLE_NAME: Final = 48

# Services.
SERVICE_COMPLETENESS: Final = "completeness"
SERVICE_QUERY: Final = "query"
ATTR_ENTITY_ID: Final = "entity_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"

#: Id of the persistent notification that counts dropped rows.
NOTIFICATION_DROPPED: Final = "timescale_rows_dropped"
#: Id of the persistent notification that reports a corrupt buffer moved aside.
NOTIFICATION_CORRUPT: Final = "timescale_buffer_corrupt"


class FullPolicy(StrEnum):
    """What the buffer does when it holds ``buffer_max_rows``."""

    DROP_OLDEST = "drop_oldest"
    STOP_ACCEPTING = "stop_accepting"


class Quality(StrEnum):
    """A row's quality, from the entity's availability."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
