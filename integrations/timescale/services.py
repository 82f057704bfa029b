"""The ``timescale`` services: ``timescale.completeness`` (response data)."""

from __future__ import annotations

from typing import Any

from core.runtime import Runtime
from core.services import ServiceCall, SupportsResponse

from .const import ATTR_END, ATTR_ENTITY_ID, ATTR_START, DOMAIN, SERVICE_COMPLETENESS
from .historian import Historian
from .schema import COMPLETENESS_SCHEMA


def register_services(runtime: Runtime, historian: Historian) -> None:
    """Register the services (today's ``services.register``; no ``permission=`` yet)."""

    async def completeness(call: ServiceCall) -> dict[str, Any]:
        lines = await historian.completeness(
            call.data.get(ATTR_ENTITY_ID), call.data.get(ATTR_START), call.data.get(ATTR_END)
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
    )


def remove_services(runtime: Runtime) -> None:
    """Remove the services this integration registered (if they are there)."""
    if runtime.services.has(DOMAIN, SERVICE_COMPLETENESS):
        runtime.services.remove(DOMAIN, SERVICE_COMPLETENESS)
