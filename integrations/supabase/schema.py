"""The ``supabase:`` section: the project, and the tables whose rows become entities.

Example::

    supabase:
      url: https://abcd1234.supabase.co
      anon_key: !secret supabase_anon_key
      feed_down_notify_after: 120          # s without Realtime before a notification
      sources:
        - table: latest_data
          filter: [site_id=eq.7]           # PostgREST filters; the first goes to Realtime
          id_columns: [site_id, metric]    # these columns name the entity
          value_column: value
          unit_column: unit                # or unit: kW
          device_class: power
          name: Alto plant
          area: Plant room
      auth:                                # Supabase logins on Edgewise's API
        jwt_secret: !secret supabase_jwt_secret   # HS256; RS256/ES256 keys come from the JWKS
        audience: authenticated
        role_claim: app_metadata.role      # viewer, operator or admin; viewer when absent
        areas_claim: app_metadata.buildings  # area ids the user is limited to (none: no areas)
        create_users: true                 # a new `sub` gets an Edgewise user on first use
      service_key: !secret supabase_service_key   # the mirror's writes; never sent to a browser
      mirror:                              # tables with key text PK, data jsonb, updated_at
        states_table: appliance_states
        entities: ["appliance.*", "schedule.*"]
        control_log_table: control_logs
        notifications_table: notifications
        receipts_table: receipts             # the tariff integration's run receipts
        schedule_log_table: schedule_log     # and its schedule log
        schedules_table: schedules           # and its appliance schedules (definitions)

Errors name the file, line and key: a filter that is not ``column=op.value``, an unknown
operator, a Realtime filter with an operator Realtime lacks, a URL that is not http(s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from core.entities.sensor import SensorDeviceClass

from .const import (
    CONF_ANON_KEY,
    CONF_AREA,
    CONF_AREAS_CLAIM,
    CONF_AUDIENCE,
    CONF_AUTH,
    CONF_CONTROL_LOG_TABLE,
    CONF_CREATE_USERS,
    CONF_DEVICE_CLASS,
    CONF_ENTITIES,
    CONF_FEED_DOWN_NOTIFY_AFTER,
    CONF_FILTER,
    CONF_HEARTBEAT_INTERVAL,
    CONF_ID_COLUMNS,
    CONF_ISSUER,
    CONF_JWKS_URL,
    CONF_JWT_SECRET,
    CONF_LEEWAY,
    CONF_MAX_ROWS,
    CONF_MIRROR,
    CONF_NAME,
    CONF_NOTIFICATIONS_TABLE,
    CONF_RECEIPTS_TABLE,
    CONF_ROLE_CLAIM,
    CONF_SCHEDULE_LOG_TABLE,
    CONF_SCHEDULES_TABLE,
    CONF_SERVICE_KEY,
    CONF_SOURCES,
    CONF_STATES_TABLE,
    CONF_TABLE,
    CONF_UNIT,
    CONF_UNIT_COLUMN,
    CONF_URL,
    CONF_USERS,
    CONF_VALUE_COLUMN,
    DEFAULT_FEED_DOWN_NOTIFY_AFTER,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_MAX_ROWS,
)
from .filters import REALTIME_OPERATORS, RowFilter

_IDENT = vol.Match(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", msg="not a PostgreSQL identifier")


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One table read into entities."""

    table: str
    filters: tuple[RowFilter, ...]
    id_columns: tuple[str, ...]
    value_column: str
    unit: str | None
    unit_column: str | None
    device_class: SensorDeviceClass | None
    name: str | None
    area: str | None
    max_rows: int

    @property
    def realtime_filter(self) -> str | None:
        """The filter Realtime evaluates (the first configured one)."""
        return str(self.filters[0]) if self.filters else None


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Which Supabase tokens log in to Edgewise's API, and as whom."""

    issuer: str
    audience: tuple[str, ...]
    jwt_secret: str | None
    jwks_url: str | None
    role_claim: str
    areas_claim: str | None
    create_users: bool
    users: dict[str, str]
    leeway: float


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    """Which of Edgewise's state goes to which Supabase table."""

    states_table: str | None
    entities: tuple[str, ...]
    control_log_table: str | None
    notifications_table: str | None
    receipts_table: str | None = None
    schedule_log_table: str | None = None
    schedules_table: str | None = None


