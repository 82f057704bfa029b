"""The backtest report: runs, conditions, actions, traces, a summary, a diff and what was not
reproduced, as JSON-ready dicts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from .engine import ReplayResult

#: Template functions that read today's registries rather than recorded history.
_EXTERNAL_TEMPLATE = re.compile(
    r"\b(area_\w+|device_\w+|integration_entities|label_\w+|floor_\w+|is_device_attr)\s*\("
)
_ENTITY_IN_TEMPLATE = re.compile(
    r"['\"]([a-z0-9_]+\.[a-z0-9_]+)['\"]|\bstates\.([a-z0-9_]+\.[a-z0-9_]+)"
)
_ENTITY_KEYS = frozenset({"entity_id", "entity_ids"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def referenced_entities(config: Any) -> set[str]:
    """Entity ids an automation config names (in ``entity_id`` keys and in templates)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key in _ENTITY_KEYS:
                    for text in _strings(item):
                        if "{" not in text and "." in text:
                            found.add(text.lower())
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, str) and "{" in value:
            for match in _ENTITY_IN_TEMPLATE.finditer(value):
                found.add((match.group(1) or match.group(2)).lower())

    walk(config)
    return {e for e in found if not e.startswith(("automation.backtest_",))}


def _conditions(trace: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for path, elements in trace.get("trace", {}).items():
        if path.startswith("condition/") and path.count("/") == 1:
            for element in elements:
                result.append(
                    {
                        "path": path,
                        "result": bool((element.get("result") or {}).get("result")),
                        "time": element.get("timestamp"),
                    }
                )
    return result


def runs_of(result: ReplayResult) -> list[dict[str, Any]]:
    """One entry per kept run: trigger, time, condition results, outcome, actions, trace."""
    by_context: dict[str, list[dict[str, Any]]] = {}
    for call in result.calls:
        by_context.setdefault(call.context_id, []).append(call.as_dict())
    runs = []
    for trace in result.traces:
        full = trace.as_dict()
        runs.append(
            {
                "run_id": trace.run_id,
                "time": full["timestamp"]["start"],
                "trigger": trace.trigger_description,
                "conditions": _conditions(full),
                "outcome": trace.script_execution or "running at the end of the period",
                "actions": by_context.get(trace.context.id, []),
                "trace": full,
            }
        )
    return runs


def summary_of(result: ReplayResult) -> dict[str, Any]:
    """Counts: runs, runs stopped by conditions, actions by service and by target."""
    outcomes = Counter(trace.script_execution or "running" for trace in result.traces)
    by_service = Counter(f"{c.domain}.{c.service}" for c in result.calls)
    by_target: Counter[str] = Counter()
    for call in result.calls:
        for entity_id in call.target.get("entity_id", []) or ["(no entity)"]:
            by_target[f"{call.domain}.{call.service} → {entity_id}"] += 1
    return {
        "runs": result.runs,
        "runs_kept": len(result.traces),
        "stopped_by_conditions": outcomes.get("failed_conditions", 0),
        "outcomes": dict(outcomes),
        "actions": len(result.calls),
        "actions_by_service": dict(by_service),
        "actions_by_target": dict(by_target),
        "simulated_changes": sum(len(c.simulated) for c in result.calls),
    }


def _call_key(call: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(call["time"]),
        str(call["service"]),
        repr(sorted((call.get("target") or {}).items())),
        repr(sorted((call.get("data") or {}).items())),
    )


def difference(new: ReplayResult, current: ReplayResult) -> dict[str, Any]:
    """The actions the edited version would add and drop against the current one."""
    new_calls = Counter(_call_key(c.as_dict()) for c in new.calls)
    old_calls = Counter(_call_key(c.as_dict()) for c in current.calls)
    by_key = {_call_key(c.as_dict()): c.as_dict() for c in [*new.calls, *current.calls]}
    added = [by_key[k] for k in sorted((new_calls - old_calls).elements())]
    removed = [by_key[k] for k in sorted((old_calls - new_calls).elements())]
    return {
        "runs": {"edited": new.runs, "current": current.runs},
        "actions": {"edited": len(new.calls), "current": len(current.calls)},
        "only_edited": added,
        "only_current": removed,
        "same": not added and not removed and new.runs == current.runs,
    }


def honesty(result: ReplayResult, raw_config: Any) -> dict[str, Any]:
    """What the replay could not reproduce."""
    referenced = referenced_entities(raw_config)
    missing = sorted(e for e in referenced if e not in result.seen_entities)
    external = sorted(
        {m.group(1) for text in _strings(raw_config) for m in _EXTERNAL_TEMPLATE.finditer(text)}
    )
    notes = []
    if external:
        notes.append(
            "Templates call "
            + ", ".join(f"{name}()" for name in external)
            + ": they read today's areas, devices and labels, not those of the period."
        )
    if result.calls:
        notes.append(
            "Actions were not executed; their obvious effects were written to the replayed "
            "state (marked simulated) and later recorded states of the same entities replace "
            "them, as the devices reported what really happened."
        )
    return {
        "entities_without_history": missing,
        "triggers_not_replayed": result.skipped_triggers,
        "templates_reading_external_state": external,
        "notes": notes,
    }


def build_report(
    result: ReplayResult,
    raw_config: Any,
    current: ReplayResult | None = None,
) -> dict[str, Any]:
    """The whole report of one backtest."""
    report: dict[str, Any] = {
        "status": result.status,
        "period": {
            "start": result.start.isoformat(),
            "end": result.end.isoformat(),
            "reached": result.reached.isoformat(),
        },
        "replayed": {
            "items": result.items,
            "state_changes": result.state_changes,
            "events": result.events,
            "dispatched": result.dispatched,
            "seconds": round(result.elapsed, 3),
        },
        "summary": summary_of(result),
        "runs": runs_of(result),
        "actions": [c.as_dict() for c in result.calls],
        "not_reproduced": honesty(result, raw_config),
    }
    if current is not None:
        report["difference"] = difference(result, current)
    return report
