"""core/trigger.py and core/condition.py: plugin platforms collected through their hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.condition import plugin_condition_platforms
from core.hookspecs import hookimpl
from core.integration import IntegrationStatus, Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.trigger import plugin_trigger_platforms


class _Plugin:
    def __init__(self, domain: str, triggers: Any, conditions: Any) -> None:
        self.domain = domain
        self.triggers = triggers
        self.conditions = conditions

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain=self.domain, name=self.domain)

    @hookimpl
    def edgewise_trigger_platforms(self, runtime: Runtime) -> Any:
        if isinstance(self.triggers, Exception):
            raise self.triggers
        return self.triggers

    @hookimpl
    def edgewise_condition_platforms(self, runtime: Runtime) -> Any:
        return self.conditions


async def test_platforms_come_from_running_integrations_only(tmp_path: Path) -> None:
    loader = IntegrationLoader()
    first = loader.register(_Plugin("aaa", {"mqtt": "first"}, {"even": "c1"}), source="a")
    second = loader.register(_Plugin("bbb", {"mqtt": "second", "x": "x"}, None), source="b")
    broken = loader.register(_Plugin("ccc", RuntimeError("bad"), None), source="c")
    idle = loader.register(_Plugin("ddd", {"idle": "never"}, {"idle": "never"}), source="d")
    for loaded in (first, second, broken):
        loaded.status = IntegrationStatus.RUNNING
    idle.status = IntegrationStatus.NOT_CONFIGURED
    runtime = Runtime(tmp_path, loader=loader)

    # edgewise_trigger_platforms: the first integration (by domain) wins a name; a hook that
    # raises is logged and skipped; integrations that are not running are not asked.
    assert plugin_trigger_platforms(runtime) == {"mqtt": "first", "x": "x"}
    # edgewise_condition_platforms: None means "nothing to add".
    assert plugin_condition_platforms(runtime) == {"even": "c1"}
