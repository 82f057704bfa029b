"""The ``timescale:`` section of ``configuration.yaml``: the central historian.

Example::

    # configuration.yaml
    timescale:
      db_url: postgresql://edgewise@central.example/historian
      site_id: plant-7
      table: edgewise_points          # default
      buffer_max_rows: 5000000        # store-and-forward buffer cap (SQLite in the config dir)
      buffer_full_policy: drop_oldest # or stop_accepting
      batch_size: 10000               # rows per central transaction
      flush_interval: 1               # seconds between moves of accepted rows to the buffer
      retry_wait: 5                   # seconds between attempts while the database is away
      attributes: false               # also keep each state's attributes (jsonb)
      compress_after_days: 7          # TimescaleDB only
      retain_days: 365                # hypertable retention policy, or the purge job
      write_commands: true            # run the central write_commands for this site (BACnet)
      command_poll_interval: 5
      exclude:
        domains: [sun]
        entity_globs: ["sensor.*_rssi"]

The include/exclude rules are the recorder's (``integrations/recorder/filters.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import voluptuous as vol

from core import validators
from integrations.recorder.filters import EntityFilter
from integrations.recorder.schema import FILTER_SCHEMA

from .const import (
    CONF_ATTRIBUTES,
    CONF_BATCH_SIZE,
    CONF_BUFFER_FULL_POLICY,
    CONF_BUFFER_MAX_ROWS,
    CONF_BUFFER_PATH,
    CONF_COMMAND_POLL_INTERVAL,
    CONF_COMPRESS_AFTER_DAYS,
    CONF_DB_URL,
    CONF_EXCLUDE,
    CONF_FLUSH_INTERVAL,
    CONF_INCLUDE,
    CONF_RETAIN_DAYS,
    CONF_RETRY_WAIT,
    CONF_SITE_ID,
    CONF_TABLE,
    CONF_WRITE_COMMANDS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_BUFFER_MAX_ROWS,
    DEFAULT_COMMAND_POLL_INTERVAL,
    DEFAULT_COMPRESS_AFTER_DAYS,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_RETRY_WAIT,
    DEFAULT_TABLE,
    MAX_TABLE_NAME,
    FullPolicy,
)

_IDENTIFIER = re.compile(rf"^[a-z_][a-z0-9_]{{0,{MAX_TABLE_NAME - 1}}}$")


@dataclass(frozen=True, slots=True)
class TimescaleConfig:
    """The validated ``timescale:`` section (keys as in the module doc)."""

    db_url: str
    site_id: str
    table: str = DEFAULT_TABLE
    buffer_path: Path | None = None
    buffer_max_rows: int = DEFAULT_BUFFER_MAX_ROWS
    buffer_full_policy: FullPolicy = FullPolicy.DROP_OLDEST
    batch_size: int = DEFAULT_BATCH_SIZE
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    retry_wait: float = DEFAULT_RETRY_WAIT
    attributes: bool = False
    compress_after_days: int = DEFAULT_COMPRESS_AFTER_DAYS
    retain_days: int | None = None
    write_commands: bool = False
    command_poll_interval: float = DEFAULT_COMMAND_POLL_INTERVAL
    include: EntityFilter = field(default_factory=EntityFilter)
    exclude: EntityFilter = field(default_factory=EntityFilter)


def _db_url(value: object) -> str:
    text = validators.string(value).strip()
    if not text.startswith(("postgresql://", "postgres://")):
        raise vol.Invalid(f"expected a URL such as 'postgresql://user@host/db', got {text!r}")
    return text


def _table(value: object) -> str:
    text = validators.string(value).strip()
    if not _IDENTIFIER.match(text):
        raise vol.Invalid(
            f"expected a lower-case SQL identifier of at most {MAX_TABLE_NAME} characters, "
            f"got {text!r}"
        )
    return text


def _site_id(value: object) -> str:
    text = validators.string(value).strip()
    if not 0 < len(text) <= 64:
        raise vol.Invalid("expected a site id of 1 to 64 characters")
    return text


def _entity_filter(value: dict[str, Any]) -> EntityFilter:
    return EntityFilter(
        domains=frozenset(value["domains"]),
        entities=frozenset(value["entities"]),
        entity_globs=tuple(value["entity_globs"]),
    )


_SECTION = vol.Schema(
    {
        vol.Required(CONF_DB_URL): _db_url,
        vol.Required(CONF_SITE_ID): _site_id,
        vol.Optional(CONF_TABLE, default=DEFAULT_TABLE): _table,
        vol.Optional(CONF_BUFFER_PATH): vol.All(validators.string, vol.Coerce(Path)),
        vol.Optional(CONF_BUFFER_MAX_ROWS, default=DEFAULT_BUFFER_MAX_ROWS): vol.All(
            vol.Coerce(int), vol.Range(min=1)
        ),
        vol.Optional(CONF_BUFFER_FULL_POLICY, default=FullPolicy.DROP_OLDEST.value): vol.All(
            vol.In([p.value for p in FullPolicy]), vol.Coerce(FullPolicy)
        ),
        vol.Optional(CONF_BATCH_SIZE, default=DEFAULT_BATCH_SIZE): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=100_000)
        ),
        vol.Optional(CONF_FLUSH_INTERVAL, default=DEFAULT_FLUSH_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=60)
        ),
        vol.Optional(CONF_RETRY_WAIT, default=DEFAULT_RETRY_WAIT): vol.All(
            vol.Coerce(float), vol.Range(min=0.01, max=3600)
        ),
        vol.Optional(CONF_ATTRIBUTES, default=False): validators.boolean,
        vol.Optional(CONF_COMPRESS_AFTER_DAYS, default=DEFAULT_COMPRESS_AFTER_DAYS): vol.All(
            vol.Coerce(int), vol.Range(min=1)
        ),
        vol.Optional(CONF_RETAIN_DAYS): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional(CONF_WRITE_COMMANDS, default=False): validators.boolean,
        vol.Optional(CONF_COMMAND_POLL_INTERVAL, default=DEFAULT_COMMAND_POLL_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=0.05, max=3600)
        ),
        vol.Optional(CONF_INCLUDE, default={}): vol.All(FILTER_SCHEMA, _entity_filter),
        vol.Optional(CONF_EXCLUDE, default={}): vol.All(FILTER_SCHEMA, _entity_filter),
    }
)


def _to_config(value: dict[str, Any]) -> TimescaleConfig:
    return TimescaleConfig(
        db_url=value[CONF_DB_URL],
        site_id=value[CONF_SITE_ID],
        table=value[CONF_TABLE],
        buffer_path=value.get(CONF_BUFFER_PATH),
        buffer_max_rows=value[CONF_BUFFER_MAX_ROWS],
        buffer_full_policy=value[CONF_BUFFER_FULL_POLICY],
        batch_size=value[CONF_BATCH_SIZE],
        flush_interval=value[CONF_FLUSH_INTERVAL],
        retry_wait=value[CONF_RETRY_WAIT],
        attributes=value[CONF_ATTRIBUTES],
        compress_after_days=value[CONF_COMPRESS_AFTER_DAYS],
        retain_days=value.get(CONF_RETAIN_DAYS),
        write_commands=value[CONF_WRITE_COMMANDS],
        command_poll_interval=value[CONF_COMMAND_POLL_INTERVAL],
        include=value[CONF_INCLUDE],
        exclude=value[CONF_EXCLUDE],
    )


CONFIG_SCHEMA = vol.All(_SECTION, _to_config)
"""Validates the value under ``timescale:`` into a :class:`TimescaleConfig`."""


def when(value: object) -> datetime:
    """An aware datetime from ISO 8601 text (UTC when no offset is given) or a datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = validators.string(value).strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise vol.Invalid(f"expected an ISO 8601 date and time, got {text!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _timestamp(value: object) -> float:
    return when(value).timestamp()


COMPLETENESS_SCHEMA = vol.Schema(
    {
        vol.Optional("start"): _timestamp,
        vol.Optional("end"): _timestamp,
    }
)
"""Data of ``timescale.completeness``: a time range (ISO 8601); entities come as the target."""

QUERY_SCHEMA = vol.Schema(
    {
        vol.Required("start"): when,
        vol.Optional("end"): when,
        vol.Optional("bucket"): vol.All(
            validators.time_period, vol.Range(min=timedelta(seconds=1), max=timedelta(days=366))
        ),
        vol.Optional("aggregate"): vol.In(["avg", "min", "max", "sum", "count", "first", "last"]),
        vol.Optional("site_id"): _site_id,
    }
)
"""Data of ``timescale.query``: points (or ``aggregate`` per ``bucket``) in a range; the one entity
comes as the call's target."""
