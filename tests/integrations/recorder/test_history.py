"""History queries (integrations/recorder/history.py) on SQLite and PostgreSQL.

Most tests write rows straight into a fresh database with ``insert_states`` (the recorder's own
writer is tested elsewhere), so that each pins one query behaviour on rows it fully controls.
The end-to-end tests at the bottom go through a real Runtime and Recorder.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from ulid_transform import ulid_at_time

from core.runtime import Runtime
from core.state import State
from integrations.recorder import sql
from integrations.recorder.core import get_recorder
from integrations.recorder.history import (
    get_downsampled,
    get_significant_states,
    get_significant_states_json,
    iso_formatter,
    state_changes_during_period,
)
from integrations.recorder.models import Base, StateAttributes, States, StatesMeta
from integrations.recorder.util import attrs_hash, context_id_to_bytes, json_dumps
from tests._helpers import run_site_script
from tests.integrations.recorder.conftest import MakeRuntime

#: 2024-01-01 00:00 UTC, the start of most periods below.
START = datetime(2024, 1, 1, tzinfo=UTC)
T0 = START.timestamp()

Row = tuple[float, str | None, Mapping[str, Any] | None]


class Database:
    """The read side the history queries need (``connect()``, as ``Recorder``'s) over a bare
    database, and a SQLAlchemy session for the tests to write rows with."""

    def __init__(self, engine: AsyncEngine, db: sql.Database) -> None:
        self.engine = engine
        self.db = db
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def connect(self) -> AbstractAsyncContextManager[sql.Connection]:
        """A connection for reading, through ``sql.py`` as the recorder's."""
        return self.db.connect()

    def session(self) -> AsyncSession:
        """A session for writing rows."""
        return self._sessions()


async def insert_states(session: AsyncSession, entity_id: str, rows: Sequence[Row]) -> list[str]:
    """Write ``(timestamp, state, attributes)`` rows of one entity as the recorder would.

    ``last_changed_ts`` is NULL when the state string differs from the entity's previous row, the
    previous ``last_changed`` otherwise; equal attribute sets share one ``state_attributes`` row;
    each row gets a ULID context, whose ids are returned in order.
    """
    metadata_id = await session.scalar(
        select(StatesMeta.metadata_id).where(StatesMeta.entity_id == entity_id)
    )
    if metadata_id is None:
        meta = StatesMeta(entity_id=entity_id)
        session.add(meta)
        await session.flush()
        metadata_id = meta.metadata_id
    previous = (
        await session.execute(
            select(States.state, States.last_updated_ts, States.last_changed_ts)
            .where(States.metadata_id == metadata_id)
            .order_by(States.last_updated_ts.desc())
            .limit(1)
        )
    ).first()
    has_previous = previous is not None
    prev_state, prev_changed = (
        (previous[0], previous[2] or previous[1]) if previous else (None, 0.0)
    )
    context_ids = []
    for ts, state, attributes in rows:
        attributes_id = None
        if attributes is not None:
            shared = json_dumps(attributes)
            attributes_id = await session.scalar(
                select(StateAttributes.attributes_id).where(
                    StateAttributes.hash == attrs_hash(shared),
                    StateAttributes.shared_attrs == shared,
                )
            )
            if attributes_id is None:
                attrs_row = StateAttributes(hash=attrs_hash(shared), shared_attrs=shared)
                session.add(attrs_row)
                await session.flush()
                attributes_id = attrs_row.attributes_id
        same = has_previous and state == prev_state
        context_id = ulid_at_time(ts)
        context_ids.append(context_id)
        session.add(
            States(
                metadata_id=metadata_id,
                state=state,
                attributes_id=attributes_id,
                last_updated_ts=ts,
                last_changed_ts=prev_changed if same else None,
                context_id_bin=context_id_to_bytes(context_id),
                context_user_id="user-1",
            )
        )
        has_previous = True
        if not same:
            prev_changed = ts
        prev_state = state
    await session.commit()
    return context_ids


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A database with the recorder's schema and no rows, on SQLite and on PostgreSQL."""
    engine = create_async_engine(db_url)
    reader = sql.open_database(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield Database(engine, reader)
    finally:
        await reader.dispose()
        await engine.dispose()


async def _insert(db: Database, entity_id: str, rows: Sequence[Row]) -> list[str]:
    async with db.session() as session:
        return await insert_states(session, entity_id, rows)


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _summary(items: Sequence[State | Mapping[str, Any]]) -> list[tuple[str, float]]:
    out = []
    for item in items:
        assert isinstance(item, State)
        out.append((item.state, item.last_updated_timestamp - T0))
    return out


UNIT = {"unit_of_measurement": "°C"}


# --- get_significant_states ----------------------------------------------------------------------


async def test_start_time_state_comes_first_clamped_to_start(db: Database) -> None:
    await _insert(
        db, "sensor.t", [(T0 - 100, "1", UNIT), (T0 + 10, "2", UNIT), (T0 + 20, "3", UNIT)]
    )

    history = await get_significant_states(db, START, _at(60), ["sensor.t"])

    states = history["sensor.t"]
    assert _summary(states) == [("1", 0.0), ("2", 10.0), ("3", 20.0)]
    first = states[0]
    assert isinstance(first, State)
    assert first.last_changed_timestamp == first.last_updated_timestamp == T0
    assert dict(first.attributes) == UNIT
    without = await get_significant_states(
        db, START, _at(60), ["sensor.t"], include_start_time_state=False
    )
    assert _summary(without["sensor.t"]) == [("2", 10.0), ("3", 20.0)]


async def test_period_includes_start_and_excludes_end(db: Database) -> None:
    await _insert(db, "sensor.t", [(T0, "1", None), (T0 + 10, "2", None), (T0 + 20, "3", None)])

    history = await get_significant_states(db, START, _at(20), ["sensor.t"])

    assert _summary(history["sensor.t"]) == [("1", 0.0), ("2", 10.0)]


async def test_states_carry_attributes_context_and_last_changed(db: Database) -> None:
    context_ids = await _insert(
        db, "sensor.t", [(T0 + 1, "5", UNIT), (T0 + 2, "5", {**UNIT, "x": 1})]
    )

    history = await get_significant_states(
        db, START, None, ["sensor.t"], significant_changes_only=False
    )

    first, second = history["sensor.t"]
    assert isinstance(first, State)
    assert isinstance(second, State)
    assert first.context.id == context_ids[0]
    assert first.context.user_id == "user-1"
    assert dict(second.attributes) == {**UNIT, "x": 1}
    assert second.last_updated_timestamp == T0 + 2
    assert second.last_changed_timestamp == T0 + 1  # an attribute-only change


async def test_significant_changes_only_drops_attribute_only_changes(db: Database) -> None:
    rows: list[Row] = [(T0 + 1, "20", UNIT), (T0 + 2, "20", {**UNIT, "x": 1}), (T0 + 3, "21", UNIT)]
    await _insert(db, "sensor.t", rows)
    await _insert(db, "climate.hall", rows)

    significant = await get_significant_states(db, START, None, ["sensor.t", "climate.hall"])
    everything = await get_significant_states(
        db, START, None, ["sensor.t"], significant_changes_only=False
    )

    assert _summary(significant["sensor.t"]) == [("20", 1.0), ("21", 3.0)]
    # A thermostat's attributes (its set point) are significant.
    assert _summary(significant["climate.hall"]) == [("20", 1.0), ("20", 2.0), ("21", 3.0)]
    assert _summary(everything["sensor.t"]) == [("20", 1.0), ("20", 2.0), ("21", 3.0)]


async def test_minimal_response_has_full_first_and_last_states_only(db: Database) -> None:
    await _insert(
        db,
        "sensor.t",
        [
            (T0 - 5, "1", UNIT),
            (T0 + 1, "2", UNIT),
            (T0 + 2, "2", UNIT),
            (T0 + 3, "3", UNIT),
            (T0 + 4, "4", UNIT),
        ],
    )

    history = await get_significant_states(
        db, START, None, ["sensor.t"], minimal_response=True, significant_changes_only=False
    )

    first, *middle, last = history["sensor.t"]
    assert isinstance(first, State)
    assert (first.state, first.last_updated_timestamp, dict(first.attributes)) == ("1", T0, UNIT)
    assert middle == [
        {"state": "2", "last_changed": "2024-01-01T00:00:01+00:00"},
        {"state": "3", "last_changed": "2024-01-01T00:00:03+00:00"},
    ]
    assert isinstance(last, State)
    assert (last.state, last.last_updated_timestamp, dict(last.attributes)) == ("4", T0 + 4, UNIT)


async def test_minimal_response_keeps_full_states_of_attribute_domains(db: Database) -> None:
    await _insert(db, "climate.hall", [(T0 + 1, "heat", UNIT), (T0 + 2, "off", UNIT)])
    await _insert(db, "climate.hall", [(T0 + 3, "heat", UNIT)])

    history = await get_significant_states(db, START, None, ["climate.hall"], minimal_response=True)

    assert all(isinstance(item, State) for item in history["climate.hall"])
    assert len(history["climate.hall"]) == 3


async def test_minimal_response_with_a_single_state(db: Database) -> None:
    await _insert(db, "sensor.t", [(T0 - 5, "1", UNIT)])

    history = await get_significant_states(db, START, None, ["sensor.t"], minimal_response=True)

    assert _summary(history["sensor.t"]) == [("1", 0.0)]


async def test_no_attributes_returns_states_without_attributes(db: Database) -> None:
    await _insert(db, "sensor.t", [(T0 - 5, "1", UNIT), (T0 + 1, "2", UNIT)])

    history = await get_significant_states(db, START, None, ["sensor.t"], no_attributes=True)

    assert _summary(history["sensor.t"]) == [("1", 0.0), ("2", 1.0)]
    assert all(isinstance(s, State) and not s.attributes for s in history["sensor.t"])


async def test_multiple_entities_in_requested_order_without_empty_ones(db: Database) -> None:
    await _insert(db, "sensor.a", [(T0 + 1, "a1", None), (T0 + 2, "a2", None)])
    await _insert(db, "sensor.b", [(T0 - 10, "b0", None), (T0 + 3, "b1", None)])
    await _insert(db, "sensor.old", [(T0 + 500, "later", None)])

    history = await get_significant_states(
        db, START, _at(100), ["sensor.b", "SENSOR.A", "sensor.old", "sensor.never"]
    )

    assert list(history) == ["sensor.b", "sensor.a"]
    assert _summary(history["sensor.a"]) == [("a1", 1.0), ("a2", 2.0)]
    assert _summary(history["sensor.b"]) == [("b0", 0.0), ("b1", 3.0)]
    everyone = await get_significant_states(db, START, _at(100))
    assert set(everyone) == {"sensor.a", "sensor.b"}
    assert await get_significant_states(db, START, None, ["sensor.never"]) == {}


async def test_removed_entity_has_no_state_at_start_or_in_the_period(db: Database) -> None:
    await _insert(db, "sensor.gone", [(T0 - 20, "1", None), (T0 - 10, None, None)])
    await _insert(db, "sensor.back", [(T0 - 20, "1", None), (T0 + 5, None, None)])
    await _insert(db, "sensor.back", [(T0 + 9, "2", None)])

    history = await get_significant_states(db, START, None, ["sensor.gone", "sensor.back"])

    assert list(history) == ["sensor.back"]
    assert _summary(history["sensor.back"]) == [("1", 0.0), ("2", 9.0)]


# --- the JSON of the history API ----------------------------------------------------------------


def _as_api_json(history: Mapping[str, Sequence[Any]]) -> list[list[dict[str, Any]]]:
    """What Home Assistant's history API answers for ``history`` (from the State path)."""
    return [
        [
            item
            if isinstance(item, dict)
            else {
                "entity_id": item.entity_id,
                "state": item.state,
                "attributes": dict(item.attributes),
                "last_changed": item.last_changed.isoformat(),
                "last_updated": item.last_updated.isoformat(),
            }
            for item in items
        ]
        for items in history.values()
    ]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"significant_changes_only": False},
        {"minimal_response": True},
        {"minimal_response": True, "no_attributes": True, "significant_changes_only": False},
        {"include_start_time_state": False, "no_attributes": True},
    ],
)
async def test_history_json_is_the_api_form_of_the_same_states(
    db: Database, options: dict[str, bool]
) -> None:
    await _insert(
        db,
        "sensor.t",
        [
            (T0 - 5, "1", UNIT),
            (T0 + 1.25, "2", UNIT),
            (T0 + 2, "2", {"unit_of_measurement": "°C", "note": 'a "quoted" é'}),
            (T0 + 3.0000004, "3", UNIT),
            (T0 + 4, None, None),
            (T0 + 64, "4\n", None),
        ],
    )
    await _insert(db, "climate.hall", [(T0 + 1, "heat", UNIT), (T0 + 2, "off", UNIT)])
    await _insert(db, "sensor.empty", [(T0 + 500, "later", None)])
    wanted = ["climate.hall", "sensor.t", "sensor.empty", "sensor.never"]

    states = await get_significant_states(db, START, _at(100), wanted, **options)
    text = await get_significant_states_json(db, START, _at(100), wanted, **options)

    assert json.loads(text) == _as_api_json(states)
    assert [items[0]["entity_id"] for items in json.loads(text)] == ["climate.hall", "sensor.t"]
    assert await get_significant_states_json(db, START, None, ["sensor.never"]) == "[]"


