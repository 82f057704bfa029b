"""A small PostgREST client over aiohttp: bounded reads and upserts, typed errors.

Edgewise does not load the Supabase SDK at run time; these two calls are all it needs.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from core.errors import DeviceConnectError, DeviceProtocolError
from core.json import postgres_safe

from .const import MAX_RESPONSE_BYTES, REQUEST_TIMEOUT
from .filters import RowFilter


class PostgrestClient:
    """``<url>/rest/v1`` with one API key (and the bearer token that goes with it).

    Args:
        session: the aiohttp session (owned by the caller).
        url: the project URL (``https://<ref>.supabase.co``).
        apikey: the anon key for reads, the service key for the mirror's writes.
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, apikey: str) -> None:
        self._session = session
        self._base = f"{url}/rest/v1"
        self._headers = {"apikey": apikey, "Authorization": f"Bearer {apikey}"}
        self._device = url

    async def _request(
        self, method: str, table: str, params: list[tuple[str, str]], **kwargs: Any
    ) -> tuple[int, bytes]:
        url = f"{self._base}/{table}"
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                **kwargs,
            ) as response:
                body = await response.content.read(MAX_RESPONSE_BYTES + 1)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise DeviceProtocolError(
                        f"{table}: response larger than {MAX_RESPONSE_BYTES} bytes",
                        device=self._device,
                    )
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise DeviceConnectError(
                f"PostgREST {method} {table} failed: {err!r}", device=self._device
            ) from err
        if status >= 500:
            raise DeviceConnectError(
                f"PostgREST {method} {table}: HTTP {status}", device=self._device, code=status
            )
        if status >= 400:
            raise DeviceProtocolError(
                f"PostgREST {method} {table}: HTTP {status}: {body[:300]!r}",
                device=self._device,
                code=status,
            )
        return status, body

    async def select(
        self,
        table: str,
        filters: tuple[RowFilter, ...] = (),
        *,
        columns: str = "*",
        limit: int | None = None,
        order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` passing ``filters``.

        Raises:
            DeviceConnectError: the project cannot be reached (or answered 5xx).
            DeviceProtocolError: it refused the query, or the answer is not a list of rows.
        """
        params = [("select", columns), *(f.query for f in filters)]
        if order is not None:
            params.append(("order", order))
        if limit is not None:
            params.append(("limit", str(limit)))
        _, body = await self._request("GET", table, params, headers=self._headers)
        try:
            rows = json.loads(body)
        except ValueError as err:
            raise DeviceProtocolError(f"{table}: not JSON", device=self._device) from err
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise DeviceProtocolError(f"{table}: expected a list of rows", device=self._device)
        return rows

    async def upsert(
        self, table: str, rows: list[dict[str, Any]], *, on_conflict: str | None = None
    ) -> None:
        """Insert ``rows``, merging into rows with the same key.

        Raises:
            DeviceConnectError: the project cannot be reached (or answered 5xx).
            DeviceProtocolError: it refused the rows.
        """
        params = [("on_conflict", on_conflict)] if on_conflict else []
        headers = {
            **self._headers,
            "Prefer": "resolution=merge-duplicates,return=minimal",
            "Content-Type": "application/json",
        }
        # NaN, infinities and NUL characters would make PostgREST refuse the rows every time.
        body = json.dumps(postgres_safe(rows), default=str)
        await self._request("POST", table, params, headers=headers, data=body)
