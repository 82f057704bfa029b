"""The ``recorder:`` section and the service schemas."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.recorder.filters import EntityFilter
from integrations.recorder.schema import CONFIG_SCHEMA, PURGE_SCHEMA, RecorderConfig


def test_bare_section_takes_every_default() -> None:
    assert CONFIG_SCHEMA(None) == RecorderConfig()
    assert CONFIG_SCHEMA({}) == RecorderConfig()


def test_full_section() -> None:
    config = CONFIG_SCHEMA(
        {
            "db_url": "postgresql+asyncpg://u@h/db",
            "commit_interval": 0,
            "purge_keep_days": "3",
            "auto_purge": "off",
            "max_queue": 100,
            "db_retry_wait": 0.5,
            "include": {"domains": "sensor"},
            "exclude": {
                "entities": "sensor.a, sensor.b",
                "entity_globs": ["*_RSSI"],
                "event_types": "x",
            },
        }
    )
    assert config.db_url == "postgresql+asyncpg://u@h/db"
    assert config.commit_interval == 0
    assert config.purge_keep_days == 3
    assert config.auto_purge is False
    assert config.max_queue == 100
    assert config.include == EntityFilter(domains=frozenset({"sensor"}))
    assert config.exclude == EntityFilter(
        entities=frozenset({"sensor.a", "sensor.b"}),
        entity_globs=("*_rssi",),
        event_types=frozenset({"x"}),
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"db_url": "edgewise.db"}, "db_url"),
        ({"commit_interval": -1}, "commit_interval"),
        ({"purge_keep_days": 0}, "purge_keep_days"),
        ({"max_queue": 0}, "max_queue"),
        ({"exclude": {"entities": ["not an id"]}}, "exclude"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_values_name_their_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(section)
    assert key in str(err.value)


def test_purge_schema_defaults() -> None:
    assert PURGE_SCHEMA({}) == {"repack": False, "apply_filter": False}
    assert PURGE_SCHEMA({"keep_days": "2", "repack": True})["keep_days"] == 2