def test_iso_formatter_matches_datetime_isoformat() -> None:
    iso = iso_formatter()
    rng = random.Random(7)  # noqa: S311 - reproducible test samples, not secrets
    edges = [0.0, -0.5, 59.9999995, 59.9999994, 1704067199.9999996, 1704067200.0, 1704067200.5]
    samples = edges + [rng.uniform(0, 2e9) for _ in range(2000)]
    samples += [T0 + i * 0.1 for i in range(700)]  # a series within and across minutes
    for ts in samples:
        assert iso(ts) == datetime.fromtimestamp(ts, UTC).isoformat(), ts


# --- state_changes_during_period -----------------------------------------------------------------


async def test_state_changes_skip_attribute_only_changes(db: Database) -> None:
    await _insert(
        db,
        "light.desk",
        [
            (T0 - 1, "off", None),
            (T0 + 1, "on", {"b": 1}),
            (T0 + 2, "on", {"b": 2}),
            (T0 + 3, "off", None),
        ],
    )

    changes = await state_changes_during_period(db, START, None, "light.desk")

    assert _summary(changes["light.desk"]) == [("off", 0.0), ("on", 1.0), ("off", 3.0)]
    assert dict(changes["light.desk"][1].attributes) == {"b": 1}


async def test_state_changes_descending_with_limit(db: Database) -> None:
    await _insert(
        db, "sensor.t", [(T0 - 1, "0", None)] + [(T0 + i, str(i), None) for i in (1, 2, 3)]
    )

    newest = await state_changes_during_period(
        db, START, None, "sensor.t", descending=True, limit=2
    )
    all_descending = await state_changes_during_period(db, START, None, "sensor.t", descending=True)
    oldest = await state_changes_during_period(db, START, None, "sensor.t", limit=2)

    # With the changes cut by the limit, the state at start no longer describes the period.
    assert _summary(newest["sensor.t"]) == [("3", 3.0), ("2", 2.0)]
    assert _summary(all_descending["sensor.t"]) == [("3", 3.0), ("2", 2.0), ("1", 1.0), ("0", 0.0)]
    assert _summary(oldest["sensor.t"]) == [("1", 1.0), ("2", 2.0)]


