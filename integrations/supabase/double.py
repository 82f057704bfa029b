"""A Supabase project on loopback, backed by the real PostgreSQL: PostgREST, Realtime and JWKS.

Supabase itself cannot run here, so tests, the simulator and ``bench/supabase.py`` talk to this
double instead; the official ``postgrest`` and ``realtime`` clients from PyPI drive it in the
tests, which is what makes it a faithful stand-in. It serves:

- ``/rest/v1/<table>``: PostgREST reads (``double_rest.py``: select, filters, ``or``, order,
  limit, offset, ``Prefer: count=exact`` with ``Content-Range``) and inserts/upserts
  (``Prefer: resolution=merge-duplicates``, ``on_conflict``, ``return=representation``).
  Every request needs an ``apikey`` of the project; ``Authorization: Bearer`` (else the apikey)
  must be a JWT signed with the project's secret; writes need ``role: service_role``.
- ``/realtime/v1/websocket?apikey=…&vsn=1.0.0``: Phoenix channels (``double_realtime.py``)
  with ``postgres_changes``; changes are captured in PostgreSQL by a row trigger that
  ``NOTIFY``s, so what a subscriber sees is what the database committed.
- ``/auth/v1/.well-known/jwks.json``: the project's public keys (set ``jwks``).

``go_down()``/``come_up()`` simulate an outage: sockets are dropped and every request gets 503
until the project is back, while the database keeps changing.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import asyncpg
import jwt
from aiohttp import web

from .double_realtime import RealtimeHub
from .double_rest import IDENT, QueryError, parse_query

_LOGGER = logging.getLogger(__name__)

NOTIFY_CHANNEL = "edgewise_realtime_double"
MAX_BODY = 4 * 1024 * 1024

_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.edgewise_realtime_double_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', json_build_object(
    'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'type', TG_OP,
    'commit_timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'record', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE row_to_json(NEW) END,
    'old_record', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE row_to_json(OLD) END)::text);
  RETURN NULL;
END $$;
"""


def _error(status: int, message: str, code: str = "PGRST100") -> web.Response:
    """A PostgREST error body."""
    body = {"code": code, "details": None, "hint": None, "message": message}
    return web.json_response(body, status=status)


