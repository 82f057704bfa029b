"""The historian against the real PostgreSQL: rows, filters, quality, sites, the database away."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import voluptuous as vol

from integrations.timescale.central import Central
from integrations.timescale.schema import CONFIG_SCHEMA
from tests._helpers import free_port, wait_for

from .conftest import MakeRuntime, central_rows, drained, historian_of


async def test_states_become_narrow_rows_with_quality_and_unit(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(central_db, exclude={"domains": ["sun"]})
    runtime.states.set("sensor.temp", "21.5", {"unit_of_measurement": "°C"})
    runtime.states.set("sensor.mode", "heating")
    runtime.states.set("sensor.flow", "unavailable")
    runtime.states.set("sensor.level", "unknown")
    runtime.states.set("sensor.weird", "nan")
    runtime.states.set("sun.sun", "above_horizon")
    await drained(runtime)

    rows = await central_rows(
        central_db,
        "SELECT entity_id, value, text_value, quality, unit, attributes, site_id "
        "FROM edgewise_points ORDER BY entity_id",
    )
    got = {r["entity_id"]: tuple(r.values())[1:] for r in rows}
    assert got == {
        "sensor.flow": (None, None, "bad", None, None, "site-a"),
        "sensor.level": (None, None, "uncertain", None, None, "site-a"),
        "sensor.mode": (None, "heating", "good", None, None, "site-a"),
        "sensor.temp": (21.5, None, "good", "°C", None, "site-a"),
        "sensor.weird": (None, "nan", "good", None, None, "site-a"),
    }


#: A state and its attributes, and what the central table holds of them: text and attributes.
Odd = tuple[str, dict[str, object], str | None, dict[str, object]]


@pytest.mark.parametrize(
    "odd",
    [
        ("1", {"x": float("nan")}, None, {"x": None}),
        ("1", {"x": [float("inf"), {"y": float("-inf")}]}, None, {"x": [None, {"y": None}]}),
        ("1", {"x\x00": "a\x00b"}, None, {"x\ufffd": "a\ufffdb"}),
        (
            "a\x00b",
            {"unit_of_measurement": "W\x00"},
            "a\ufffdb",
            {"unit_of_measurement": "W\ufffd"},
        ),
    ],
    ids=["nan_attribute", "inf_in_a_nested_attribute", "nul_in_an_attribute", "nul_in_the_state"],
)
async def test_a_row_postgresql_cannot_hold_is_stored_cleaned_and_does_not_stall_the_rest(
    central_db: str, make_runtime: MakeRuntime, odd: Odd
) -> None:
    # jsonb holds no NaN or infinity and neither text nor jsonb a NUL character: such a row
    # was refused by every COPY, taken for an outage, and held back every row after it.
    state, attributes, stored_text, stored_attributes = odd
    runtime = await make_runtime(central_db, attributes=True, exclude={"domains": ["sun"]})
    runtime.states.set("sensor.odd", state, attributes)
    runtime.states.set("sensor.after", "2")
    await drained(runtime)

    rows = await central_rows(
        central_db, "SELECT entity_id, text_value, attributes FROM edgewise_points"
    )
    got = {r["entity_id"]: (r["text_value"], r["attributes"]) for r in rows}
    assert set(got) == {"sensor.odd", "sensor.after"}
    assert got["sensor.odd"][0] == stored_text
    assert json.loads(got["sensor.odd"][1]) == stored_attributes


async def test_include_globs_and_entities_choose_what_is_kept(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(
        central_db,
        include={"entity_globs": ["sensor.plant_*"], "entities": ["switch.pump"]},
        exclude={"entities": ["sensor.plant_secret"]},
        attributes=True,
    )
    for entity_id in ("sensor.plant_a", "sensor.plant_secret", "sensor.other", "switch.pump"):
        runtime.states.set(entity_id, "1", {"friendly_name": entity_id})
    await drained(runtime)
    rows = await central_rows(
        central_db, "SELECT entity_id, attributes FROM edgewise_points ORDER BY entity_id"
    )
    assert [r["entity_id"] for r in rows] == ["sensor.plant_a", "switch.pump"]
    assert json.loads(rows[0]["attributes"]) == {"friendly_name": "sensor.plant_a"}


async def test_three_sites_write_one_database_each_row_once(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    sites = [await make_runtime(central_db, site_id=f"site-{n}") for n in range(3)]
    for runtime in sites:
        for value in range(50):
            runtime.states.set("sensor.power", str(value))
    for runtime in sites:
        await drained(runtime)
    rows = await central_rows(
        central_db,
        "SELECT site_id, count(*) AS n, count(DISTINCT value) AS d "
        "FROM edgewise_points GROUP BY site_id ORDER BY site_id",
    )
    assert [tuple(r.values()) for r in rows] == [
        ("site-0", 50, 50),
        ("site-1", 50, 50),
        ("site-2", 50, 50),
    ]


async def test_database_down_at_start_keeps_rows_in_the_buffer(make_runtime: MakeRuntime) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    runtime = await make_runtime(nowhere)
    historian = historian_of(runtime)
    for value in range(20):
        runtime.states.set("sensor.x", str(value))
    await wait_for(lambda: historian.buffer.count == 20, "20 rows buffered")
    await wait_for(lambda: historian.send_failures >= 2, "retries")
    assert runtime.ready
    report = await runtime.services.call(
        "timescale", "completeness", {}, blocking=True, return_response=True
    )
    assert report is not None
    assert report["totals"] == {
        "accepted": 20,
        "delivered": 0,
        "replayed": 0,
        "dropped": 0,
        "pending": 20,
        "missing": 20,
    }


async def test_full_buffer_drops_oldest_counts_and_notifies(make_runtime: MakeRuntime) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    runtime = await make_runtime(nowhere, buffer_max_rows=10)
    historian = historian_of(runtime)
    for value in range(25):
        runtime.states.set("sensor.x", str(value))
    await wait_for(lambda: historian.rows_dropped == 15, "15 rows dropped")
    assert historian.buffer.count == 10
    kept = await runtime.run_in_executor(historian.buffer.oldest, 100)
    assert [row[2] for row in kept.rows] == [float(v) for v in range(15, 25)]
    notification = runtime.notifications.get("timescale_rows_dropped")
    assert notification is not None
    assert "15 row(s) dropped" in notification["message"]


async def test_full_buffer_stop_accepting_keeps_the_oldest(make_runtime: MakeRuntime) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    runtime = await make_runtime(nowhere, buffer_max_rows=10, buffer_full_policy="stop_accepting")
    historian = historian_of(runtime)
    for value in range(25):
        runtime.states.set("sensor.x", str(value))
    await wait_for(lambda: historian.rows_dropped == 15, "15 rows dropped")
    kept = await runtime.run_in_executor(historian.buffer.oldest, 100)
    assert [row[2] for row in kept.rows] == [float(v) for v in range(10)]


async def test_corrupt_buffer_is_moved_aside_and_replaced(
    central_db: str, make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    buffer_file = tmp_path / "buffer.db"
    buffer_file.write_bytes(b"this is not a database" * 500)
    runtime = await make_runtime(central_db, buffer_path=str(buffer_file))
    historian = historian_of(runtime)
    assert historian.buffer.moved_aside is not None
    assert historian.buffer.moved_aside.read_bytes().startswith(b"this is not a database")
    assert runtime.notifications.get("timescale_buffer_corrupt") is not None
    runtime.states.set("sensor.x", "1")
    await drained(runtime)
    assert len(await central_rows(central_db, "SELECT 1 FROM edgewise_points")) == 1


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"db_url": "mysql://x/y", "site_id": "a"}, "postgresql://"),
        ({"db_url": "postgresql://x/y"}, "site_id"),
        ({"db_url": "postgresql://x/y", "site_id": "a", "table": "x; DROP"}, "identifier"),
        (
            {"db_url": "postgresql://x/y", "site_id": "a", "buffer_full_policy": "panic"},
            "buffer_full_policy",
        ),
    ],
)
def test_bad_configuration_names_the_key(section: dict[str, str], message: str) -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(section)
    assert message in str(err.value) or message in str(err.value.path)


async def test_clock_jumps_and_equal_timestamps_lose_no_row(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(central_db)
    now = time.time()
    # Two changes in one microsecond, then the clock stepped back an hour, then forward a day.
    for value, when in ((1, now), (2, now), (3, now - 3600), (4, now + 86400), (5, now + 86400)):
        runtime.states.set("sensor.jumpy", str(value), timestamp=when)
    await drained(runtime)
    rows = await central_rows(central_db, "SELECT value, time FROM edgewise_points ORDER BY value")
    assert [r["value"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert rows[1]["time"] > rows[0]["time"]
    assert rows[2]["time"] < rows[0]["time"]  # the stepped-back clock's own time is kept
    assert rows[4]["time"] > rows[3]["time"]


async def test_plain_postgresql_gets_a_brin_time_index_and_a_purge(central_db: str) -> None:
    config = CONFIG_SCHEMA({"db_url": central_db, "site_id": "a", "retain_days": 1})
    central = Central(config)
    await central.connect()
    try:
        assert central.timescale is False
        now = time.time()
        old = (now - 3 * 86400, "sensor.old", 1.0, None, "good", None, None)
        new = (now, "sensor.new", 2.0, None, "good", None, None)
        assert await central.send(central.records([old, new])) == 2
        assert await central.purge() == 1
    finally:
        await central.close()
    rows = await central_rows(central_db, "SELECT entity_id FROM edgewise_points")
    assert [r["entity_id"] for r in rows] == ["sensor.new"]
    indexes = await central_rows(
        central_db, "SELECT indexdef FROM pg_indexes WHERE tablename = 'edgewise_points'"
    )
    assert any("USING brin" in r["indexdef"] for r in indexes)
    collations = await central_rows(
        central_db,
        "SELECT column_name, collation_name FROM information_schema.columns "
        "WHERE table_name = 'edgewise_points' AND column_name IN ('site_id', 'entity_id')",
    )
    assert {r["column_name"]: r["collation_name"] for r in collations} == {
        "site_id": "C",
        "entity_id": "C",
    }


async def test_row_times_are_the_states_own_to_the_microsecond(
    central_db: str, make_runtime: MakeRuntime
) -> None:
    runtime = await make_runtime(central_db)
    # Now-ish, one microsecond after PostgreSQL's epoch, before it (1999) and far ahead.
    stamps = (1_733_551_234.567891, 946_684_800.000001, 946_684_799.999999, 4_102_444_800.5)
    for n, when in enumerate(stamps):
        runtime.states.set(f"sensor.t{n}", str(n), timestamp=when)
    await drained(runtime)
    rows = await central_rows(central_db, "SELECT entity_id, time FROM edgewise_points")
    got = {r["entity_id"]: r["time"] for r in rows}
    assert got == {f"sensor.t{n}": datetime.fromtimestamp(w, UTC) for n, w in enumerate(stamps)}
