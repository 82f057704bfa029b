"""The tools that look at automations and the control log, and those that act.

``call_service`` enforces, in code: the service exists; the user's role may call it (the same
rule as the REST and WebSocket APIs); every entity exists and, for a user limited to areas
(core's ``User.areas``), the call aims only at those areas (``core.auth.areas``). Writes to
equipment and high-impact services are never run by the tool: it answers
``needs_confirmation`` and the user confirms or cancels in the chat (``assistant/confirm``),
where the checks run again; the outcome joins the conversation as the tool's result.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from core.auth import Permission, User
from core.auth.areas import check_call_in_areas
from core.context import Context
from core.http.permissions import check_service_allowed
from core.services import SupportsResponse
from core.yaml_loader import dump_yaml

from .const import CONFIRMATION_TTL, DEFAULT_PAGE, HELPER_DOMAINS, MAX_PAGE, MAX_WAITING
from .tools import Tool, ToolContext, ToolError, _int, _schema, _str

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .schema import AssistantConfig

_LOGGER = logging.getLogger(__name__)


# --- automations ---------------------------------------------------------------------------------


def _manager(runtime: Runtime) -> Any:
    from automations.manager import AutomationManager  # noqa: PLC0415 - only when asked

    manager = runtime.data.get(AutomationManager.KEY)
    if manager is None:
        raise ToolError("Automations are not configured on this site")
    return manager


async def list_automations(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Every automation: entity id, name, on/off, last triggered; paged."""
    manager = _manager(ctx.runtime)
    offset = _int(args, "offset", 0, 0, 1_000_000)
    limit = _int(args, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    query = (_str(args, "query") or "").lower()
    items = []
    for automation in sorted(manager.automations.values(), key=lambda a: a.entity_id):
        state = ctx.runtime.states.get(automation.entity_id)
        name = state.name if state is not None else automation.entity_id
        if query and query not in automation.entity_id and query not in name.lower():
            continue
        last = automation.last_triggered
        items.append(
            {
                "entity_id": automation.entity_id,
                "name": name[:100],
                "enabled": automation.enabled,
                "last_triggered": None if last is None else last.isoformat(),
            }
        )
    page = items[offset : offset + limit]
    next_offset = offset + limit if offset + limit < len(items) else None
    return {
        "total": len(items),
        "next_offset": next_offset,
        "automations": page,
        "errors": dict(list(manager.errors.items())[:10]),
    }


def _trace_summary(trace: dict[str, Any]) -> dict[str, Any]:
    steps = []
    for path, elements in (trace.get("trace") or {}).items():
        for element in elements[:3]:
            step: dict[str, Any] = {"path": path}
            if element.get("result") is not None:
                step["result"] = element["result"]
            if element.get("error"):
                step["error"] = element["error"]
            steps.append(step)
    return {
        "run_id": trace.get("run_id"),
        "start": (trace.get("timestamp") or {}).get("start"),
        "trigger": trace.get("trigger"),
        "outcome": trace.get("script_execution"),
        "last_step": trace.get("last_step"),
        "error": trace.get("error"),
        "steps": steps[:20],
    }


async def explain_automation(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Why an automation ran or did not: on/off, its triggers and conditions, its last traces."""
    from automations.api import get_trace, list_traces  # noqa: PLC0415 - only when asked

    manager = _manager(ctx.runtime)
    entity_id = _str(args, "entity_id") or ""
    automation = manager.by_entity_id(entity_id)
    if automation is None:
        raise ToolError(f"No automation {entity_id!r}; find it with list_automations")
    raw = automation.raw_config
    traces = list_traces(ctx.runtime, "automation", automation.item_id)[-3:]
    full = [get_trace(ctx.runtime, "automation", automation.item_id, t["run_id"]) for t in traces]
    last = automation.last_triggered
    return {
        "entity_id": entity_id,
        "enabled": automation.enabled,
        "last_triggered": None if last is None else last.isoformat(),
        "triggers": raw.get("triggers", raw.get("trigger")),
        "conditions": raw.get("conditions", raw.get("condition")),
        "recent_runs": [_trace_summary(t) for t in reversed(full) if t is not None],
        "note": "outcome failed_conditions means it triggered but a condition was false; no "
        "run in the period means no trigger fired (or it was disabled)",
    }


# --- control log ---------------------------------------------------------------------------------


def _has_control_log(runtime: Runtime) -> bool:
    from integrations.appliance.api import CONTROL_LOG  # noqa: PLC0415 - cheap, no deps

    return CONTROL_LOG in runtime.data


async def read_control_log(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """The appliance control log, newest first."""
    from integrations.appliance.api import CONTROL_LOG  # noqa: PLC0415 - only when asked
    from integrations.appliance.control_log import LogQuery  # noqa: PLC0415 - likewise

    log = ctx.runtime.data.get(CONTROL_LOG)
    if log is None:
        raise ToolError("The appliance control log is not configured on this site")
    query = LogQuery(appliance=_str(args, "appliance"), limit=_int(args, "limit", 20, 1, MAX_PAGE))
    entries = await log.query(query)
    return {"entries": [entry.as_dict() for entry in entries]}


# --- drafts --------------------------------------------------------------------------------------


async def draft_automation(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Validate an automation as check-config does; offer it to the user (never saved here)."""
    from automations.manager import AutomationManager, current_platforms  # noqa: PLC0415

    text = _str(args, "yaml", limit=20_000) or ""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ToolError(f"The YAML does not parse: {err}") from None
    if not isinstance(config, dict):
        raise ToolError("The YAML must be one automation (a mapping)")
    draft_id = uuid.uuid4().hex[:12]
    config.setdefault("id", f"assistant_{draft_id}")
    errors = await AutomationManager(ctx.runtime).check([config], current_platforms(ctx.runtime))
    if errors:
        return {"valid": False, "errors": errors}
    drafts = ctx.assistant.drafts
    drafts[draft_id] = (ctx.user.id, config)
    while len(drafts) > MAX_WAITING:  # the oldest unsaved drafts go first
        del drafts[next(iter(drafts))]
    ctx.notify({"type": "draft", "draft_id": draft_id, "yaml": dump_yaml(config)})
    return {
        "valid": True,
        "draft_id": draft_id,
        "saved": False,
        "note": "shown to the user, who may press save",
    }


# --- services ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingAction:
    """A service call waiting for its user's confirmation."""

    id: str
    user_id: str
    domain: str
    service: str
    entity_ids: tuple[str, ...]
    data: dict[str, Any]
    created: float
    #: The chat session and the model's ``tool_use`` that asked for it (None over MCP): the
    #: outcome goes back to the model as that tool's result.
    session_id: str | None = None
    tool_use_id: str | None = None

    def summary(self) -> str:
        """What will happen, in a line."""
        targets = ", ".join(self.entity_ids) or "no entity"
        extra = f" with {self.data}" if self.data else ""
        return f"{self.domain}.{self.service} on {targets}{extra}"


def check_call(
    runtime: Runtime,
    config: AssistantConfig,
    user: User,
    *,
    domain: str,
    service: str,
    entity_ids: list[str],
    data: dict[str, Any],
) -> None:
    """Raise when ``user`` may not call ``domain.service`` on ``entity_ids``.

    Raises:
        ToolError: the service or an entity does not exist.
        Unauthorized: the role does not allow the service, or an entity is outside the user's areas.
    """
    # The role first: a viewer learns nothing about which services exist.
    check_service_allowed(user, runtime.services, domain, service)
    if not runtime.services.has(domain, service):
        raise ToolError(f"There is no service {domain}.{service}")
    # The areas before existence: a user limited to areas learns nothing of the others.
    check_call_in_areas(runtime, user, domain, service, data=data, target={"entity_id": entity_ids})
    for entity_id in entity_ids:
        if runtime.states.get(entity_id) is None:
            raise ToolError(f"No entity {entity_id!r}")


def needs_confirmation(
    config: AssistantConfig, domain: str, service: str, entity_ids: list[str]
) -> bool:
    """Equipment writes and high-impact services are confirmed by the user."""
    if f"{domain}.{service}" in config.high_impact:
        return True
    return any(entity_id.split(".", 1)[0] not in HELPER_DOMAINS for entity_id in entity_ids)


async def call_service(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Call a service as the user, or ask the user to confirm it first."""
    domain = (_str(args, "domain") or "").lower()
    service = (_str(args, "service") or "").lower()
    entity_ids = args.get("entity_ids") or []
    data = args.get("data") or {}
    if (
        not isinstance(entity_ids, list)
        or len(entity_ids) > 20
        or not all(isinstance(e, str) for e in entity_ids)
    ):
        raise ToolError("entity_ids must be a list of at most 20 entity ids")
    if not isinstance(data, dict) or len(data) > 20:
        raise ToolError("data must be an object of at most 20 keys")
    assistant = ctx.assistant
    check_call(
        ctx.runtime,
        assistant.config,
        ctx.user,
        domain=domain,
        service=service,
        entity_ids=entity_ids,
        data=data,
    )
    if needs_confirmation(assistant.config, domain, service, entity_ids):
        pending = PendingAction(
            uuid.uuid4().hex[:16],
            ctx.user.id,
            domain,
            service,
            tuple(entity_ids),
            dict(data),
            time.monotonic(),
            ctx.session_id,
            ctx.tool_use_id,
        )
        waiting = assistant.pending
        now = time.monotonic()
        for old in [k for k, v in waiting.items() if now - v.created > CONFIRMATION_TTL]:
            del waiting[old]
        waiting[pending.id] = pending
        while len(waiting) > MAX_WAITING:
            del waiting[next(iter(waiting))]
        ctx.notify(
            {"type": "confirmation", "confirmation_id": pending.id, "summary": pending.summary()}
        )
        return {
            "status": "needs_confirmation",
            "confirmation_id": pending.id,
            "summary": pending.summary(),
            "note": "not done: the user must press confirm in the chat",
        }
    await run_call(
        ctx.runtime, ctx.context, domain=domain, service=service, entity_ids=entity_ids, data=data
    )
    return {"status": "done", "service": f"{domain}.{service}", "entity_ids": entity_ids}


async def run_call(
    runtime: Runtime,
    context: Context,
    *,
    domain: str,
    service: str,
    entity_ids: list[str],
    data: dict[str, Any],
) -> None:
    """Call the service with the user's context (equipment writes are audited by the pipeline)."""
    if "appliance" in runtime.loader.integrations:
        from integrations.appliance.const import Source  # noqa: PLC0415 - only with appliances
        from integrations.appliance.control_log import tag_context  # noqa: PLC0415

        tag_context(runtime, context, Source.ASSISTANT, "assistant")
    target = {"entity_id": entity_ids} if entity_ids else None
    await runtime.services.call(domain, service, data, target=target, context=context)


async def confirm(
    runtime: Runtime,
    config: AssistantConfig,
    pending: dict[str, PendingAction],
    user: User,
    confirmation_id: str,
) -> dict[str, Any]:
    """Run a pending action of ``user`` after checking again that the user may.

    Raises:
        ToolError: no such pending action of this user, or it expired.
        Unauthorized: the user may not (any more).
    """
    action = pending.get(confirmation_id)
    if action is None or action.user_id != user.id:
        raise ToolError("No such action waiting for confirmation")
    del pending[confirmation_id]
    if time.monotonic() - action.created > CONFIRMATION_TTL:
        raise ToolError("The confirmation expired; ask again")
    entity_ids = list(action.entity_ids)
    check_call(
        runtime,
        config,
        user,
        domain=action.domain,
        service=action.service,
        entity_ids=entity_ids,
        data=action.data,
    )
    await run_call(
        runtime,
        Context(user_id=user.id),
        domain=action.domain,
        service=action.service,
        entity_ids=entity_ids,
        data=action.data,
    )
    return {"status": "done", "summary": action.summary()}


# --- optimizer and tariff ------------------------------------------------------------------------


#: Services that act on equipment or publish: never run by a planning tool.
_NEVER_PREVIEW = frozenset({"apply_plan", "publish_plan"})


def _response_services(runtime: Runtime, domain: str) -> list[str]:
    services = runtime.services.services().get(domain, {})
    return sorted(
        name
        for name, svc in services.items()
        if svc.supports_response is not SupportsResponse.NONE and name not in _NEVER_PREVIEW
    )


def _domain_tool(domain: str) -> Any:
    async def handler(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        service = (_str(args, "service") or "").lower()
        data = args.get("data") or {}
        if service not in _response_services(ctx.runtime, domain):
            raise ToolError(
                f"{domain} has no service {service!r}; "
                f"it has {_response_services(ctx.runtime, domain)}"
            )
        if not isinstance(data, dict):
            raise ToolError("data must be an object")
        check_service_allowed(ctx.user, ctx.runtime.services, domain, service)
        response = await ctx.runtime.services.call(
            domain, service, data, context=ctx.context, return_response=True
        )
        return {"service": f"{domain}.{service}", "response": response}

    return handler


def _has_domain(domain: str) -> Any:
    return lambda runtime: bool(_response_services(runtime, domain))


ACTION_TOOLS: tuple[Tool, ...] = (
    Tool(
        "list_automations",
        "The automations: entity id, name, enabled, last triggered; paged, filter by text.",
        _schema(
            {
                "query": {"type": "string"},
                "offset": {"type": "integer"},
                "limit": {"type": "integer"},
            }
        ),
        list_automations,
        area_aware=False,
    ),
    Tool(
        "explain_automation",
        "Why an automation ran or did not: enabled, its triggers and conditions, and its last "
        "runs from its traces (trigger, outcome, condition results, errors).",
        _schema({"entity_id": {"type": "string"}}, ("entity_id",)),
        explain_automation,
        area_aware=False,
    ),
    Tool(
        "read_control_log",
        "The appliance control log (who or what switched which appliance, and the result), "
        "newest first.",
        _schema({"appliance": {"type": "string"}, "limit": {"type": "integer"}}),
        read_control_log,
        available=_has_control_log,
        area_aware=False,
    ),
    Tool(
        "draft_automation",
        "Validate an automation written as YAML (one mapping with triggers, conditions, actions) "
        "exactly as check-config does. A valid draft is shown to the user, who may save it; "
        "this tool never saves.",
        _schema({"yaml": {"type": "string"}}, ("yaml",)),
        draft_automation,
        area_aware=False,
    ),
    Tool(
        "call_service",
        "Call a service (domain.service) on entities, as the asking user. Only services the "
        "user's role allows, on entities in the user's areas. Writes to equipment answer "
        "needs_confirmation: tell the user to confirm in the chat; they are not done yet.",
        _schema(
            {
                "domain": {"type": "string"},
                "service": {"type": "string"},
                "entity_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                "data": {"type": "object"},
            },
            ("domain", "service"),
        ),
        call_service,
        permission=Permission.READ,
    ),
    Tool(
        "run_optimizer",
        "Run one of the optimizer's planning services (plan_deferrable_loads, sequence_chillers, "
        "optimize_setpoints) with its data and answer the plan; nothing is sent to equipment.",
        _schema({"service": {"type": "string"}, "data": {"type": "object"}}, ("service",)),
        _domain_tool("optimizer"),
        available=_has_domain("optimizer"),
        area_aware=False,
    ),
    Tool(
        "preview_tariff",
        "Preview energy costs with one of the tariff integration's services (with its data).",
        _schema({"service": {"type": "string"}, "data": {"type": "object"}}, ("service",)),
        _domain_tool("tariff"),
        available=_has_domain("tariff"),
        area_aware=False,
    ),
)
