"""The Supabase double, judged by the official ``postgrest`` and ``realtime`` clients."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest
from postgrest import APIError, AsyncPostgrestClient
from postgrest.types import CountMethod
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from integrations.supabase.double import SupabaseDouble
from tests._helpers import wait_for


async def _seed(double: SupabaseDouble) -> None:
    async with double.pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO latest_data (site_id, metric, value, unit) VALUES ($1, $2, $3, $4)",
            [
                (1, "power", 12.5, "kW"),
                (1, "energy", 340.0, "kWh"),
                (1, "temp", None, "°C"),
                (2, "power", 7.0, "kW"),
                (2, "flow", 3.25, "m³/h"),
            ],
        )


def _rest(double: SupabaseDouble, key: str) -> AsyncPostgrestClient:
    return AsyncPostgrestClient(
        f"{double.url}/rest/v1", headers={"apikey": key, "Authorization": f"Bearer {key}"}
    )


async def test_postgrest_client_filters_order_limit_and_count(double: SupabaseDouble) -> None:
    await _seed(double)
    async with _rest(double, double.anon_key) as client:
        got = (
            await client.from_("latest_data")
            .select("metric,value", count=CountMethod.exact)
            .eq("site_id", 1)
            .order("metric", desc=True)
            .limit(2)
            .execute()
        )
        assert got.data == [
            {"metric": "temp", "value": None},
            {"metric": "power", "value": 12.5},
        ]
        assert got.count == 3
        metrics = lambda r: sorted(row["metric"] for row in r.data)  # noqa: E731 - local helper
        table = client.from_("latest_data")
        assert metrics(await table.select("metric").gt("value", 10).execute()) == [
            "energy",
            "power",
        ]
        assert metrics(await table.select("metric").lte("value", 7).execute()) == ["flow", "power"]
        assert metrics(await table.select("metric").neq("site_id", 1).execute()) == [
            "flow",
            "power",
        ]
        assert metrics(await table.select("metric").in_("metric", ["flow", "temp"]).execute()) == [
            "flow",
            "temp",
        ]
        assert metrics(await table.select("metric").is_("value", "null").execute()) == ["temp"]
        assert metrics(await table.select("metric").like("unit", "k*").execute()) == [
            "energy",
            "power",
            "power",
        ]
        assert metrics(await table.select("metric").ilike("metric", "P*").execute()) == [
            "power",
            "power",
        ]
        assert metrics(await table.select("metric").not_.eq("site_id", 1).execute()) == [
            "flow",
            "power",
        ]
        assert metrics(
            await table.select("metric").or_("metric.eq.flow,value.is.null").execute()
        ) == ["flow", "temp"]
        page = await table.select("metric").order("metric").limit(2).offset(2).execute()
        assert [r["metric"] for r in page.data] == ["power", "power"]


async def test_postgrest_client_sees_errors_as_postgrest_reports_them(
    double: SupabaseDouble,
) -> None:
    async with _rest(double, double.anon_key) as client:
        with pytest.raises(APIError) as err:
            await client.from_("latest_data").select("nope").execute()
        assert err.value.code == "42703"
        with pytest.raises(APIError) as err:
            await client.from_("missing").select("*").execute()
        assert err.value.code == "PGRST205"
        with pytest.raises(APIError) as err:
            await client.from_("latest_data").upsert({"site_id": 1, "metric": "x"}).execute()
        assert err.value.code == "42501"
    async with _rest(double, "not-a-key") as client:
        with pytest.raises(APIError):
            await client.from_("latest_data").select("*").execute()


async def test_postgrest_client_upserts_merge_duplicates(double: SupabaseDouble) -> None:
    async with _rest(double, double.service_key) as client:
        row = {
            "kind": "appliance",
            "key": "a1",
            "data": {"on": True},
            "updated_at": "2026-01-01T00:00:00Z",
        }
        first = await client.from_("edgewise_mirror").upsert(row).execute()
        assert first.data[0]["data"] == {"on": True}
        row["data"] = {"on": False}
        await client.from_("edgewise_mirror").upsert(row).execute()
        got = await client.from_("edgewise_mirror").select("*").execute()
        assert [r["data"] for r in got.data] == [{"on": False}]
        await (
            client.from_("latest_data")
            .upsert([{"site_id": 9, "metric": "power", "value": 1.0}], on_conflict="site_id,metric")
            .execute()
        )
        await (
            client.from_("latest_data")
            .upsert([{"site_id": 9, "metric": "power", "value": 2.0}], on_conflict="site_id,metric")
            .execute()
        )
        got = await client.from_("latest_data").select("value").eq("site_id", 9).execute()
        assert got.data == [{"value": 2.0}]


async def _subscribe(
    client: AsyncRealtimeClient, event: str, filt: str | None, seen: list[dict[str, Any]]
) -> Any:
    states: list[RealtimeSubscribeStates] = []
    channel = client.channel("plant")
    channel.on_postgres_changes(
        event,  # type: ignore[arg-type] # the client takes the event's string value
        seen.append,
        table="latest_data",
        filter=filt,
    )
    await channel.subscribe(lambda state, _err: states.append(state))
    assert states == [RealtimeSubscribeStates.SUBSCRIBED]
    return channel


async def test_realtime_client_gets_filtered_changes_with_ids_and_data(
    double: SupabaseDouble,
) -> None:
    await _seed(double)
    client = AsyncRealtimeClient(f"{double.url}/realtime/v1", token=double.anon_key)
    await client.connect()
    try:
        seen: list[dict[str, Any]] = []
        await _subscribe(client, "*", "site_id=eq.1", seen)
        async with double.pool.acquire() as conn:
            await conn.execute("UPDATE latest_data SET value = 99 WHERE site_id = 2")
            await conn.execute(
                "UPDATE latest_data SET value = 13 WHERE metric = 'power' AND site_id = 1"
            )
            await conn.execute(
                "INSERT INTO latest_data (site_id, metric, value) VALUES (1, 'x', 1)"
            )
        await wait_for(lambda: len(seen) == 2, "two changes for site 1")
        update, insert = seen
        assert update["data"]["type"] == "UPDATE"
        assert update["data"]["table"] == "latest_data"
        assert update["data"]["schema"] == "public"
        assert update["data"]["record"]["value"] == 13
        assert set(update["data"]["old_record"]) == {"id"}
        assert {"name": "value", "type": "double precision"} in update["data"]["columns"]
        assert update["data"]["commit_timestamp"].endswith("Z")
        assert update["data"]["errors"] is None
        assert insert["data"]["type"] == "INSERT"
        assert insert["data"]["record"]["metric"] == "x"
    finally:
        await client.close()


async def test_realtime_filter_operators(double: SupabaseDouble) -> None:
    await _seed(double)
    client = AsyncRealtimeClient(f"{double.url}/realtime/v1", token=double.anon_key)
    await client.connect()
    try:
        seen: list[dict[str, Any]] = []
        await _subscribe(client, "UPDATE", "metric=in.(flow,temp)", seen)
        async with double.pool.acquire() as conn:
            await conn.execute("UPDATE latest_data SET value = value + 1")
        await wait_for(lambda: len(seen) == 2, "two matching updates")
        assert sorted(p["data"]["record"]["metric"] for p in seen) == ["flow", "temp"]
    finally:
        await client.close()


async def test_realtime_token_expiry_closes_channel_and_refresh_keeps_it(
    double: SupabaseDouble,
) -> None:
    now = int(time.time())
    short = jwt.encode({"role": "authenticated", "sub": "u1", "exp": now + 1}, double.jwt_secret)
    client = AsyncRealtimeClient(f"{double.url}/realtime/v1", token=double.anon_key)
    await client.connect()
    try:
        await client.set_auth(short)
        seen: list[dict[str, Any]] = []
        channel = await _subscribe(client, "*", None, seen)
        fresh = jwt.encode(
            {"role": "authenticated", "sub": "u1", "exp": now + 3600}, double.jwt_secret
        )
        await client.set_auth(fresh)
        await asyncio.sleep(1.5)  # past the first token's expiry: the refresh must hold
        async with double.pool.acquire() as conn:
            await conn.execute("INSERT INTO latest_data (site_id, metric) VALUES (5, 'a')")
        await wait_for(lambda: len(seen) == 1, "a change after the refresh")
        assert channel.is_joined
        expiring = jwt.encode(
            {"role": "authenticated", "sub": "u1", "exp": int(time.time()) + 1},
            double.jwt_secret,
        )
        await client.set_auth(expiring)
        await wait_for(lambda: not channel.is_joined, "the channel closed at expiry")
    finally:
        await client.close()
