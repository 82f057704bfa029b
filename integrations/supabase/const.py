"""Constants of the ``supabase`` integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "supabase"
NAME: Final = "Supabase"

CONF_URL: Final = "url"
CONF_ANON_KEY: Final = "anon_key"
CONF_SERVICE_KEY: Final = "service_key"
CONF_SOURCES: Final = "sources"
CONF_TABLE: Final = "table"
CONF_FILTER: Final = "filter"
CONF_ID_COLUMNS: Final = "id_columns"
CONF_VALUE_COLUMN: Final = "value_column"
CONF_UNIT: Final = "unit"
CONF_UNIT_COLUMN: Final = "unit_column"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_NAME: Final = "name"
CONF_AREA: Final = "area"
CONF_MAX_ROWS: Final = "max_rows"
CONF_FEED_DOWN_NOTIFY_AFTER: Final = "feed_down_notify_after"
CONF_HEARTBEAT_INTERVAL: Final = "heartbeat_interval"

#: Realtime's own heartbeat interval (its clients send one every 25 s).
DEFAULT_HEARTBEAT_INTERVAL: Final = 25.0
DEFAULT_FEED_DOWN_NOTIFY_AFTER: Final = 120.0
DEFAULT_MAX_ROWS: Final = 10_000
#: Bounds on what a Supabase project sends back.
MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
MAX_MESSAGE_BYTES: Final = 1024 * 1024
REQUEST_TIMEOUT: Final = 15.0
JOIN_TIMEOUT: Final = 10.0
RECONNECT_MIN: Final = 0.5
RECONNECT_MAX: Final = 30.0
#: Refresh the Realtime access token when this share of its lifetime has passed.
TOKEN_REFRESH_SHARE: Final = 0.8
