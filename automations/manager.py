"""The automation manager: loads the ``automation:`` section, keeps the automations, reloads them.

One instance per runtime, under :data:`MANAGER`. Loading validates each automation on its own:
a broken one is reported (its id, alias, file, line and the reason) and the others load. A reload
keeps the automations whose configuration did not change running, untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core.condition import plugin_condition_platforms
from core.config import load_site_config
from core.core_sections import CORE_SECTIONS
from core.runtime import RuntimeKey
from core.slug import slugify
from core.storage import JsonStore
from core.trigger import plugin_trigger_platforms

from .automation import Automation, raw_id
from .const import (
    CONF_ACTIONS,
    CONF_ALIAS,
    CONF_ID,
    CONF_INITIAL_STATE,
    CONF_USE_BLUEPRINT,
    DOMAIN_AUTOMATION,
    EVENT_AUTOMATION_RELOADED,
)
from .script import Platforms
from .trace import TraceHolder, TraceStore
from .triggers import STARTING
from .validation import (
    InvalidConfig,
    Schemas,
    build_schemas,
    check_services,
    describe,
    resolve_blueprint,
    unexpected_error,
    validate,
)

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

RESTORE_KEY = "automation.restore"

TRACES: RuntimeKey[TraceHolder] = RuntimeKey("automations.traces")

#: One validated automation: id, raw configuration, validated configuration, blueprint inputs.
_Wanted = tuple[str, Mapping[str, Any], dict[str, Any], dict[str, Any] | None]


def trace_holder(runtime: Runtime) -> TraceHolder:
    """The site's trace store (shared by automations and scripts), made on first use."""
    return runtime.data.setdefault(
        TRACES,
        lambda: TraceHolder(
            TraceStore(),
            JsonStore.for_runtime(
                runtime,
                TraceHolder.STORAGE_KEY,
                version=1,
            ),
        ),
    )


def current_platforms(runtime: Runtime) -> Platforms:
    """The trigger and condition platforms the running integrations contribute now."""
    return Platforms(plugin_trigger_platforms(runtime), plugin_condition_platforms(runtime))


def configured_platforms(runtime: Runtime) -> Platforms:
    """The platforms the configured integrations would contribute (check-config: none runs)."""
    loaded = runtime.config
    configured = set(loaded.integrations) if loaded is not None else set()
    domains = {
        domain
        for domain, integration in runtime.loader.integrations.items()
        if domain in configured or integration.manifest.default
    }
    return Platforms(
        plugin_trigger_platforms(runtime, domains), plugin_condition_platforms(runtime, domains)
    )