class SupabaseDouble:
    """A loopback Supabase project over one PostgreSQL database. Runs on the event loop.

    Args:
        dsn: the database (``postgresql://postgres@127.0.0.1:5432/postgres``).
        tables: the tables published to Realtime (a trigger is installed on each).
        jwt_secret: the project's HS256 secret; the anon and service keys are signed with it.
    """

    def __init__(self, dsn: str, tables: tuple[str, ...], *, jwt_secret: str | None = None) -> None:
        self.dsn = dsn
        self.tables = tables
        self.jwt_secret = jwt_secret or secrets.token_urlsafe(32)
        self.ref = "edgewiselocal"
        self.issuer = f"https://{self.ref}.supabase.co/auth/v1"
        now = int(time.time())
        self.anon_key = jwt.encode(
            {"iss": "supabase", "ref": self.ref, "role": "anon", "iat": now, "exp": now + 10**8},
            self.jwt_secret,
        )
        self.service_key = jwt.encode(
            {
                "iss": "supabase",
                "ref": self.ref,
                "role": "service_role",
                "iat": now,
                "exp": now + 10**8,
            },
            self.jwt_secret,
        )
        self.jwks: dict[str, Any] = {"keys": []}
        self.jwks_requests = 0
        self.down = False
        #: PostgREST alone answers 503 (Realtime keeps serving).
        self.rest_down = False
        self.requests: list[tuple[str, str]] = []
        self.hub = RealtimeHub(self)
        self.url = ""
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._runner: web.AppRunner | None = None
        self._columns: dict[str, dict[str, str]] = {}
        self._keys: dict[str, tuple[str, ...]] = {}

    async def __aenter__(self) -> SupabaseDouble:
        """Connect to the database, install the triggers, listen, and serve on port 0."""
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
        async with self._pool.acquire() as conn:
            await conn.execute(_TRIGGER_FUNCTION)
            for table in self.tables:
                await conn.execute(
                    f'DROP TRIGGER IF EXISTS edgewise_realtime_double ON public."{table}"; '
                    f"CREATE TRIGGER edgewise_realtime_double AFTER INSERT OR UPDATE OR DELETE "
                    f'ON public."{table}" FOR EACH ROW '
                    f"EXECUTE FUNCTION public.edgewise_realtime_double_notify()"
                )
        for table in self.tables:
            await self.columns(table)
        self._listener = await asyncpg.connect(self.dsn)
        await self._listener.add_listener(NOTIFY_CHANNEL, self._notified)
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/rest/v1/{table}", self._read)
        app.router.add_post("/rest/v1/{table}", self._write)
        app.router.add_get("/realtime/v1/websocket", self.hub.websocket)
        app.router.add_get("/auth/v1/.well-known/jwks.json", self._jwks)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Close the sockets, stop serving and disconnect."""
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._listener is not None:
            await self._listener.close()
        if self._pool is not None:
            await self._pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool (tests change rows through it)."""
        assert self._pool is not None  # noqa: S101 - only used while entered
        return self._pool

    async def go_down(self) -> None:
        """Drop every socket and answer 503 until ``come_up``."""
        self.down = True
        await self.hub.close_all()

    def come_up(self) -> None:
        """Serve again."""
        self.down = False

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a token signed with the project's secret (``jwt`` errors otherwise)."""
        claims: dict[str, Any] = jwt.decode(
            token, self.jwt_secret, algorithms=["HS256"], options={"verify_aud": False}
        )
        return claims

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        change = json.loads(payload)
        keys = self._keys.get(change["table"])
        if keys is not None and change.get("old_record") is not None:
            # Replica identity default: the old record carries the primary key only.
            change["old_record"] = {k: change["old_record"].get(k) for k in keys}
        elif change.get("old_record") is None:
            change["old_record"] = {}
        change["columns"] = [
            {"name": n, "type": t} for n, t in self._columns.get(change["table"], {}).items()
        ]
        change["errors"] = None
        self.hub.dispatch(change)

    async def columns(self, table: str) -> dict[str, str]:
        """The table's columns and their SQL types (raises ``QueryError`` for no such table)."""
        if table not in self._columns:
            async with self.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON "
                    "n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = $1 "
                    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                    table,
                )
                keys = (
                    await conn.fetch(
                        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
                        "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indisprimary "
                        "AND i.indrelid = ('public.' || quote_ident($1))::regclass",
                        table,
                    )
                    if rows
                    else []
                )
            if not rows:
                raise QueryError(
                    f"Could not find the table 'public.{table}' in the schema cache", "PGRST205"
                )
            self._columns[table] = {r[0]: r[1] for r in rows}
            self._keys[table] = tuple(r[0] for r in keys)
        return self._columns[table]

    def _check_auth(self, request: web.Request) -> dict[str, Any] | web.Response:
        self.requests.append((request.method, request.path_qs))
        if self.down or self.rest_down:
            return web.Response(status=503, text="Service Unavailable")
        apikey = request.headers.get("apikey")
        if apikey not in (self.anon_key, self.service_key):
            return web.json_response(
                {
                    "message": "Invalid API key",
                    "hint": "Double check your Supabase `anon` or `service_role` API key.",
                },
                status=401,
            )
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else apikey
        try:
            return self.decode(token)
        except jwt.PyJWTError as err:
            return _error(401, f"JWT invalid: {err}", "PGRST301")

    async def _read(self, request: web.Request) -> web.Response:
        claims = self._check_auth(request)
        if isinstance(claims, web.Response):
            return claims
        table = request.match_info["table"]
        try:
            query = parse_query(table, list(request.query.items()))
            columns = await self.columns(table)
            rows_sql, count_sql, params = query.sql(columns)
        except QueryError as err:
            return _error(404 if err.code == "PGRST205" else 400, str(err), err.code)
        try:
            async with self.pool.acquire() as conn:
                body = await conn.fetchval(rows_sql, *params)
                total = None
                if "count=exact" in request.headers.get("Prefer", ""):
                    total = await conn.fetchval(count_sql, *params)
        except (asyncpg.DataError, asyncpg.PostgresSyntaxError) as err:
            return _error(400, str(err), getattr(err, "sqlstate", "22P02"))
        shown = len(json.loads(body))
        first = query.offset
        span = f"{first}-{first + shown - 1}" if shown else "*"
        response = web.Response(text=body, content_type="application/json")
        response.headers["Content-Range"] = f"{span}/{'*' if total is None else total}"
        return response

    async def _write(self, request: web.Request) -> web.Response:
        claims = self._check_auth(request)
        if isinstance(claims, web.Response):
            return claims
        table = request.match_info["table"]
        if not IDENT.match(table):
            return _error(400, f"invalid table name {table!r}")
        if claims.get("role") != "service_role":
            return _error(403, f"permission denied for table {table}", "42501")
        prefer = request.headers.get("Prefer", "")
        try:
            columns = await self.columns(table)
            body = await request.json()
        except QueryError as err:
            return _error(404, str(err), err.code)
        except ValueError:
            return _error(400, "Empty or invalid json", "PGRST102")
        rows = body if isinstance(body, list) else [body]
        if not rows or not all(isinstance(r, dict) for r in rows):
            return _error(400, "expected a JSON object or an array of objects", "PGRST102")
        names = list(rows[0])
        unknown = [n for n in names if n not in columns]
        if unknown:
            return _error(400, f"Could not find the '{unknown[0]}' column of '{table}'", "PGRST204")
        conflict = tuple(
            c for c in request.query.get("on_conflict", "").split(",") if c
        ) or self._keys.get(table, ())
        cols = ", ".join(f'"{n}"' for n in names)
        sql = (
            f'INSERT INTO public."{table}" ({cols}) SELECT {cols} FROM '  # noqa: S608 - names checked against the catalog
            f'json_populate_recordset(NULL::public."{table}", $1::json)'
        )
        if "resolution=merge-duplicates" in prefer and conflict:
            if any(c not in columns for c in conflict):
                return _error(400, f"on_conflict names an unknown column of {table}", "42703")
            updates = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names) or "NOTHING"
            target = ", ".join(f'"{c}"' for c in conflict)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {updates}"
        elif "resolution=ignore-duplicates" in prefer:
            sql += " ON CONFLICT DO NOTHING"
        sql = f"WITH w AS ({sql} RETURNING *) SELECT coalesce(json_agg(w), '[]'::json)::text FROM w"  # noqa: S608 - built above from checked names
        try:
            async with self.pool.acquire() as conn:
                written = await conn.fetchval(sql, json.dumps(rows))
        except asyncpg.UniqueViolationError as err:
            return _error(409, str(err), "23505")
        except asyncpg.PostgresError as err:
            return _error(400, str(err), getattr(err, "sqlstate", "XX000"))
        if "return=representation" in prefer:
            return web.Response(text=written, status=201, content_type="application/json")
        return web.Response(status=201)

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        return web.json_response(self.jwks)
