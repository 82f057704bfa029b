"""The ``supabase:`` source in a running Edgewise, against the double on the real PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from core.runtime import Runtime
from integrations.supabase import SUPABASE
from integrations.supabase.double import SupabaseDouble
from integrations.supabase.source import feed_notification_id
from tests._helpers import wait_for
from tests.integrations._runtime import running

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _yaml(double: SupabaseDouble, notify_after: float = 60) -> str:
    return f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  heartbeat_interval: 0.2
  feed_down_notify_after: {notify_after}
  sources:
    - table: latest_data
      filter: [site_id=eq.1, metric=neq.ignored]
      id_columns: [site_id, metric]
      value_column: value
      unit_column: unit
      device_class: power
      name: Alto plant
"""


async def _seed(double: SupabaseDouble) -> None:
    async with double.pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO latest_data (site_id, metric, value, unit) VALUES ($1, $2, $3, $4)",
            [(1, "power", 12.5, "kW"), (1, "ignored", 1.0, "kW"), (2, "power", 7.0, "kW")],
        )


async def _execute(double: SupabaseDouble, sql: str) -> None:
    async with double.pool.acquire() as conn:
        await conn.execute(sql)


def _state(runtime: Runtime, entity_id: str) -> str | None:
    state = runtime.states.get(entity_id)
    return None if state is None else state.state