class AutomationManager:
    """Every loaded automation of one runtime, by id and by entity id."""

    KEY: RuntimeKey[AutomationManager] = RuntimeKey("automations.manager")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: The ``automation:`` items given at setup, loaded once the runtime has started.
        self.pending_config: list[Any] = []
        self.automations: dict[str, Automation] = {}
        #: Why each automation that failed to load was left out, by its description.
        self.errors: dict[str, str] = {}
        self.traces = trace_holder(runtime)
        self.platforms = Platforms()
        self.schemas = build_schemas(self.platforms)
        self.loaded = asyncio.Event()
        self._restore: dict[str, dict[str, Any]] = {}
        self._restore_file = JsonStore.for_runtime(
            runtime,
            RESTORE_KEY,
            version=1,
        )
        self._lock = asyncio.Lock()
        #: Serialises edits of ``automations.yaml`` (see ``automations.api``).
        self.config_lock = asyncio.Lock()

    # --- start and stop ------------------------------------------------------------------------

    async def setup(self) -> None:
        """Read what was stored: on/off and last_triggered of each automation, and traces."""
        self._restore = dict(await self._restore_file.load() or {})
        await self.traces.load()

    async def start(self, raw_items: list[Any]) -> None:
        """Load the automations as the runtime starts (``event: start`` triggers fire)."""
        self.runtime.data[STARTING] = True
        try:
            await self.load(raw_items)
        finally:
            self.runtime.data[STARTING] = False
            self.loaded.set()

    async def stop(self) -> None:
        """Detach every automation, stop their runs, and save their state and traces."""
        await self._save_restore()
        for automation in list(self.automations.values()):
            await automation.remove()
        await self.traces.save()

    # --- loading -------------------------------------------------------------------------------

    def by_entity_id(self, entity_id: str) -> Automation | None:
        """The automation shown as ``entity_id``."""
        for automation in self.automations.values():
            if automation.entity_id == entity_id:
                return automation
        return None

    async def validate_item(
        self,
        raw: Mapping[str, Any],
        index: int | str,
        schemas: Schemas | None = None,
        *,
        services: bool = True,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Validate one automation (blueprint filled in, services checked unless ``services``
        is false; check-config checks them against what the integrations declare).

        Raises:
            InvalidConfig: with a message naming the automation and the reason.
        """
        label = describe(DOMAIN_AUTOMATION, raw, index)
        try:
            if CONF_USE_BLUEPRINT in raw:  # file reads: off the loop
                config, inputs = await self.runtime.run_in_executor(
                    resolve_blueprint, self.runtime, DOMAIN_AUTOMATION, raw, label
                )
            else:
                config, inputs = dict(raw), None
            validated = validate(
                (schemas or self.schemas).automation, config, raw, label, DOMAIN_AUTOMATION
            )
            if services:
                check_services(self.runtime, validated[CONF_ACTIONS], label)
        except InvalidConfig:
            raise
        except Exception as err:  # isolation boundary: one entry never stops the others
            raise unexpected_error(label, err) from None
        return validated, inputs

    async def check_item(self, raw: Mapping[str, Any], item_id: str) -> None:
        """Validate and compile one automation as loading would, before it is written.

        Nothing is attached or run: what a save would make ``automations.yaml`` fail to load
        is refused instead.

        Raises:
            InvalidConfig: with a message naming the automation and the reason.
        """
        validated, inputs = await self.validate_item(raw, item_id)
        self._compile((item_id, raw, validated, inputs), f"{DOMAIN_AUTOMATION}.{item_id}")

    async def load(self, raw_items: list[Any]) -> None:
        """Load (or reload) from the raw ``automation:`` items."""
        async with self._lock:
            await self._load(raw_items)

    async def _validate_all(
        self, raw_items: list[Any], *, services: bool = True
    ) -> tuple[list[_Wanted], dict[str, str]]:
        """Validate every item; the valid ones, and the error of each other by its label."""
        errors: dict[str, str] = {}
        wanted: list[_Wanted] = []
        seen_ids: set[str] = set()
        for index, raw in enumerate(raw_items):
            label = describe(DOMAIN_AUTOMATION, raw, index)
            if not isinstance(raw, Mapping):
                errors[label] = f"{label} is not loaded: expected a mapping"
                continue
            try:
                validated, inputs = await self.validate_item(raw, index, services=services)
            except InvalidConfig as err:
                errors[label] = str(err)
                continue
            item_id = raw_id(raw) or slugify(
                str(validated.get(CONF_ALIAS) or f"automation_{index}")
            )
            if item_id in seen_ids:
                errors[label] = f"{label} is not loaded: the id '{item_id}' is used twice"
                continue
            seen_ids.add(item_id)
            wanted.append((item_id, raw, validated, inputs))
        return wanted, errors

    def _compile(self, wanted: _Wanted, entity_id: str) -> Automation:
        """Compile one validated automation (templates parsed, steps built); not enabled.

        Raises:
            InvalidConfig: a template has a syntax error, say; the message names the automation.
        """
        item_id, raw, validated, inputs = wanted
        try:
            return Automation(
                self.runtime,
                validated,
                item_id=item_id,
                entity_id=entity_id,
                raw_config=raw,
                platforms=self.platforms,
                traces=self.traces.store,
                blueprint_inputs=inputs,
                on_state_change=self._state_changed,
            )
        except vol.Invalid as err:
            label = describe(DOMAIN_AUTOMATION, raw, item_id)
            raise InvalidConfig(f"{label} is not loaded: {err}") from None
        except InvalidConfig:
            raise
        except Exception as err:  # isolation boundary: one entry never stops the others
            raise unexpected_error(describe(DOMAIN_AUTOMATION, raw, item_id), err) from None

    async def check(self, raw_items: list[Any], platforms: Platforms) -> list[str]:
        """``edgewise check-config``: every error loading ``raw_items`` would report.

        Validation and compilation as loading does them, without attaching or running
        anything; the services called are checked against what the configured integrations
        declare (none is registered yet).
        """
        self.platforms = platforms
        self.schemas = build_schemas(platforms)
        wanted, errors = await self._validate_all(raw_items)
        for item in wanted:
            try:
                self._compile(item, f"automation.{item[0]}")
            except InvalidConfig as err:
                errors[describe(DOMAIN_AUTOMATION, item[1], item[0])] = str(err)
        return list(errors.values())

    async def _load(self, raw_items: list[Any]) -> None:
        runtime = self.runtime
        self.platforms = current_platforms(runtime)
        self.schemas = build_schemas(self.platforms)
        wanted, errors = await self._validate_all(raw_items)
        for message in errors.values():
            _LOGGER.error("%s", message)
        self.errors = errors

        old = self.automations
        keep: dict[str, Automation] = {}
        for item_id, raw, _validated, _inputs in wanted:
            existing = old.get(item_id)
            if existing is not None and existing.raw_config == raw:
                keep[item_id] = existing
        for item_id, automation in old.items():
            if keep.get(item_id) is not automation:
                self._remember(automation)
                await automation.remove()
        self.automations = {}
        used_entities = {a.entity_id for a in keep.values()}
        for item_id, raw, validated, inputs in wanted:
            if item_id in keep:
                self.automations[item_id] = keep[item_id]
                continue
            label = describe(DOMAIN_AUTOMATION, raw, item_id)
            entity_id = self._entity_id(validated, item_id, used_entities)
            try:
                automation = self._compile((item_id, raw, validated, inputs), entity_id)
            except InvalidConfig as err:
                message = str(err)
                _LOGGER.error("%s", message)
                self.errors[label] = message
                continue
            used_entities.add(entity_id)
            self.automations[item_id] = automation
            restored = self._restore.get(item_id, {})
            if restored.get("last_triggered"):
                with contextlib.suppress(ValueError):
                    automation.last_triggered = datetime.fromisoformat(restored["last_triggered"])
            initial = validated.get(CONF_INITIAL_STATE)
            enable = initial if initial is not None else restored.get("state", "on") == "on"
            if enable:
                await automation.enable()
            else:
                automation.write_state()
        _LOGGER.info(
            "Loaded %d automation(s)%s",
            len(self.automations),
            f", {len(self.errors)} with errors" if self.errors else "",
        )
        runtime.notifications.report_problems(
            "invalid_automations",
            "Automations not loaded",
            "These automations have errors and are not running; the others are:",
            self.errors.values(),
        )

    def _entity_id(self, config: Mapping[str, Any], item_id: str, used: set[str]) -> str:
        base = slugify(str(config.get(CONF_ALIAS) or config.get(CONF_ID) or item_id))
        candidate, n = f"automation.{base}", 2
        while candidate in used:
            candidate, n = f"automation.{base}_{n}", n + 1
        return candidate

    def _remember(self, automation: Automation) -> None:
        last = automation.last_triggered
        self._restore[automation.item_id] = {
            "state": "on" if automation.enabled else "off",
            "last_triggered": None if last is None else last.isoformat(),
        }

    def _state_changed(self, automation: Automation) -> None:
        # Called on every run: what to save is gathered when the (coalesced) save happens. An
        # on/off change is saved within a second; a new last_triggered within five minutes (and
        # at shutdown), so a busy site does not rewrite the file on every run.
        saved = self._restore.get(automation.item_id, {}).get("state")
        if saved != ("on" if automation.enabled else "off"):
            self._remember(automation)
            self._restore_file.schedule_save(self._restore_data, delay=1.0)
        elif not self._restore_file.save_pending:
            self._restore_file.schedule_save(self._restore_data, delay=300.0)

    def _restore_data(self) -> dict[str, Any]:
        for automation in self.automations.values():
            self._remember(automation)
        return dict(self._restore)

    async def _save_restore(self) -> None:
        await self._restore_file.save(self._restore_data())

    # --- reload --------------------------------------------------------------------------------

    async def read_configuration(self) -> list[Any]:
        """Read ``configuration.yaml`` again and return its ``automation:`` items."""
        runtime = self.runtime
        known: dict[str, Any] = dict(CORE_SECTIONS)
        for domain, loaded in runtime.loader.integrations.items():
            known[domain] = loaded.manifest.config_schema
        loaded_config = await runtime.run_in_executor(load_site_config, runtime.config_dir, known)
        for issue in loaded_config.issues:
            if issue.integration == DOMAIN_AUTOMATION or issue.fatal:
                _LOGGER.error("Configuration: %s", issue)
        section = loaded_config.integrations.get(DOMAIN_AUTOMATION)
        return list(section) if isinstance(section, list) else []

    async def reload(self) -> None:
        """``automation.reload``: re-read the configuration; unchanged automations keep running."""
        await self.load(await self.read_configuration())
        self.runtime.bus.fire(EVENT_AUTOMATION_RELOADED)
