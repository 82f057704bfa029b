"""The assistant's tools: what they take, what they answer, and the rules they run under.

Every tool runs AS THE ASKING USER: the handler gets a ``ToolContext`` with the user and a
context carrying the user's id, and permissions are checked here, in code, whatever the model
asks. Results are plain JSON data; text that comes from entities (names, states, attributes) is
returned as data and can grant nothing.

The read tools live here; the tools that act (services, drafts, optimizer) in ``actions``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.auth import Permission, User
from core.auth.areas import entity_area, may_see
from core.context import Context
from core.errors import EdgewiseError, Unauthorized

from .const import DEFAULT_PAGE, EVENT_TOOL_CALL, MAX_PAGE, MAX_TOOL_RESULT_CHARS

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .assistant import Assistant

_LOGGER = logging.getLogger(__name__)


class ToolError(EdgewiseError):
    """A tool cannot do what was asked; the message goes back to the model (and the user)."""


@dataclass(slots=True)
class ToolContext:
    """Who asks, and where the answer goes."""

    runtime: Runtime
    user: User
    assistant: Assistant
    context: Context
    session_id: str | None = None
    #: The model's ``tool_use`` id of the call being run (None over MCP).
    tool_use_id: str | None = None
    #: Called with events the chat shows (a confirmation to ask for, a draft to save).
    notify: Callable[[dict[str, Any]], None] = field(default=lambda _event: None)


ToolHandler = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool: its definition for the model and its handler."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    handler: ToolHandler
    permission: Permission = Permission.READ
    #: Whether the tool exists on this site (e.g. only when the optimizer is configured).
    available: Callable[[Runtime], bool] = field(default=lambda _runtime: True)
    #: Whether the tool keeps to the user's areas (core's ``User.areas``): one that cannot
    #: (automations, the control log, planning) is refused to a user limited to areas.
    area_aware: bool = True

    def definition(self) -> dict[str, Any]:
        """The Messages API (and MCP) form."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
        }


