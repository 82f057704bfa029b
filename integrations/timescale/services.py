"""The ``timescale`` services: ``timescale.completeness`` (response data)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.auth import Permission
from core.errors import ServiceValidationError
from core.runtime import Runtime
from core.services import ServiceCall, SupportsResponse

from .const import (
    ATTR_END,
    ATTR_ENTITY_ID,
    ATTR_START,
    DOMAIN,
    SERVICE_COMPLETENESS,
    SERVICE_QUERY,
)
from .historian import Historian
from .schema import COMPLETENESS_SCHEMA, QUERY_SCHEMA, TimescaleConfig
from .sources import ReadOnlySource, rows_as_points, series_query


def register_services(runtime: Runtime, historian: Historian) -> None:
    """Register ``timescale.completeness`` (admins: it names every series of the site)."""

    async def completeness(call: ServiceCall) -> dict[str, Any]:
        entity_ids = sorted(call.target.entity_ids) or None
        lines = await historian.completeness(
            entity_ids, call.data.get(ATTR_START), call.data.get(ATTR_END)
        )
        series: dict[str, list[dict[str, Any]]] = {}
        totals: dict[str, int] = dict.fromkeys(
            ("accepted", "delivered", "replayed", "dropped", "pending"), 0
        )
        for line in lines:
            entry: dict[str, Any] = {
                "hour": line.hour,
                "accepted": line.accepted,
                "delivered": line.delivered,
                "replayed": line.replayed,
                "dropped": line.dropped,
                "pending": line.pending,
                "missing": line.missing,
            }
            series.setdefault(line.entity_id, []).append(entry)
            for key in totals:
                totals[key] += entry[key]
        totals["missing"] = totals["dropped"] + totals["pending"]
        return {"site_id": historian.config.site_id, "totals": totals, "series": series}

    runtime.services.register(
        DOMAIN,
        SERVICE_COMPLETENESS,
        completeness,
        COMPLETENESS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="Per entity and hour: rows accepted, delivered, replayed, dropped, pending.",
        permission=Permission.ADMIN,
    )


def register_query(runtime: Runtime, config: TimescaleConfig, source: ReadOnlySource) -> None:
    """Register ``timescale.query``: reads of the central table through a read-only source."""

    async def query(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        if len(call.target.entity_ids) != 1:
            raise ServiceValidationError(
                "timescale.query reads one entity: give exactly one entity_id",
                domain=DOMAIN,
                service=SERVICE_QUERY,
                key=ATTR_ENTITY_ID,
            )
        (entity_id,) = call.target.entity_ids
        aggregate = data.get("aggregate")
        bucket = data.get("bucket")
        if bucket is not None and aggregate is None:
            aggregate = "avg"
        if aggregate is not None and bucket is None:
            raise ServiceValidationError(
                "an aggregate needs a bucket (e.g. bucket: '00:15:00')",
                domain=DOMAIN,
                service=SERVICE_QUERY,
                key="bucket",
            )
        end = data.get("end") or datetime.now(UTC)
        args: list[Any] = [data.get("site_id", config.site_id), entity_id, data["start"]]
        args.append(end)
        if bucket is not None:
            args.append(bucket)
        rows = await source.fetch(series_query(config.table, aggregate), *args)
        return {
            "entity_id": entity_id,
            "site_id": args[0],
            "aggregate": aggregate,
            "points": rows_as_points(rows),
        }

    runtime.services.register(
        DOMAIN,
        SERVICE_QUERY,
        query,
        QUERY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="One entity's points from the central database, raw or aggregated.",
        permission=Permission.CONTROL,
    )


def remove_services(runtime: Runtime) -> None:
    """Remove the services this integration registered (if they are there)."""
    for service in (SERVICE_COMPLETENESS, SERVICE_QUERY):
        if runtime.services.has(DOMAIN, service):
            runtime.services.remove(DOMAIN, service)
