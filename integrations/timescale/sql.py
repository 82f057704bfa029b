"""The ``sql`` integration: sensors from read-only queries, in Home Assistant's ``sql:`` YAML.

Example::

    # configuration.yaml
    sql:
      - name: Open alarms
        db_url: postgresql://reader@scada.local/plant
        query: "SELECT count(*) AS n FROM alarms WHERE cleared_at IS NULL"
        column: n
        unit_of_measurement: alarms
        state_class: measurement
      - name: Chiller supply
        db_url: postgresql://reader@central.local/historian
        query: >
          SELECT value FROM edgewise_points
          WHERE entity_id = 'sensor.chiller_supply' ORDER BY time DESC LIMIT 1
        column: value
        value_template: "{{ value | round(1) }}"
        unit_of_measurement: °C
        device_class: temperature

Every query runs through a read-only source (``sources.py``): it cannot write, it is bounded by
a statement timeout, and a query that tries to write makes the sensor unavailable with a clear
error in the log. Lives in the ``timescale`` package (one module) so the read-only sources have
one home; asyncpg is imported only when ``sql:`` is configured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import (
    Manifest,
    Runtime,
    RuntimeKey,
    SensorEntity,
    SensorStateClass,
    add_entities,
    hookimpl,
    validators,
)
from core.const import MAX_STATE_LENGTH
from core.entity import format_state_value
from core.errors import TemplateError
from core.template.template import Template

if TYPE_CHECKING:
    from .sources import ReadOnlySource

_LOGGER = logging.getLogger(__name__)

DOMAIN = "sql"
#: Seconds between queries of each sensor (Home Assistant's default for ``sql``).
SCAN_INTERVAL = 30.0


@dataclass(frozen=True, slots=True)
class SqlSensorConfig:
    """One validated ``sql:`` entry."""

    name: str
    db_url: str
    query: str
    column: str
    unit_of_measurement: str | None = None
    value_template: Template | None = None
    device_class: str | None = None
    state_class: SensorStateClass | None = None
    unique_id: str | None = None


def _db_url(value: object) -> str:
    text = validators.string(value).strip()
    if not text.startswith(("postgresql://", "postgres://")):
        raise vol.Invalid(f"expected a URL such as 'postgresql://user@host/db', got {text!r}")
    return text


def _query(value: object) -> str:
    text = validators.string(value).strip()
    if not text or len(text) > 10_000:
        raise vol.Invalid("expected a query of 1 to 10,000 characters")
    return text


_ENTRY = vol.Schema(
    {
        vol.Required("name"): validators.string,
        vol.Required("db_url"): _db_url,
        vol.Required("query"): _query,
        vol.Required("column"): validators.string,
        vol.Optional("unit_of_measurement"): validators.string,
        vol.Optional("value_template"): validators.template,
        vol.Optional("device_class"): validators.string,
        vol.Optional("state_class"): vol.All(
            vol.In([c.value for c in SensorStateClass]), vol.Coerce(SensorStateClass)
        ),
        vol.Optional("unique_id"): validators.string,
    }
)


def _to_configs(value: list[dict[str, Any]]) -> list[SqlSensorConfig]:
    return [SqlSensorConfig(**entry) for entry in value]


CONFIG_SCHEMA = vol.All(validators.ensure_list, [_ENTRY], _to_configs)
"""Validates the list under ``sql:`` into :class:`SqlSensorConfig` entries."""

#: One read-only source per database URL.
_SOURCES: RuntimeKey[dict[str, ReadOnlySource]] = RuntimeKey("sql.sources")


class SqlSensor(SensorEntity):
    """A sensor whose value is one column of the first row of a read-only query."""

    _attr_should_poll = True
    scan_interval = SCAN_INTERVAL

    def __init__(self, config: SqlSensorConfig, source: ReadOnlySource) -> None:
        super().__init__()
        self.config = config
        self._source = source
        self._attr_name = config.name
        self._attr_unique_id = config.unique_id
        self._attr_native_unit_of_measurement = config.unit_of_measurement
        self._attr_device_class = config.device_class
        self._attr_state_class = config.state_class
        self._last_error: str | None = None

    async def async_update(self) -> None:
        """Run the query; the first row's ``column`` (through ``value_template``) is the state."""
        from .errors import SourceError  # noqa: PLC0415 - loaded with the source already

        try:
            rows = await self._source.fetch(self.config.query)
        except SourceError as err:
            self._fail(str(err))
            return
        if not rows:
            self._attr_available = True
            self._attr_native_value = None
            return
        if self.config.column not in rows[0]:
            self._fail(
                f"sql sensor {self.config.name!r}: the query has no column "
                f"{self.config.column!r} (it has {', '.join(rows[0]) or 'none'})"
            )
            return
        value = rows[0][self.config.column]
        if (template := self.config.value_template) is not None:
            template.runtime = self.runtime
            try:
                value = template.render({"value": value})
            except TemplateError as err:
                self._fail(f"sql sensor {self.config.name!r}: value_template: {err}")
                return
        text = format_state_value(value)
        if text is not None and len(text) > MAX_STATE_LENGTH:
            # The state machine refuses it: every write would fail, and the first one stopped
            # the first queries of the sensors after this one.
            self._fail(
                f"sql sensor {self.config.name!r}: the value has {len(text)} characters, more "
                f"than a state's {MAX_STATE_LENGTH}"
            )
            return
        self._attr_available = True
        self._last_error = None
        self._attr_native_value = value

    def _fail(self, message: str) -> None:
        if message != self._last_error:
            _LOGGER.error("%s", message)
            self._last_error = message
        self._attr_available = False


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is."""
    return Manifest(
        domain=DOMAIN,
        name="SQL",
        config_schema=validators.deferred("integrations.timescale.sql"),
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/sql/",
        entity_domains=("sensor",),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Create the sensors; each queries right after start-up, then every ``SCAN_INTERVAL``.

    The first queries run in a task, so an unreachable database does not hold ``/ready``.
    """
    from .sources import ReadOnlySource  # noqa: PLC0415 - asyncpg, only when configured

    entries: list[SqlSensorConfig] = config if isinstance(config, list) else []
    sources: dict[str, ReadOnlySource] = {}
    runtime.data[_SOURCES] = sources
    sensors = []
    for entry in entries:
        source = sources.get(entry.db_url)
        if source is None:
            source = sources[entry.db_url] = ReadOnlySource(entry.db_url, name=DOMAIN)
        sensors.append(SqlSensor(entry, source))
    await add_entities(runtime, DOMAIN, sensors)

    async def first_update() -> None:
        for sensor in sensors:
            await sensor.update_and_write()

    runtime.create_task(first_update(), f"{DOMAIN}.first_update")


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Close the sources' connections."""
    sources = runtime.data.get(_SOURCES)
    if sources is None:
        return
    del runtime.data[_SOURCES]
    for source in sources.values():
        await source.close()