async def test_state_changes_of_unknown_entity_are_empty(db: Database) -> None:
    assert await state_changes_during_period(db, START, None, "sensor.never") == {}


async def test_state_changes_no_attributes(db: Database) -> None:
    await _insert(db, "sensor.t", [(T0 + 1, "1", UNIT)])

    changes = await state_changes_during_period(db, START, None, "sensor.t", no_attributes=True)

    assert not changes["sensor.t"][0].attributes


# --- get_downsampled -----------------------------------------------------------------------------


async def test_downsampled_numeric_buckets_are_exact(db: Database) -> None:
    # 0.0, 0.5, ... 49.5 at 1 Hz over 100 s; plus states that are no value.
    rows: list[Row] = [(T0 + i, str(i / 2), UNIT) for i in range(100)]
    rows += [(T0 + i + 0.5, "unknown", UNIT) for i in (3, 30, 60)]
    rows += [(T0 + 80.5, "unavailable", UNIT), (T0 - 10, "1000", UNIT), (T0 + 100, "-1000", UNIT)]
    await _insert(db, "sensor.t", sorted(rows, key=lambda r: r[0]))

    result = await get_downsampled(db, ["sensor.t"], START, _at(100), points=4)

    buckets = result["sensor.t"]
    assert [b["t"] for b in buckets] == [_at(25 * k).isoformat() for k in range(4)]
    for k, bucket in enumerate(buckets):
        values = [i / 2 for i in range(25 * k, 25 * k + 25)]
        assert bucket["count"] == 25
        assert bucket["min"] == values[0]
        assert bucket["max"] == values[-1]
        assert bucket["mean"] == pytest.approx(sum(values) / 25, abs=1e-9)


