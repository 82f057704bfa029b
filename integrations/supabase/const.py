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
CONF_AUTH: Final = "auth"
CONF_ISSUER: Final = "issuer"
CONF_AUDIENCE: Final = "audience"
CONF_JWT_SECRET: Final = "jwt_secret"  # noqa: S105 - a key name, not a secret
CONF_JWKS_URL: Final = "jwks_url"
CONF_ROLE_CLAIM: Final = "role_claim"
CONF_AREAS_CLAIM: Final = "areas_claim"
CONF_CREATE_USERS: Final = "create_users"
CONF_USERS: Final = "users"
CONF_LEEWAY: Final = "leeway"
CONF_MIRROR: Final = "mirror"
CONF_STATES_TABLE: Final = "states_table"
CONF_ENTITIES: Final = "entities"
CONF_CONTROL_LOG_TABLE: Final = "control_log_table"
CONF_NOTIFICATIONS_TABLE: Final = "notifications_table"
CONF_RECEIPTS_TABLE: Final = "receipts_table"
CONF_SCHEDULE_LOG_TABLE: Final = "schedule_log_table"
CONF_SCHEDULES_TABLE: Final = "schedules_table"

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
