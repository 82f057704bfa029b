"""The include/exclude rules of the recorder, as Home Assistant applies them."""

from __future__ import annotations

import pytest

from integrations.recorder.filters import EntityFilter, RecordFilter


def make(
    include: dict[str, list[str]] | None = None, exclude: dict[str, list[str]] | None = None
) -> RecordFilter:
    def side(spec: dict[str, list[str]] | None) -> EntityFilter:
        spec = spec or {}
        return EntityFilter(
            domains=frozenset(spec.get("domains", [])),
            entities=frozenset(spec.get("entities", [])),
            entity_globs=tuple(spec.get("entity_globs", [])),
            event_types=frozenset(spec.get("event_types", [])),
        )

    return RecordFilter(side(include), side(exclude))


def test_no_filter_records_everything() -> None:
    record = make()
    assert record.entity_recorded("sensor.x")
    assert record.event_recorded("anything")


def test_exclude_only_drops_what_is_listed() -> None:
    record = make(
        exclude={"domains": ["sun"], "entities": ["sensor.a"], "entity_globs": ["*_rssi"]}
    )
    assert not record.entity_recorded("sun.sun")
    assert not record.entity_recorded("sensor.a")
    assert not record.entity_recorded("sensor.wifi_rssi")
    assert record.entity_recorded("sensor.b")


def test_include_only_keeps_only_what_is_listed() -> None:
    record = make(include={"domains": ["light"], "entity_globs": ["sensor.energy_*"]})
    assert record.entity_recorded("light.desk")
    assert record.entity_recorded("sensor.energy_total")
    assert not record.entity_recorded("sensor.temp")


@pytest.mark.parametrize(
    ("entity_id", "recorded"),
    [
        ("sensor.kept_rssi", True),  # included entity beats an excluded glob
        ("sensor.temp_rssi", False),  # excluded glob beats an included domain
        ("sensor.noisy", False),  # excluded entity beats an included domain
        ("sensor.temp", True),  # included domain
        ("binary_sensor.door", False),  # nothing matches and includes exist
    ],
)
def test_precedence_when_both_are_given(entity_id: str, recorded: bool) -> None:
    record = make(
        include={"domains": ["sensor"], "entities": ["sensor.kept_rssi"]},
        exclude={"entities": ["sensor.noisy"], "entity_globs": ["sensor.*_rssi"]},
    )
    assert record.entity_recorded(entity_id) is recorded


def test_event_types() -> None:
    assert not make(exclude={"event_types": ["call_service"]}).event_recorded("call_service")
    included = make(include={"event_types": ["state_changed"]})
    assert included.event_recorded("state_changed")
    assert not included.event_recorded("call_service")