async def test_downsampled_leaves_out_empty_buckets(db: Database) -> None:
    await _insert(db, "sensor.t", [(T0 + 1, "-2.5", None), (T0 + 2, "1e1", None)])
    await _insert(db, "sensor.t", [(T0 + 80, "unknown", None), (T0 + 90, "3", None)])

    result = await get_downsampled(db, ["sensor.t"], START, _at(100), points=10)

    assert result["sensor.t"] == [
        {"t": _at(0).isoformat(), "mean": 3.75, "min": -2.5, "max": 10.0, "count": 2},
        {"t": _at(90).isoformat(), "mean": 3.0, "min": 3.0, "max": 3.0, "count": 1},
    ]


async def test_downsampled_non_numeric_keeps_last_change_per_bucket(db: Database) -> None:
    rows: list[Row] = [(T0 - 5, "off", None)]
    rows += [(T0 + i, "on" if i % 2 == 0 else "off", None) for i in range(100)]
    await _insert(db, "switch.pump", rows)
    await _insert(db, "switch.idle", [(T0 - 5, "on", None), (T0 + 10, "off", None)])

    result = await get_downsampled(db, ["switch.pump", "switch.idle"], START, _at(100), points=4)

    assert result["switch.pump"] == [
        {"t": _at(24).isoformat(), "state": "on"},
        {"t": _at(49).isoformat(), "state": "off"},
        {"t": _at(74).isoformat(), "state": "on"},
        {"t": _at(99).isoformat(), "state": "off"},
    ]
    # A change later in bucket 0 replaces the state at start; bucket 0 of idle has only "off".
    assert result["switch.idle"] == [{"t": _at(10).isoformat(), "state": "off"}]