@dataclass(frozen=True, slots=True)
class SupabaseConfig:
    """The ``supabase:`` section."""

    url: str
    anon_key: str
    service_key: str | None
    sources: tuple[SourceConfig, ...]
    feed_down_notify_after: float
    heartbeat_interval: float
    auth: AuthConfig | None = None
    mirror: MirrorConfig | None = None


def _row_filter(value: Any) -> RowFilter:
    try:
        return RowFilter.parse(str(value))
    except ValueError as err:
        raise vol.Invalid(str(err)) from err


def _realtime_first(filters: list[RowFilter]) -> list[RowFilter]:
    if filters and filters[0].op not in REALTIME_OPERATORS:
        raise vol.Invalid(
            f"the first filter goes to Realtime, which has no {filters[0].op!r}; "
            f"put one of {', '.join(REALTIME_OPERATORS)} first"
        )
    return filters


def _url(value: Any) -> str:
    text = str(value).rstrip("/")
    if not text.startswith(("http://", "https://")):
        raise vol.Invalid(f"expected an http(s) URL, got {value!r}")
    return text


_SOURCE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_TABLE): _IDENT,
        vol.Optional(CONF_FILTER, default=list): vol.All(
            vol.Any([_row_filter], vol.All(_row_filter, lambda f: [f])), _realtime_first
        ),
        vol.Required(CONF_ID_COLUMNS): vol.All(
            vol.Any([_IDENT], vol.All(_IDENT, lambda c: [c])), vol.Length(min=1)
        ),
        vol.Required(CONF_VALUE_COLUMN): _IDENT,
        vol.Exclusive(CONF_UNIT, "unit"): str,
        vol.Exclusive(CONF_UNIT_COLUMN, "unit"): _IDENT,
        vol.Optional(CONF_DEVICE_CLASS): vol.Coerce(SensorDeviceClass),
        vol.Optional(CONF_NAME): str,
        vol.Optional(CONF_AREA): str,
        vol.Optional(CONF_MAX_ROWS, default=DEFAULT_MAX_ROWS): vol.All(
            int, vol.Range(min=1, max=100_000)
        ),
    }
)


def _source(d: dict[str, Any]) -> SourceConfig:
    return SourceConfig(
        table=d[CONF_TABLE],
        filters=tuple(d[CONF_FILTER]),
        id_columns=tuple(d[CONF_ID_COLUMNS]),
        value_column=d[CONF_VALUE_COLUMN],
        unit=d.get(CONF_UNIT),
        unit_column=d.get(CONF_UNIT_COLUMN),
        device_class=d.get(CONF_DEVICE_CLASS),
        name=d.get(CONF_NAME),
        area=d.get(CONF_AREA),
        max_rows=d[CONF_MAX_ROWS],
    )


def _auth(url: str, d: dict[str, Any] | None) -> AuthConfig | None:
    if d is None:
        return None
    jwks = d.get(CONF_JWKS_URL, f"{url}/auth/v1/.well-known/jwks.json")
    return AuthConfig(
        issuer=d.get(CONF_ISSUER, f"{url}/auth/v1"),
        audience=tuple(d[CONF_AUDIENCE]),
        jwt_secret=d.get(CONF_JWT_SECRET),
        jwks_url=jwks or None,
        role_claim=d[CONF_ROLE_CLAIM],
        areas_claim=d.get(CONF_AREAS_CLAIM),
        create_users=d[CONF_CREATE_USERS],
        users=dict(d[CONF_USERS]),
        leeway=d[CONF_LEEWAY],
    )


