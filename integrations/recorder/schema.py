"""The ``recorder:`` section of ``configuration.yaml`` and the recorder's service schemas.

Example::

    # configuration.yaml
    recorder:
      db_url: postgresql+asyncpg://edgewise@db.local/edgewise   # default: SQLite in the config dir
      commit_interval: 5        # seconds between transactions; 0 writes each change at once
      purge_keep_days: 10
      auto_purge: true          # nightly at 04:12
      auto_repack: true         # VACUUM after the purge on the second Sunday of the month
      max_queue: 200000         # changes kept in memory while the database is away
      db_retry_wait: 3
      exclude:
        domains: [sun]
        entity_globs: ["sensor.*_rssi"]
        event_types: [call_service]

A bare ``recorder:`` (or none at all: the recorder is on by default) takes every default.

What a crash can lose: changes wait in memory for up to ``commit_interval`` seconds (less when
a batch of ``MAX_BATCH_SIZE`` fills first), so a crash, a power cut or SIGKILL loses at most the
last ``commit_interval`` seconds of history (the database itself stays consistent), as in Home
Assistant. A graceful stop (SIGTERM, as systemd and ``docker stop`` send it, or Ctrl-C) writes
every accepted change before the process exits, waiting up to ``STOP_FLUSH_TIMEOUT`` (8 s) for
the database. Lower ``commit_interval`` to shrink the window; each commit costs disk writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from core import validators

from .const import (
    ATTR_DOMAINS,
    ATTR_ENTITY_GLOBS,
    ATTR_KEEP_DAYS,
    ATTR_REPACK,
    CONF_AUTO_PURGE,
    CONF_AUTO_REPACK,
    CONF_COMMIT_INTERVAL,
    CONF_DB_RETRY_WAIT,
    CONF_DB_URL,
    CONF_DOMAINS,
    CONF_ENTITIES,
    CONF_ENTITY_GLOBS,
    CONF_EVENT_TYPES,
    CONF_EXCLUDE,
    CONF_INCLUDE,
    CONF_MAX_QUEUE,
    CONF_PURGE_KEEP_DAYS,
    DEFAULT_COMMIT_INTERVAL,
    DEFAULT_DB_RETRY_WAIT,
    DEFAULT_MAX_QUEUE,
    DEFAULT_PURGE_KEEP_DAYS,
)
from .filters import EntityFilter


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """The validated ``recorder:`` section.

    Attributes:
        db_url: a SQLAlchemy async URL; None for ``sqlite+aiosqlite:///<config_dir>/edgewise.db``.
        commit_interval: seconds between transactions; 0 commits each item as it comes.
        purge_keep_days: days of states and events the nightly purge keeps.
        auto_purge: purge nightly at 04:12 local time.
        auto_repack: after the purge on the second Sunday of the month, VACUUM the database.
        max_queue: items kept in memory while the database is slow or gone; more are dropped.
        db_retry_wait: seconds between attempts while the database is unreachable.
        include, exclude: which entities and event types are recorded (``filters.py``).
    """

    db_url: str | None = None
    commit_interval: float = DEFAULT_COMMIT_INTERVAL
    purge_keep_days: int = DEFAULT_PURGE_KEEP_DAYS
    auto_purge: bool = True
    auto_repack: bool = True
    max_queue: int = DEFAULT_MAX_QUEUE
    db_retry_wait: float = DEFAULT_DB_RETRY_WAIT
    include: EntityFilter = field(default_factory=EntityFilter)
    exclude: EntityFilter = field(default_factory=EntityFilter)


def _glob(value: object) -> str:
    return validators.string(value).strip().lower()


FILTER_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_DOMAINS, default=[]): vol.All(validators.ensure_list, [validators.slug]),
        vol.Optional(CONF_ENTITIES, default=[]): validators.entity_ids,
        vol.Optional(CONF_ENTITY_GLOBS, default=[]): vol.All(validators.ensure_list, [_glob]),
        vol.Optional(CONF_EVENT_TYPES, default=[]): vol.All(
            validators.ensure_list, [validators.string]
        ),
    }
)


def _entity_filter(value: dict[str, Any]) -> EntityFilter:
    return EntityFilter(
        domains=frozenset(value[CONF_DOMAINS]),
        entities=frozenset(value[CONF_ENTITIES]),
        entity_globs=tuple(value[CONF_ENTITY_GLOBS]),
        event_types=frozenset(value[CONF_EVENT_TYPES]),
    )


def _db_url(value: object) -> str:
    text = validators.string(value).strip()
    if "://" not in text:
        raise vol.Invalid(
            f"expected a database URL such as 'sqlite+aiosqlite:///path', got {text!r}"
        )
    return text


_SECTION = vol.Schema(
    {
        vol.Optional(CONF_DB_URL): _db_url,
        vol.Optional(
            CONF_COMMIT_INTERVAL, default=DEFAULT_COMMIT_INTERVAL
        ): validators.positive_float,
        vol.Optional(CONF_PURGE_KEEP_DAYS, default=DEFAULT_PURGE_KEEP_DAYS): vol.All(
            vol.Coerce(int), vol.Range(min=1)
        ),
        vol.Optional(CONF_AUTO_PURGE, default=True): validators.boolean,
        vol.Optional(CONF_AUTO_REPACK, default=True): validators.boolean,
        vol.Optional(CONF_MAX_QUEUE, default=DEFAULT_MAX_QUEUE): vol.All(
            vol.Coerce(int), vol.Range(min=1)
        ),
        vol.Optional(CONF_DB_RETRY_WAIT, default=DEFAULT_DB_RETRY_WAIT): vol.All(
            vol.Coerce(float), vol.Range(min=0.01)
        ),
        vol.Optional(CONF_INCLUDE, default={}): vol.All(FILTER_SCHEMA, _entity_filter),
        vol.Optional(CONF_EXCLUDE, default={}): vol.All(FILTER_SCHEMA, _entity_filter),
    }
)


def _to_config(value: dict[str, Any]) -> RecorderConfig:
    return RecorderConfig(
        db_url=value.get(CONF_DB_URL),
        commit_interval=value[CONF_COMMIT_INTERVAL],
        purge_keep_days=value[CONF_PURGE_KEEP_DAYS],
        auto_purge=value[CONF_AUTO_PURGE],
        auto_repack=value[CONF_AUTO_REPACK],
        max_queue=value[CONF_MAX_QUEUE],
        db_retry_wait=value[CONF_DB_RETRY_WAIT],
        include=value[CONF_INCLUDE],
        exclude=value[CONF_EXCLUDE],
    )


CONFIG_SCHEMA = vol.All(lambda v: {} if v is None else v, _SECTION, _to_config)
"""Validates the value under ``recorder:`` into a :class:`RecorderConfig`."""

PURGE_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_KEEP_DAYS): vol.All(vol.Coerce(int), vol.Range(min=0)),
        vol.Optional(ATTR_REPACK, default=False): validators.boolean,
        # Accepted for Home Assistant clients, ignored: the purge does not apply the filter.
        vol.Optional("apply_filter", default=False): validators.boolean,
    }
)
"""Data of ``recorder.purge``: days to keep (default: ``purge_keep_days``), whether to repack."""

PURGE_ENTITIES_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_DOMAINS, default=[]): vol.All(validators.ensure_list, [validators.slug]),
        vol.Optional(ATTR_ENTITY_GLOBS, default=[]): vol.All(validators.ensure_list, [_glob]),
        vol.Optional(ATTR_KEEP_DAYS, default=0): vol.All(vol.Coerce(int), vol.Range(min=0)),
    }
)
"""Data of ``recorder.purge_entities`` (entity ids come as the call's target)."""
