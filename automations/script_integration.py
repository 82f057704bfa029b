"""The ``script:`` integration: named action sequences, callable as services ``script.<id>``.

Example::

    script:
      notify_and_wait:
        alias: Announce, wait, turn off
        fields:
          target_light: {description: Which light, required: true}
        mode: queued
        sequence:
          - action: light.turn_on
            target: {entity_id: "{{ target_light }}"}
          - delay: {minutes: 5}
          - stop: done
            response_variable: result

Calling ``script.<id>`` waits for the run to finish and returns its response (``stop`` with a
``response_variable``); ``script.turn_on`` starts it and returns at once. Each script is shown as
``script.<id>`` (``on`` while running) with ``last_triggered``, ``mode`` and ``current``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from core.auth import Permission
from core.config import load_site_config
from core.context import Context
from core.core_sections import CORE_SECTIONS
from core.errors import ServiceValidationError
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.runtime import Runtime, RuntimeKey
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from .const import (
    ATTR_CURRENT,
    ATTR_FRIENDLY_NAME,
    ATTR_LAST_TRIGGERED,
    ATTR_MODE,
    CONF_ALIAS,
    CONF_FIELDS,
    CONF_ICON,
    CONF_MAX,
    CONF_MAX_EXCEEDED,
    CONF_MODE,
    CONF_SEQUENCE,
    CONF_STORED_TRACES,
    CONF_TRACE,
    CONF_VARIABLES,
    DOMAIN_SCRIPT,
    EVENT_SCRIPT_STARTED,
    RunMode,
)
from .manager import configured_platforms, current_platforms, trace_holder
from .schema import script_section
from .script import Platforms, RunResult, Script, compile_steps, render_variables
from .templating import compile_value
from .trace import Trace
from .validation import (
    InvalidConfig,
    build_schemas,
    check_services,
    describe,
    resolve_blueprint,
    unexpected_error,
    validate,
)

_LOGGER = logging.getLogger(__name__)


class ScriptItem:
    """One configured script: its compiled run, its entity and its service."""

    def __init__(
        self,
        runtime: Runtime,
        object_id: str,
        config: dict[str, Any],
        raw: Mapping[str, Any],
        blueprint_inputs: dict[str, Any] | None,
        *,
        platforms: Platforms | None = None,
    ) -> None:
        self.runtime = runtime
        self.object_id = object_id
        self.entity_id = f"{DOMAIN_SCRIPT}.{object_id}"
        self.config = config
        self.raw = raw
        self.blueprint_inputs = blueprint_inputs
        self.alias: str = config.get(CONF_ALIAS) or object_id
        self.fields: dict[str, Any] = {k: v or {} for k, v in config[CONF_FIELDS].items()}
        self.stored_traces: int = config[CONF_TRACE][CONF_STORED_TRACES]
        self.last_triggered: str | None = None
        self._variables = [
            (str(k), compile_value(runtime, v, f"variables.{k}"))
            for k, v in config[CONF_VARIABLES].items()
        ]
        self.script = Script(
            runtime,
            compile_steps(
                runtime,
                config[CONF_SEQUENCE],
                CONF_SEQUENCE,
                platforms if platforms is not None else current_platforms(runtime),
            ),
            name=f"Script {self.alias!r}",
            mode=RunMode(config[CONF_MODE]),
            max_runs=config[CONF_MAX],
            max_exceeded=config[CONF_MAX_EXCEEDED],
            on_change=self.write_state,
        )

    def write_state(self) -> None:
        """Write ``script.<id>``: on while running."""
        attributes: dict[str, Any] = {
            ATTR_LAST_TRIGGERED: self.last_triggered,
            ATTR_MODE: self.script.mode.value,
            ATTR_CURRENT: self.script.running,
            ATTR_FRIENDLY_NAME: self.alias,
        }
        if icon := self.config.get(CONF_ICON):
            attributes["icon"] = icon
        self.runtime.states.set(self.entity_id, "on" if self.script.running else "off", attributes)

    def start(self, data: Mapping[str, Any], context: Context) -> Any:
        """Start a run with the call's data as variables; the task, or None when refused."""
        variables: dict[str, Any] = {}
        for name, field in self.fields.items():
            if name in data:
                continue
            if "default" in field:
                variables[name] = field["default"]
            elif field.get("required"):
                raise ServiceValidationError(
                    f"Script {self.object_id} needs the field '{name}'",
                    domain=DOMAIN_SCRIPT,
                    service=self.object_id,
                    key=name,
                )
        variables.update(data)
        variables["this"] = self.runtime.states.get(self.entity_id)
        variables["context"] = context
        render_variables(self._variables, variables)
        run_context = Context(user_id=context.user_id, parent_id=context.id)
        trace = Trace(
            DOMAIN_SCRIPT,
            self.object_id,
            self.raw,
            run_context,
            blueprint_inputs=self.blueprint_inputs,
        )
        trace.step("trigger").changed_variables = {
            k: v for k, v in variables.items() if k != "this"
        }
        holder = trace_holder(self.runtime)
        holder.store.add(trace, self.stored_traces)
        task = self.script.start(variables, run_context, trace)
        if task is not None:
            self.last_triggered = self.runtime.clock.now().isoformat()
            self.write_state()
            self.runtime.bus.fire(
                EVENT_SCRIPT_STARTED, {"name": self.alias, "entity_id": self.entity_id}, context
            )
        return task