async def test_downsampled_mixed_entities(db: Database) -> None:
    await _insert(db, "sensor.n", [(T0 + 1, "1", None), (T0 + 2, "3", None)])
    await _insert(db, "sensor.text", [(T0 + 1, "1", None), (T0 + 2, "error", None)])
    await _insert(db, "sensor.unknown", [(T0 - 1, "unknown", None)])

    result = await get_downsampled(
        db, ["sensor.unknown", "sensor.text", "sensor.n", "sensor.none"], START, _at(10), points=1
    )

    assert list(result) == ["sensor.unknown", "sensor.text", "sensor.n"]
    assert result["sensor.n"] == [
        {"t": _at(0).isoformat(), "mean": 2.0, "min": 1.0, "max": 3.0, "count": 2}
    ]
    # One state that is not a number makes the entity non-numeric: its last state per bucket.
    assert result["sensor.text"] == [{"t": _at(2).isoformat(), "state": "error"}]
    assert result["sensor.unknown"] == [{"t": _at(0).isoformat(), "state": "unknown"}]


async def test_downsampled_leaves_out_numbers_out_of_a_doubles_range(db: Database) -> None:
    # One such state broke the whole query on PostgreSQL (CAST fails) and gave ±Inf on SQLite.
    rows: list[Row] = [(T0 + 1, "3", None), (T0 + 2, "1e400", None), (T0 + 3, "-1e999", None)]
    rows += [
        (T0 + 4, "5", None),
        (T0 + 6, "1" + "0" * 150, None),
        (T0 + 7, "9" * 240 + "e99", None),
    ]
    await _insert(db, "sensor.t", rows)

    result = await get_downsampled(db, ["sensor.t"], START, _at(10), points=2)

    # Not text either: the entity stays numeric; those states are left out of the aggregates.
    assert result["sensor.t"] == [
        {"t": _at(0).isoformat(), "mean": 4.0, "min": 3.0, "max": 5.0, "count": 2},
        {"t": _at(5).isoformat(), "mean": 1e150, "min": 1e150, "max": 1e150, "count": 1},
    ]


async def test_downsampled_rejects_bad_arguments(db: Database) -> None:
    with pytest.raises(ValueError, match="points"):
        await get_downsampled(db, ["sensor.t"], START, _at(10), points=0)
    with pytest.raises(ValueError, match="end after start"):
        await get_downsampled(db, ["sensor.t"], START, START)


# --- end to end: Runtime → state machine → Recorder → history ------------------------------------


@pytest.fixture
async def runtime(make_runtime: MakeRuntime, db_url: str) -> Runtime:
    """A started Runtime whose recorder writes to ``db_url``."""
    return await make_runtime(db_url)