def _schema(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _str(
    args: Mapping[str, Any], key: str, default: str | None = None, limit: int = 200
) -> str | None:
    value = args.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolError(f"{key} must be a string")
    return value[:limit]


def _int(args: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolError(f"{key} must be an integer")
    return max(low, min(high, value))


# --- entities ------------------------------------------------------------------------------------


def _area_id(runtime: Runtime, area: str) -> str | None:
    if runtime.area_registry.get(area) is not None:
        return area
    found = runtime.area_registry.get_by_name(area)
    return found.id if found is not None else None


def _entity_summary(runtime: Runtime, entity_id: str) -> dict[str, Any] | None:
    state = runtime.states.get(entity_id)
    if state is None:
        return None
    attrs = state.attributes
    item: dict[str, Any] = {
        "entity_id": entity_id,
        "name": state.name[:100],
        "state": state.state[:100],
    }
    if (unit := attrs.get("unit_of_measurement")) is not None:
        item["unit"] = str(unit)[:20]
    if (device_class := attrs.get("device_class")) is not None:
        item["device_class"] = str(device_class)[:40]
    if (area := entity_area(runtime, entity_id)) is not None:
        item["area"] = area
    return item


async def find_entities(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Entities matching every filter given, a page at a time."""
    runtime = ctx.runtime
    query = (_str(args, "query") or "").lower()
    domain = _str(args, "domain")
    device_class = _str(args, "device_class")
    area = _str(args, "area")
    offset = _int(args, "offset", 0, 0, 1_000_000)
    limit = _int(args, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    area_id = None
    if area is not None:
        area_id = _area_id(runtime, area)
        if area_id is None:
            names = sorted(a.name for a in runtime.area_registry.values())[:50]
            raise ToolError(f"No area {area!r}; areas: {names}")
    matches: list[str] = []
    for state in runtime.states.all(domain):
        entity_id = state.entity_id
        if not may_see(runtime, ctx.user, entity_id):
            continue
        if query and query not in entity_id and query not in state.name.lower():
            continue
        if device_class is not None and state.attributes.get("device_class") != device_class:
            continue
        if area_id is not None and entity_area(runtime, entity_id) != area_id:
            continue
        matches.append(entity_id)
    matches.sort()
    page = matches[offset : offset + limit]
    entities = [item for eid in page if (item := _entity_summary(runtime, eid)) is not None]
    next_offset = offset + limit if offset + limit < len(matches) else None
    return {
        "total": len(matches),
        "offset": offset,
        "next_offset": next_offset,
        "entities": entities,
    }


async def get_state(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """One entity's state and attributes."""
    entity_id = _str(args, "entity_id") or ""
    _check_areas(ctx, [entity_id])
    state = ctx.runtime.states.get(entity_id)
    if state is None:
        raise ToolError(f"No entity {entity_id!r}")
    attributes = {str(k)[:60]: _bounded(v) for k, v in list(state.attributes.items())[:40]}
    return {
        "entity_id": entity_id,
        "state": state.state,
        "last_changed": state.last_changed.isoformat(),
        "area": entity_area(ctx.runtime, entity_id),
        "attributes": attributes,
    }


def _check_areas(ctx: ToolContext, entity_ids: list[str]) -> None:
    """Refuse entities outside the areas of a user limited to areas."""
    outside = [e for e in entity_ids if not may_see(ctx.runtime, ctx.user, e)]
    if outside:
        raise Unauthorized(
            f"User {ctx.user.username} may not see outside their areas: {', '.join(outside)}",
            user_id=ctx.user.id,
        )


def _bounded(value: Any) -> Any:
    text = json.dumps(value, default=str)
    return value if len(text) <= 300 else text[:300] + "…"


# --- history -------------------------------------------------------------------------------------


def _period(ctx: ToolContext, args: Mapping[str, Any]) -> tuple[datetime, datetime]:
    tz = ctx.runtime.core.tzinfo
    now = ctx.runtime.clock.now().astimezone(tz)
    day = _str(args, "day")
    if day is not None:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if day == "today":
            return midnight, now
        if day == "yesterday":
            return midnight - timedelta(days=1), midnight
        try:
            start = datetime.fromisoformat(day).replace(tzinfo=tz)
        except ValueError as err:
            raise ToolError("day must be today, yesterday or YYYY-MM-DD") from err
        return start, start + timedelta(days=1)
    try:
        start_text, end_text = _str(args, "start"), _str(args, "end")
        end = datetime.fromisoformat(end_text) if end_text else now
        start = datetime.fromisoformat(start_text) if start_text else end - timedelta(hours=24)
    except ValueError as err:
        raise ToolError("start and end must be ISO 8601 times") from err
    start = start if start.tzinfo else start.replace(tzinfo=tz)
    end = end if end.tzinfo else end.replace(tzinfo=tz)
    if end <= start or end - start > timedelta(days=366):
        raise ToolError("the period must be positive and at most a year long")
    return start, end


async def summarize_history(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Min, max, mean and last hourly mean of each entity over a period, from statistics."""
    runtime = ctx.runtime
    entity_ids = args.get("entity_ids")
    if (
        not isinstance(entity_ids, list)
        or not 1 <= len(entity_ids) <= 20
        or not all(isinstance(e, str) for e in entity_ids)
    ):
        raise ToolError("entity_ids must be a list of 1 to 20 entity ids")
    _check_areas(ctx, entity_ids)
    if not runtime.services.has("recorder", "get_statistics"):
        raise ToolError("History is not available: the recorder is not configured")
    start, end = _period(ctx, args)
    response = await runtime.services.call(
        "recorder",
        "get_statistics",
        {
            "statistic_ids": entity_ids,
            "start_time": start,
            "end_time": end,
            "period": "hour",
            "types": ["mean", "min", "max"],
        },
        context=ctx.context,
        return_response=True,
    )
    stats = (response or {}).get("statistics", {})
    result: dict[str, Any] = {}
    for entity_id in entity_ids:
        rows = stats.get(entity_id) or []
        means = [r["mean"] for r in rows if r.get("mean") is not None]
        mins = [r["min"] for r in rows if r.get("min") is not None]
        maxes = [r["max"] for r in rows if r.get("max") is not None]
        state = runtime.states.get(entity_id)
        unit = state.attributes.get("unit_of_measurement") if state is not None else None
        if not means:
            result[entity_id] = {"hours": 0, "note": "no statistics in this period", "unit": unit}
            continue
        warmest = max(
            rows, key=lambda r: r.get("max") if r.get("max") is not None else float("-inf")
        )
        result[entity_id] = {
            "hours": len(means),
            "min": round(min(mins), 3) if mins else None,
            "max": round(max(maxes), 3) if maxes else None,
            "max_at": warmest.get("start"),
            "mean": round(sum(means) / len(means), 3),
            "last": round(means[-1], 3),
            "unit": unit,
        }
    return {"start": start.isoformat(), "end": end.isoformat(), "statistics": result}


# --- running and auditing ------------------------------------------------------------------------


async def run_tool(ctx: ToolContext, tool: Tool, args: Any) -> tuple[str, bool]:
    """Run ``tool`` as ``ctx.user``; the JSON text for the model and whether it is an error.

    Every call is audited: an ``assistant_tool_call`` event with the user's context, and a log
    line. Refusals and failures become error results the model can explain, never exceptions.
    """
    started = time.perf_counter()
    outcome = "ok"
    is_error = False
    try:
        if not isinstance(args, dict):
            raise ToolError("the input must be an object")
        if not ctx.user.can(tool.permission):
            raise Unauthorized(f"User {ctx.user.username} may not use {tool.name}")
        if ctx.user.areas is not None and not tool.area_aware:
            raise Unauthorized(
                f"User {ctx.user.username} is limited to areas and may not use {tool.name}"
            )
        result = await tool.handler(ctx, args)
        text = json.dumps(result, default=str, ensure_ascii=False)
    except Unauthorized as err:
        outcome, is_error = "refused", True
        text = json.dumps({"error": "refused", "reason": str(err)})
    except (ToolError, EdgewiseError) as err:
        outcome, is_error = "error", True
        text = json.dumps({"error": str(err)})
    except Exception as err:  # an isolation boundary: one tool call
        _LOGGER.exception("Assistant tool %s failed", tool.name)
        outcome, is_error = "error", True
        text = json.dumps({"error": f"internal error: {type(err).__name__}"})
    if len(text) > MAX_TOOL_RESULT_CHARS:
        text = text[:MAX_TOOL_RESULT_CHARS] + "… (cut; ask for less, e.g. a smaller page)"
    if not is_error and '"needs_confirmation"' in text[:40]:
        outcome = "needs_confirmation"
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    ctx.runtime.bus.fire(
        EVENT_TOOL_CALL,
        {
            "user_id": ctx.user.id,
            "username": ctx.user.username,
            "tool": tool.name,
            "input": json.dumps(args, default=str)[:500],
            "outcome": outcome,
            "session_id": ctx.session_id,
            "duration_ms": duration_ms,
        },
        context=ctx.context,
    )
    _LOGGER.info("Assistant tool %s for %s: %s", tool.name, ctx.user.username, outcome)
    return text, is_error


READ_TOOLS: tuple[Tool, ...] = (
    Tool(
        "find_entities",
        "Find entities by text in their id or name, area (id or name), domain (sensor, climate, "
        "switch…) and device class (temperature, power…). Answers a page (default 20, at most "
        "50) with total and next_offset: page on rather than asking for everything.",
        _schema(
            {
                "query": {"type": "string"},
                "area": {"type": "string"},
                "domain": {"type": "string"},
                "device_class": {"type": "string"},
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            }
        ),
        find_entities,
    ),
    Tool(
        "get_state",
        "The current state, area and attributes of one entity.",
        _schema({"entity_id": {"type": "string"}}, ("entity_id",)),
        get_state,
    ),
    Tool(
        "summarize_history",
        "Min, max (and when), mean and last hourly mean of up to 20 entities over a period, "
        "from the long-term statistics. Give day (today, yesterday, YYYY-MM-DD) or start/end "
        "(ISO 8601); default the last 24 hours.",
        _schema(
            {
                "entity_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                "day": {"type": "string"},
                "start": {"type": "string"},
                "end": {"type": "string"},
            },
            ("entity_ids",),
        ),
        summarize_history,
    ),
)