class ScriptManager:
    """Every configured script of one runtime."""

    KEY: RuntimeKey[ScriptManager] = RuntimeKey("automations.scripts")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.scripts: dict[str, ScriptItem] = {}
        self.errors: dict[str, str] = {}
        #: Serialises edits of ``scripts.yaml`` (see ``automations.api``).
        self.config_lock = asyncio.Lock()

    async def load(self, section: Mapping[str, Any]) -> None:
        """(Re)load every script; a broken one is reported and the others load."""
        runtime = self.runtime
        for item in list(self.scripts.values()):
            await item.script.stop()
            runtime.states.remove(item.entity_id)
            if runtime.services.has(DOMAIN_SCRIPT, item.object_id):
                runtime.services.remove(DOMAIN_SCRIPT, item.object_id)
        self.scripts, self.errors = await self.build(section, current_platforms(runtime))
        for message in self.errors.values():
            _LOGGER.error("%s", message)
        self._report_errors()
        for item in self.scripts.values():
            item.write_state()
            self._register(item)

    async def build(
        self, section: Mapping[str, Any], platforms: Platforms
    ) -> tuple[dict[str, ScriptItem], dict[str, str]]:
        """Validate and compile every script (nothing registered or started).

        Returns:
            The scripts by object id, and the error of each broken one by its label.
        """
        runtime = self.runtime
        schemas = build_schemas(platforms)
        scripts: dict[str, ScriptItem] = {}
        errors: dict[str, str] = {}
        for object_id, raw in section.items():
            label = describe(DOMAIN_SCRIPT, raw, str(object_id))
            try:
                if not isinstance(raw, Mapping):
                    raise InvalidConfig(f"{label} is not loaded: expected a mapping")
                config, inputs = await runtime.run_in_executor(
                    resolve_blueprint, runtime, DOMAIN_SCRIPT, raw, label
                )
                validated = validate(schemas.script, config, raw, label, DOMAIN_SCRIPT)
                item = ScriptItem(
                    runtime, str(object_id), validated, raw, inputs, platforms=platforms
                )
            except InvalidConfig as err:
                errors[label] = str(err)
                continue
            except vol.Invalid as err:
                errors[label] = f"{label} is not loaded: {err}"
                continue
            except Exception as err:  # isolation boundary: one entry never stops the others
                errors[label] = str(unexpected_error(label, err))
                continue
            scripts[item.object_id] = item
        return scripts, errors

    async def reload(self) -> None:
        """``script.reload``: read the configuration again, load the scripts, check services."""
        await self.load(await _read_section(self.runtime))
        self.check_services()

    async def validate_item(self, object_id: str, raw: Mapping[str, Any]) -> None:
        """Check one script as loading would (services included), before it is written.

        Raises:
            InvalidConfig: with the message loading would log, naming the script and the key.
        """
        scripts, errors = await self.build({object_id: raw}, current_platforms(self.runtime))
        if errors:
            raise InvalidConfig(next(iter(errors.values())))
        item = scripts[object_id]
        check_services(
            self.runtime, item.config[CONF_SEQUENCE], describe(DOMAIN_SCRIPT, raw, object_id)
        )

    def check_services(self) -> None:
        """Once everything is set up: scripts calling unknown services are removed, reported."""
        for object_id, item in list(self.scripts.items()):
            label = describe(DOMAIN_SCRIPT, item.raw, object_id)
            try:
                check_services(self.runtime, item.config[CONF_SEQUENCE], label)
            except InvalidConfig as err:
                self.errors[label] = str(err)
                _LOGGER.error("%s", err)
                del self.scripts[object_id]
                self.runtime.services.remove(DOMAIN_SCRIPT, object_id)
                self.runtime.states.remove(item.entity_id)
        self._report_errors()

    def _report_errors(self) -> None:
        self.runtime.notifications.report_problems(
            "invalid_scripts",
            "Scripts not loaded",
            "These scripts have errors and cannot run; the others can:",
            self.errors.values(),
        )

    def _register(self, item: ScriptItem) -> None:
        async def call_script(call: ServiceCall) -> ServiceResponse | None:
            task = item.start(call.data, call.context)
            if task is None:
                return None
            result: RunResult = await task
            if result.execution == "error" and result.error:
                raise ServiceValidationError(
                    f"Script {item.object_id} failed: {result.error}",
                    domain=DOMAIN_SCRIPT,
                    service=item.object_id,
                )
            response = result.response
            if response is None:
                return {} if call.return_response else None
            return response if isinstance(response, dict) else {"value": response}

        self.runtime.services.register(
            DOMAIN_SCRIPT,
            item.object_id,
            call_script,
            supports_response=SupportsResponse.OPTIONAL,
            description=str(item.config.get("description") or item.alias),
        )

    def targets(self, call: ServiceCall) -> list[ScriptItem]:
        """The scripts a ``script.turn_on``-style call is aimed at."""
        if call.target.match_all:
            return list(self.scripts.values())
        return [s for s in self.scripts.values() if s.entity_id in call.target.entity_ids]