async def test_rows_become_entities_and_changes_states_through_realtime(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await _seed(double)
    async with running(tmp_path, _yaml(double), START) as runtime:
        await wait_for(lambda: runtime.data[SUPABASE].feeds[0].joined, "Realtime joined")
        power = runtime.states.get("sensor.alto_plant_1_power")
        assert power is not None
        assert power.state == "12.5"
        assert power.attributes["unit_of_measurement"] == "kW"
        assert power.attributes["device_class"] == "power"
        assert runtime.states.get("sensor.alto_plant_1_ignored") is None
        assert runtime.states.get("sensor.alto_plant_2_power") is None
        await _execute(double, "UPDATE latest_data SET value = 14 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "14", "14 kW")
        await _execute(
            double,
            "INSERT INTO latest_data (site_id, metric, value, unit) VALUES (1, 'flow', 3, 'm³/h')",
        )
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_flow") == "3", "a new row")
        await _execute(double, "DELETE FROM latest_data WHERE metric = 'flow'")
        await wait_for(
            lambda: _state(runtime, "sensor.alto_plant_1_flow") == "unavailable", "deleted row"
        )
    assert all(method == "GET" for method, _ in double.requests), "never writes to sources"


async def test_a_change_made_while_disconnected_is_not_missed(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await _seed(double)
    async with running(tmp_path, _yaml(double, notify_after=0.3), START) as runtime:
        feed = runtime.data[SUPABASE].feeds[0]
        await wait_for(lambda: feed.joined, "Realtime joined")
        await double.go_down()
        await wait_for(
            lambda: _state(runtime, "sensor.alto_plant_1_power") == "unavailable",
            "unavailable while the feed is down",
        )
        await _execute(double, "UPDATE latest_data SET value = 99 WHERE site_id = 1")
        notification = feed_notification_id("latest_data")
        await wait_for(lambda: runtime.notifications.get(notification), "a feed-down notification")
        double.come_up()
        await wait_for(
            lambda: _state(runtime, "sensor.alto_plant_1_power") == "99",
            "the missed change, read again after the rejoin",
        )
        assert feed.joins == 2
        assert runtime.notifications.get(notification) is None
        await _execute(double, "UPDATE latest_data SET value = 100 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "100", "live")


async def test_token_expiring_during_a_subscription_is_refreshed_without_a_gap(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await _seed(double)
    issued: list[float] = []

    def short_token() -> str:
        issued.append(time.time())
        claims = {"role": "authenticated", "sub": "edge", "exp": int(time.time()) + 2}
        return jwt.encode(claims, double.jwt_secret)

    async with running(tmp_path, _yaml(double), START) as runtime:
        supabase = runtime.data[SUPABASE]
        supabase.access_token = short_token
        feed = supabase.feeds[0]
        await wait_for(lambda: feed.joined, "Realtime joined")
        # Force a join with a short-lived token (the first one used the anon key).
        await double.go_down()
        double.come_up()
        await wait_for(lambda: feed.joins == 2 and feed.joined, "joined with a short token")
        await wait_for(lambda: len(issued) >= 3, "two refreshes", within=8)
        assert feed.joins == 2
        await _execute(double, "UPDATE latest_data SET value = 42 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "42", "42")


async def test_a_channel_closed_for_an_expired_token_is_rejoined_and_reread(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await _seed(double)
    async with running(tmp_path, _yaml(double), START) as runtime:
        feed = runtime.data[SUPABASE].feeds[0]
        await wait_for(lambda: feed.joined, "Realtime joined")
        socket = next(iter(double.hub.sockets))
        await _execute(double, "UPDATE latest_data SET value = 7 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "7", "7")
        socket._expire(feed.topic)  # what the server does when the token runs out
        await wait_for(lambda: feed.joins == 2 and feed.joined, "rejoined on the same socket")
        await _execute(double, "UPDATE latest_data SET value = 8 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "8", "8")
        assert len(double.hub.sockets) == 1


async def test_a_join_whose_re_read_fails_does_not_count_and_is_retried(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    await _seed(double)
    async with running(tmp_path, _yaml(double), START) as runtime:
        feed = runtime.data[SUPABASE].feeds[0]
        await wait_for(lambda: feed.joined, "Realtime joined")
        double.rest_down = True
        await double.go_down()
        await _execute(double, "UPDATE latest_data SET value = 55 WHERE site_id = 1")
        double.come_up()
        await wait_for(
            lambda: sum(1 for m, p in double.requests if "realtime" not in p) >= 3,
            "re-reads tried and refused",
        )
        assert not feed.joined
        assert _state(runtime, "sensor.alto_plant_1_power") == "unavailable"
        double.rest_down = False
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "55", "caught up")


@pytest.mark.parametrize("when", ["read_at_the_join", "changed_later"])
async def test_a_value_longer_than_a_state_is_unknown_and_the_feed_carries_on(
    tmp_path: Path, double: SupabaseDouble, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    # A text column can hold more than a state's 255 characters: the state machine refused
    # the state, and the error ended the Realtime feed's task (no change arrived again).
    await _seed(double)
    await _execute(double, "ALTER TABLE latest_data ALTER COLUMN value TYPE text")
    long = "UPDATE latest_data SET value = repeat('x', 300) WHERE site_id = 1 AND metric = 'power'"
    if when == "read_at_the_join":
        await _execute(double, long)
    async with running(tmp_path, _yaml(double), START) as runtime:
        await wait_for(lambda: runtime.data[SUPABASE].feeds[0].joined, "Realtime joined")
        if when == "changed_later":
            await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "12.5", "12.5")
            await _execute(double, long)
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "unknown", "unknown")
        await _execute(
            double,
            "INSERT INTO latest_data (site_id, metric, value, unit) VALUES (1, 'flow', 3, 'm³/h')",
        )
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_flow") == "3", "a new row")

    assert "holds 300 characters, more than a state's 255" in caplog.text


async def test_a_filtered_integer_too_big_for_a_float_does_not_stop_the_feed(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    # A numeric column holds integers past a double; Realtime sends them as JSON integers.
    # Filtering on one raised OverflowError in the feed's task, which then ended: no change
    # reached Edgewise again until a restart.
    await _execute(double, "ALTER TABLE latest_data ALTER COLUMN value TYPE numeric(1000, 0)")
    await _seed(double)
    yaml = _yaml(double).replace("metric=neq.ignored", "metric=neq.ignored, value=gte.0")
    async with running(tmp_path, yaml, START) as runtime:
        await wait_for(lambda: runtime.data[SUPABASE].feeds[0].joined, "Realtime joined")
        await _execute(
            double, "UPDATE latest_data SET value = 10::numeric(1000, 0) ^ 400 WHERE site_id = 1"
        )
        await wait_for(
            lambda: _state(runtime, "sensor.alto_plant_1_power") != "13", "the huge value"
        )
        await _execute(
            double,
            "INSERT INTO latest_data (site_id, metric, value, unit) VALUES (1, 'flow', 3, 'm³/h')",
        )
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_flow") == "3", "a new row")
        power = _state(runtime, "sensor.alto_plant_1_power")

    assert power == "unknown"


async def test_a_malformed_realtime_message_is_skipped_and_the_feed_carries_on(
    tmp_path: Path, double: SupabaseDouble, caplog: pytest.LogCaptureFixture
) -> None:
    # A message whose parts have unexpected types (here binding ids that are lists) raised
    # TypeError in the feed's task, which caught only network errors and ended: no change
    # reached Edgewise again until a restart.
    payload = {"ids": [[1]], "data": {"table": "latest_data", "type": "UPDATE", "record": {}}}
    await _seed(double)
    async with running(tmp_path, _yaml(double), START) as runtime:
        feed = runtime.data[SUPABASE].feeds[0]
        await wait_for(lambda: feed.joined, "Realtime joined")
        for socket in double.hub.sockets:
            socket.send({"event": "postgres_changes", "topic": feed.topic, "payload": payload})
        await _execute(double, "UPDATE latest_data SET value = 14 WHERE site_id = 1")
        await wait_for(lambda: _state(runtime, "sensor.alto_plant_1_power") == "14", "14 kW")

    assert "a message could not be handled; skipped" in caplog.text
