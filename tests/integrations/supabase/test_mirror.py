"""The mirror: appliance state, control log and notifications upserted to Supabase, in order."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import Context, Runtime
from integrations.supabase import SUPABASE
from integrations.supabase.double import SupabaseDouble
from integrations.tariff.api import API as TARIFF_API
from tests._helpers import wait_for
from tests.integrations._runtime import clock_of, running
from tests.integrations.tariff.conftest import tariff_yaml

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _yaml(double: SupabaseDouble) -> str:
    return f"""
http:
  server_port: 0
appliance:
  price: 0.30
  appliances:
    - {{name: Dishwasher, area: Kitchen, tier: shiftable, power: 2000}}
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  service_key: {double.service_key}
  mirror:
    states_table: appliance_states
    control_log_table: control_logs
    notifications_table: notifications
"""


async def _rows(double: SupabaseDouble, table: str) -> dict[str, Any]:
    async with double.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT key, data FROM {table}")  # noqa: S608 - test tables
    return {r["key"]: json.loads(r["data"]) for r in rows}


async def _switch(runtime: Runtime, service: str) -> None:
    await runtime.services.call(
        "appliance",
        service,
        target={"entity_id": "appliance.dishwasher"},
        context=Context(user_id="user-7"),
    )


async def _until(double: SupabaseDouble, table: str, check: Any, what: str) -> dict[str, Any]:
    """Poll ``table`` (the database has no event to await) until ``check`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        found = await _rows(double, table)
        if check(found):
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {found}")
        await asyncio.sleep(0.05)


async def test_appliance_state_control_log_and_notifications_reach_supabase(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    async with running(tmp_path, _yaml(double), START) as runtime:
        await _switch(runtime, "turn_on")
        runtime.notifications.create("Dishwasher done", title="Kitchen", notification_id="dw")
        states = await _until(
            double,
            "appliance_states",
            lambda r: r.get("appliance.dishwasher", {}).get("state") == "running",
            "the appliance's state",
        )
        logs = await _until(double, "control_logs", lambda r: len(r) == 1, "a control-log row")
        notes = await _until(double, "notifications", lambda r: "dw" in r, "the notification")
    assert states["appliance.dishwasher"]["attributes"]["tier"] == "shiftable"
    (entry,) = logs.values()
    assert (entry["appliance"], entry["action"], entry["user_id"]) == (
        "appliance.dishwasher",
        "turn_on",
        "user-7",
    )
    assert notes["dw"]["message"] == "Dishwasher done"
    assert notes["dw"]["dismissed"] is False
    posts = [path for method, path in double.requests if method == "POST"]
    assert posts
    assert all("on_conflict=key" in p for p in posts)


@pytest.mark.parametrize(
    ("attributes", "stored"),
    [
        ({"x": float("nan"), "y": [float("inf")]}, {"x": None, "y": [None]}),
        ({"x\x00": "a\x00b"}, {"x\ufffd": "a\ufffdb"}),
    ],
    ids=["nan_and_inf", "nul_character"],
)
async def test_a_state_postgrest_cannot_take_is_sent_cleaned_and_does_not_stall_the_rest(
    tmp_path: Path, double: SupabaseDouble, attributes: dict[str, Any], stored: dict[str, Any]
) -> None:
    # JSON has no NaN and jsonb holds no NUL: such a state was refused on every retry, taken
    # for an outage, and held back everything mirrored after it.
    async with running(tmp_path, _yaml(double), START) as runtime:
        runtime.states.set("appliance.odd", "on", attributes)
        runtime.notifications.create("Dishwasher done", title="Kitchen", notification_id="dw")
        await _until(double, "notifications", lambda r: "dw" in r, "the notification after it")
        states = await _until(double, "appliance_states", lambda r: "appliance.odd" in r, "odd")

    assert states["appliance.odd"]["attributes"] == stored


async def test_an_outage_is_buffered_on_disk_and_delivered_in_order_after(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    async with running(tmp_path, _yaml(double), START) as runtime:
        mirror = runtime.data[SUPABASE].mirror
        assert mirror is not None
        await wait_for(lambda: not mirror.outbox, "the first states delivered")
        await double.go_down()
        await _switch(runtime, "turn_on")
        await _switch(runtime, "turn_off")
        await wait_for(mirror.path.exists, "the outbox kept on disk")
        kept = json.loads(mirror.path.read_text())
        assert [row["data"]["action"] for table, row in kept if table == "control_logs"] == [
            "turn_on",
            "turn_off",
        ]
        double.come_up()
        logs = await _until(double, "control_logs", lambda r: len(r) == 2, "both entries")
        await wait_for(lambda: not mirror.path.exists(), "the outbox emptied")
        states = await _rows(double, "appliance_states")
    assert sorted(e["action"] for e in logs.values()) == ["turn_off", "turn_on"]
    assert states["appliance.dishwasher"]["state"] == "off"


async def test_what_was_not_delivered_before_a_restart_is_delivered_after(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await double.go_down()
    async with running(tmp_path, _yaml(double), START) as runtime:
        await _switch(runtime, "turn_on")
    assert (tmp_path / ".storage" / "supabase_mirror.json").exists()
    double.come_up()
    async with running(tmp_path, _yaml(double), START):
        logs = await _until(double, "control_logs", lambda r: len(r) == 1, "the entry")
    assert next(iter(logs.values()))["action"] == "turn_on"


@pytest.mark.parametrize(
    "kept", ['{"appliance_states": []}', "[1, 2]", '[["appliance_states"]]', "7"]
)
async def test_an_outbox_file_of_the_wrong_shape_is_named_and_the_mirror_starts_empty(
    tmp_path: Path, double: SupabaseDouble, caplog: pytest.LogCaptureFixture, kept: str
) -> None:
    # JSON, but not the list of [table, row] pairs the mirror writes (a hand edit, another
    # version): it is reported like unreadable JSON and the mirror still mirrors.
    (tmp_path / ".storage").mkdir()
    (tmp_path / ".storage" / "supabase_mirror.json").write_text(kept)
    async with running(tmp_path, _yaml(double), START) as runtime:
        await _switch(runtime, "turn_on")
        await _until(double, "control_logs", lambda r: len(r) == 1, "a control-log row")

    assert "supabase_mirror.json unreadable, starting empty" in caplog.text


async def test_schedule_log_and_receipts_of_the_tariff_reach_supabase(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    appliances = "  appliances:\n    - {name: Dishwasher, tier: shiftable, power: 2000}\n"
    yaml = tariff_yaml("Asia/Kolkata", appliances=appliances)
    yaml += f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  service_key: {double.service_key}
  mirror:
    receipts_table: receipts
    schedule_log_table: schedule_log
"""
    # 19:00 in Kolkata; the dishwasher is scheduled for 01:00-03:00 the next night.
    start = datetime(2026, 1, 14, 18, 30, tzinfo=UTC) + timedelta(hours=19)
    async with running(tmp_path, yaml, start) as runtime:
        clock = clock_of(runtime)
        runtime.data[TARIFF_API].create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "once",
                "start": "2026-01-16T01:00:00",
                "duration": "02:00:00",
            },
            "user-1",
        )
        await clock.advance_and_settle(timedelta(hours=6))
        await clock.advance_and_settle(timedelta(hours=2))
        log = await _until(double, "schedule_log", lambda r: len(r) == 2, "two log entries")
        receipts = await _until(double, "receipts", lambda r: len(r) == 1, "the run's receipt")
    assert sorted(e["action"] for e in log.values()) == ["turn_off", "turn_on"]
    (receipt,) = receipts.values()
    assert receipt["appliance"] == "appliance.dishwasher"
    assert receipt["energy_kwh"] == pytest.approx(4.0)


async def test_schedule_definitions_are_mirrored_when_made_re_run_and_deleted(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    appliances = "  appliances:\n    - {name: Dishwasher, tier: shiftable, power: 2000}\n"
    yaml = tariff_yaml("Asia/Kolkata", appliances=appliances)
    yaml += f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  service_key: {double.service_key}
  mirror:
    schedules_table: schedules
"""
    # 19:00 in Kolkata.
    start = datetime(2026, 1, 14, 18, 30, tzinfo=UTC) + timedelta(hours=19)
    async with running(tmp_path, yaml, start) as runtime:
        clock = clock_of(runtime)
        api = runtime.data[TARIFF_API]
        daily = api.create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "daily",
                "start": "22:00",
                "duration": "01:00:00",
                "name": "Evening wash",
            },
            "user-1",
        )
        once = api.create(
            {
                "appliance": "appliance.dishwasher",
                "kind": "once",
                "start": "2026-01-16T01:00:00",
                "duration": "00:30:00",
            },
            "user-1",
        )
        rows = await _until(double, "schedules", lambda r: len(r) == 2, "both schedules")
        assert rows[daily["id"]]["change"] == "created"
        assert rows[daily["id"]]["name"] == "Evening wash"
        assert rows[daily["id"]]["next_run"] == daily["next_run"]
        first_run = daily["next_run"]
        # The daily one runs at 22:00 and moves on to tomorrow's 22:00: an update.
        await clock.advance_and_settle(timedelta(hours=3, minutes=1))
        rows = await _until(
            double,
            "schedules",
            lambda r: r[daily["id"]]["next_run"] != first_run,
            "the daily schedule's next run",
        )
        assert rows[daily["id"]]["change"] == "updated"
        api.delete({"schedule_id": daily["id"]})
        rows = await _until(
            double, "schedules", lambda r: r[daily["id"]]["change"] == "deleted", "the deletion"
        )
        # The one-shot runs at 01:00 and ends at 01:30; then it is gone.
        await clock.advance_and_settle(timedelta(hours=4))
        rows = await _until(
            double, "schedules", lambda r: r[once["id"]]["change"] == "deleted", "the one-shot"
        )
    assert rows[daily["id"]]["id"] == daily["id"]
    # What Supabase holds survives a restart, which sends every schedule there is again.
    async with running(tmp_path, yaml, start + timedelta(hours=8)) as runtime:
        assert runtime.data[TARIFF_API].schedules.list() == []
    assert set(await _rows(double, "schedules")) == {daily["id"], once["id"]}