def _mirror(d: dict[str, Any] | None) -> MirrorConfig | None:
    if d is None:
        return None
    return MirrorConfig(
        states_table=d.get(CONF_STATES_TABLE),
        entities=tuple(d[CONF_ENTITIES]),
        control_log_table=d.get(CONF_CONTROL_LOG_TABLE),
        notifications_table=d.get(CONF_NOTIFICATIONS_TABLE),
        receipts_table=d.get(CONF_RECEIPTS_TABLE),
        schedule_log_table=d.get(CONF_SCHEDULE_LOG_TABLE),
        schedules_table=d.get(CONF_SCHEDULES_TABLE),
    )


def _service_key_for_mirror(section: dict[str, Any]) -> dict[str, Any]:
    if CONF_MIRROR in section and CONF_SERVICE_KEY not in section:
        raise vol.Invalid("the mirror writes with the service key: set service_key", [CONF_MIRROR])
    return section


def _build(section: dict[str, Any]) -> SupabaseConfig:
    return SupabaseConfig(
        mirror=_mirror(section.get(CONF_MIRROR)),
        auth=_auth(section[CONF_URL], section.get(CONF_AUTH)),
        url=section[CONF_URL],
        anon_key=section[CONF_ANON_KEY],
        service_key=section.get(CONF_SERVICE_KEY),
        sources=tuple(_source(s) for s in section[CONF_SOURCES]),
        feed_down_notify_after=section[CONF_FEED_DOWN_NOTIFY_AFTER],
        heartbeat_interval=section[CONF_HEARTBEAT_INTERVAL],
    )


_AUTH_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ISSUER): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_AUDIENCE, default=["authenticated"]): vol.All(
            vol.Any([str], vol.All(str, lambda a: [a])), vol.Length(min=1)
        ),
        vol.Optional(CONF_JWT_SECRET): vol.All(str, vol.Length(min=16)),
        vol.Optional(CONF_JWKS_URL): vol.Any(None, "", _url),
        vol.Optional(CONF_ROLE_CLAIM, default="app_metadata.role"): vol.Match(
            r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", msg="expected a dotted claim path"
        ),
        vol.Optional(CONF_AREAS_CLAIM): vol.Match(
            r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", msg="expected a dotted claim path"
        ),
        vol.Optional(CONF_CREATE_USERS, default=False): bool,
        vol.Optional(CONF_USERS, default=dict): {str: vol.All(str, vol.Length(min=1))},
        vol.Optional(CONF_LEEWAY, default=0): vol.All(vol.Coerce(float), vol.Range(0, 300)),
    }
)


_MIRROR_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_STATES_TABLE): _IDENT,
        vol.Optional(CONF_ENTITIES, default=["appliance.*"]): [vol.All(str, vol.Length(min=1))],
        vol.Optional(CONF_CONTROL_LOG_TABLE): _IDENT,
        vol.Optional(CONF_NOTIFICATIONS_TABLE): _IDENT,
        vol.Optional(CONF_RECEIPTS_TABLE): _IDENT,
        vol.Optional(CONF_SCHEDULE_LOG_TABLE): _IDENT,
        vol.Optional(CONF_SCHEDULES_TABLE): _IDENT,
    }
)


CONFIG_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required(CONF_URL): _url,
            vol.Required(CONF_ANON_KEY): vol.All(str, vol.Length(min=1)),
            vol.Optional(CONF_SERVICE_KEY): vol.All(str, vol.Length(min=1)),
            vol.Optional(CONF_SOURCES, default=list): [_SOURCE_SCHEMA],
            vol.Optional(CONF_AUTH): _AUTH_SCHEMA,
            vol.Optional(CONF_MIRROR): _MIRROR_SCHEMA,
            vol.Optional(
                CONF_FEED_DOWN_NOTIFY_AFTER, default=DEFAULT_FEED_DOWN_NOTIFY_AFTER
            ): vol.All(vol.Coerce(float), vol.Range(min=0)),
            vol.Optional(CONF_HEARTBEAT_INTERVAL, default=DEFAULT_HEARTBEAT_INTERVAL): vol.All(
                vol.Coerce(float), vol.Range(min=0.05, max=300)
            ),
        }
    ),
    _service_key_for_mirror,
    _build,
)
