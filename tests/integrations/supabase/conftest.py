"""Fixtures for the Supabase tests: a private PostgreSQL database and the Supabase double on it.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, user ``postgres``). Each test gets a database of
its own with the seed systems' tables (``latest_data`` as Alto reads it; mirror tables as
VoltWise keeps them), dropped afterwards. When the server cannot be reached, the local cluster
is started; failing that, the tests fail under ``CI=true`` and skip elsewhere (tests/_postgres.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from integrations.supabase.double import SupabaseDouble
from tests._postgres import Databases, pg_dsn

SCHEMA = """
CREATE TABLE latest_data (
    id bigserial PRIMARY KEY,
    site_id integer NOT NULL,
    metric text NOT NULL,
    value double precision,
    unit text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, metric)
);
CREATE TABLE edgewise_mirror (
    kind text NOT NULL,
    key text NOT NULL,
    data jsonb NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE appliance_states (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
CREATE TABLE control_logs (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
CREATE TABLE notifications (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
CREATE TABLE receipts (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
CREATE TABLE schedule_log (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
CREATE TABLE schedules (key text PRIMARY KEY, data jsonb NOT NULL, updated_at timestamptz);
"""


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A fresh database with the seed tables; its DSN."""
    databases = Databases()
    name = await databases.create("edgewise_supabase")
    dsn = pg_dsn(name)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
    finally:
        await conn.close()
    yield dsn
    await databases.drop_all()


@pytest.fixture
async def double(database: str) -> AsyncIterator[SupabaseDouble]:
    """The Supabase double on the test's database, publishing ``latest_data``."""
    async with SupabaseDouble(database, ("latest_data", "edgewise_mirror")) as project:
        yield project