@hookimpl
def edgewise_manifest() -> Manifest:
    """The script integration."""
    return Manifest(
        domain=DOMAIN_SCRIPT, name="Scripts", config_schema=script_section, version="0.1.0"
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: dict[str, Any] | None) -> None:
    """Load the scripts and register their services and the script.* management services."""
    from .http_api import register_config_routes, register_engine_commands  # noqa: PLC0415

    manager = ScriptManager(runtime)
    runtime.data[ScriptManager.KEY] = manager
    await trace_holder(runtime).load()
    await manager.load(config or {})

    async def turn_on(call: ServiceCall) -> None:
        for item in manager.targets(call):
            item.start(call.data.get("variables") or {}, call.context)

    async def turn_off(call: ServiceCall) -> None:
        for item in manager.targets(call):
            await item.script.stop()

    async def toggle(call: ServiceCall) -> None:
        for item in manager.targets(call):
            if item.script.running:
                await item.script.stop()
            else:
                item.start({}, call.context)

    async def reload(call: ServiceCall) -> None:
        await manager.reload()

    services = runtime.services
    variables_schema = vol.Schema({vol.Optional("variables"): dict})
    services.register(DOMAIN_SCRIPT, "turn_on", turn_on, variables_schema)
    services.register(DOMAIN_SCRIPT, "turn_off", turn_off, vol.Schema({}))
    services.register(DOMAIN_SCRIPT, "toggle", toggle, vol.Schema({}))
    services.register(DOMAIN_SCRIPT, "reload", reload, vol.Schema({}), permission=Permission.ADMIN)
    register_config_routes(runtime, DOMAIN_SCRIPT)
    register_engine_commands(runtime)
    runtime.logbook.register(EVENT_SCRIPT_STARTED, _describe_started)


def _describe_started(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The logbook line of a ``script_started`` event."""
    return {
        "name": data.get("name"),
        "message": "started",
        "domain": DOMAIN_SCRIPT,
        "entity_id": data.get("entity_id"),
    }


@hookimpl
async def edgewise_check_config(runtime: Runtime, config: dict[str, Any] | None) -> list[str]:
    """``edgewise check-config``: the errors loading the scripts would report."""
    _, errors = await ScriptManager(runtime).build(config or {}, configured_platforms(runtime))
    return list(errors.values())


async def _read_section(runtime: Runtime) -> Mapping[str, Any]:
    known: dict[str, Any] = dict(CORE_SECTIONS)
    for domain, loaded in runtime.loader.integrations.items():
        known[domain] = loaded.manifest.config_schema
    loaded_config = await runtime.run_in_executor(load_site_config, runtime.config_dir, known)
    section = loaded_config.integrations.get(DOMAIN_SCRIPT)
    return section if isinstance(section, Mapping) else {}


@hookimpl
def edgewise_started(runtime: Runtime) -> None:
    """Check the services the scripts call, now that every integration registered its own."""
    manager = runtime.data.get(ScriptManager.KEY)
    if manager is not None:
        manager.check_services()


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop running scripts and save the traces."""
    manager = runtime.data.get(ScriptManager.KEY)
    if manager is None:
        return
    for item in manager.scripts.values():
        await item.script.stop()
    await trace_holder(runtime).save()