async def test_recorded_states_come_back_as_history(runtime: Runtime) -> None:
    states, recorder = runtime.states, get_recorder(runtime)
    states.set("sensor.hall", "19.5", UNIT, timestamp=T0 - 60)
    states.set("sensor.hall", "20.0", UNIT, timestamp=T0 + 10)
    states.set("sensor.hall", "20.0", {**UNIT, "battery": 90}, timestamp=T0 + 20)
    written = states.set("sensor.hall", "20.5", UNIT, timestamp=T0 + 30)
    states.set("light.desk", "on", None, timestamp=T0 + 5)
    await recorder.flush()

    history = await get_significant_states(recorder, START, _at(60), ["sensor.hall", "light.desk"])
    minimal = await get_significant_states(
        recorder, START, _at(60), ["sensor.hall"], minimal_response=True
    )

    assert _summary(history["sensor.hall"]) == [("19.5", 0.0), ("20.0", 10.0), ("20.5", 30.0)]
    assert _summary(history["light.desk"]) == [("on", 5.0)]
    last = history["sensor.hall"][-1]
    assert isinstance(last, State)
    assert last.context.id == written.context.id
    assert dict(last.attributes) == UNIT
    assert minimal["sensor.hall"][1] == {"state": "20.0", "last_changed": _at(10).isoformat()}


async def test_recorded_numbers_downsample_in_the_database(runtime: Runtime) -> None:
    states, recorder = runtime.states, get_recorder(runtime)
    for second in range(60):
        states.set("sensor.power", str(second), UNIT, timestamp=T0 + second)
    states.set("sensor.power", "unavailable", UNIT, timestamp=T0 + 60.5)
    states.set("switch.pump", "on", None, timestamp=T0 + 1)
    await recorder.flush()

    result = await get_downsampled(
        recorder, ["sensor.power", "switch.pump"], START, _at(120), points=2
    )
    changes = await state_changes_during_period(recorder, START, _at(120), "sensor.power")

    assert result["sensor.power"] == [
        {"t": _at(0).isoformat(), "mean": 29.5, "min": 0.0, "max": 59.0, "count": 60}
    ]
    assert result["switch.pump"] == [{"t": _at(1).isoformat(), "state": "on"}]
    assert len(changes["sensor.power"]) == 61


_NO_SQLALCHEMY_SCRIPT = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.modules["sqlalchemy"] = None  # any import of it now raises ImportError

from automations.backtest.history import RecordedHistory
from core.runtime import Runtime
from integrations.recorder.core import get_recorder
from integrations.recorder.history import (
    get_downsampled, get_significant_states, get_significant_states_json,
    state_changes_during_period,
)
from integrations.recorder.logbook import events_during_period
from integrations.recorder.statistics_query import statistics_during_period


async def main():
    config = Path(sys.argv[1])
    (config / "configuration.yaml").write_text(
        "http:\\n  server_host: 127.0.0.1\\n  server_port: 0\\n"
        "recorder:\\n  commit_interval: 0\\n  auto_purge: false\\n"
    )
    runtime = Runtime(config)
    await runtime.start()
    recorder = get_recorder(runtime)
    print("status", await recorder.wait_started())
    start = datetime.now(UTC) - timedelta(hours=1)
    end = start + timedelta(hours=2)
    for value in range(5):
        runtime.states.set("sensor.power", str(value), {"unit_of_measurement": "W"})
    runtime.bus.fire("logbook_entry", {"message": "hello"})
    await recorder.flush()
    found = await get_significant_states(recorder, start, end, ["sensor.power"])
    print("history", len(found["sensor.power"]))
    text = await get_significant_states_json(recorder, start, end, ["sensor.power"])
    print("json", text.count('"sensor.power"'))
    changes = await state_changes_during_period(recorder, start, end, "sensor.power")
    print("changes", len(changes["sensor.power"]))
    buckets = await get_downsampled(recorder, ["sensor.power"], start, end, 1)
    print("downsampled", buckets["sensor.power"][0]["count"])
    events = await events_during_period(recorder, start, end, ["logbook_entry"])
    print("events", len(events))
    print("statistics", await statistics_during_period(recorder, start, end, None, "hour"))
    history = RecordedHistory(recorder, start.timestamp(), end.timestamp(), 2)
    rows = [row async for chunk in history.states() for row in chunk]
    print("replay", len(rows) >= 5)
    await runtime.stop()


asyncio.run(main())
"""


def test_reads_on_sqlite_need_no_sqlalchemy(tmp_path: Path) -> None:
    """In a fresh process where SQLAlchemy cannot be imported: history, its JSON, state
    changes, downsampled history, the logbook's events, statistics and the backtest's reader
    all answer from a SQLite site (the schema is made in the recorder's child process)."""
    lines = run_site_script(_NO_SQLALCHEMY_SCRIPT, str(tmp_path))
    assert lines == {
        "status": "ok",
        "history": "5",
        "json": "5",
        "changes": "5",
        "downsampled": "5",
        "events": "1",
        "statistics": "{}",
        "replay": "True",
    }
