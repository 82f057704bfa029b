"""Finding, registering and calling integrations through pluggy.

Every integration, built-in or third-party, comes from the entry-point group
``edgewise.integrations``. Loading one that is broken (it fails to import, has no manifest, or
implements a hook that does not exist) is reported and the others still load.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import IntegrationError
from .integration import IntegrationStatus, Manifest

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedIntegration:
    """A registered integration: its manifest, module, origin and status."""

    manifest: Manifest
    plugin: object
    source: str
    status: IntegrationStatus = IntegrationStatus.LOADED
    error: str | None = None

    @property
    def domain(self) -> str:
        """The integration's domain."""
        return self.manifest.domain


class IntegrationLoader:
    """Owns the pluggy plugin manager and the integrations registered with it."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._integrations: dict[str, LoadedIntegration] = {}
        #: Problems met while loading, one line each, for logs and check-config.
        self.load_errors: list[str] = []

    @property
    def integrations(self) -> dict[str, LoadedIntegration]:
        """The registered integrations by domain (a copy)."""
        return dict(self._integrations)

    def get(self, domain: str) -> LoadedIntegration | None:
        """The integration registered under ``domain``, or None."""
        return self._integrations.get(domain)

    def load_entry_points(self, group: str = hookspecs.ENTRY_POINT_GROUP) -> None:
        """Import and register every integration of the entry-point group."""
        seen: set[str] = set()
        for entry_point in sorted(importlib.metadata.entry_points(group=group), key=_ep_key):
            dist = entry_point.dist
            origin = f"{entry_point.name} = {entry_point.value}"
            if dist is not None:
                origin += f" ({dist.name} {dist.version})"
            if entry_point.value in seen:
                # The same module reachable twice (an editable install beside a built one).
                continue
            seen.add(entry_point.value)
            try:
                module = entry_point.load()
            except Exception as err:  # an isolation boundary: one broken plugin only
                self._load_error(f"Could not import integration {origin}: {err!r}")
                continue
            try:
                self.register(module, source=origin)
            except IntegrationError as err:
                self._load_error(str(err))

    def register(self, plugin: ModuleType | object, *, source: str) -> LoadedIntegration:
        """Register one integration module (or object with hookimpls).

        Raises:
            IntegrationError: no manifest, an invalid one, a duplicate domain, or a hookimpl that
                matches no hook.
        """
        name = f"edgewise-plugin-{id(plugin)}"
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except pluggy.PluginValidationError as err:
            # register() itself raises before registering (a hookimpl argument the hookspec
            # lacks); check_pending() raises after. Unregistering an unknown plugin asserts.
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            raise IntegrationError(
                f"Integration {source} implements an unknown or mistyped hook: {err}",
                integration=source,
            ) from None
        try:
            manifest = self._call(plugin, "edgewise_manifest")
        except Exception as err:
            self._pm.unregister(plugin)
            raise IntegrationError(
                f"Integration {source} failed to give its manifest: {err!r}", integration=source
            ) from err
        if not isinstance(manifest, Manifest):
            self._pm.unregister(plugin)
            raise IntegrationError(
                f"Integration {source} has no edgewise_manifest hook returning a Manifest",
                integration=source,
            )
        if (other := self._integrations.get(manifest.domain)) is not None:
            self._pm.unregister(plugin)
            raise IntegrationError(
                f"Integration {source} uses the domain '{manifest.domain}' already taken by "
                f"{other.source}",
                integration=manifest.domain,
            )
        loaded = LoadedIntegration(manifest, plugin, source)
        self._integrations[manifest.domain] = loaded
        _LOGGER.debug("Registered integration %s from %s", manifest.domain, source)
        return loaded

    def call(self, domain: str, hook: str, **kwargs: Any) -> Any:
        """Call one hook of one integration only; None when it does not implement it."""
        return self._call(self._integrations[domain].plugin, hook, **kwargs)

    def _call(self, plugin: object, hook: str, **kwargs: Any) -> Any:
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        caller = self._pm.subset_hook_caller(hook, remove_plugins=others)
        return caller(**kwargs)

    def _load_error(self, message: str) -> None:
        self.load_errors.append(message)
        _LOGGER.error("%s", message)


def _ep_key(entry_point: importlib.metadata.EntryPoint) -> str:
    return entry_point.name


def setup_order(
    integrations: dict[str, LoadedIntegration], wanted: Iterable[str]
) -> tuple[list[str], dict[str, str]]:
    """Order the wanted domains so that each comes after its dependencies.

    ``after_dependencies`` order only among wanted domains. A dependency that is not installed,
    or a dependency cycle, keeps the domains involved out of the order.

    Returns:
        The setup order, and for each left-out domain the reason.
    """
    wanted_set = set(wanted)
    # Required dependencies are pulled in even when not configured themselves.
    queue = list(wanted_set)
    while queue:
        domain = queue.pop()
        loaded = integrations.get(domain)
        if loaded is None:
            continue
        for dep in loaded.manifest.dependencies:
            if dep not in wanted_set:
                wanted_set.add(dep)
                queue.append(dep)
    order: list[str] = []
    failed: dict[str, str] = {}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(domain: str, chain: tuple[str, ...]) -> bool:
        if state.get(domain) == 2:
            return domain not in failed
        if state.get(domain) == 1:
            failed[domain] = "dependency cycle: " + " -> ".join((*chain, domain))
            return False
        loaded = integrations.get(domain)
        if loaded is None:
            failed[domain] = "integration not found"
            state[domain] = 2
            return False
        state[domain] = 1
        ok = True
        for dep in loaded.manifest.dependencies:
            if not visit(dep, (*chain, domain)):
                failed.setdefault(domain, f"dependency '{dep}' is not available")
                ok = False
        for dep in loaded.manifest.after_dependencies:
            # An optional ordering: when it would close a cycle, it is simply not applied.
            if dep in wanted_set and dep in integrations and state.get(dep) != 1:
                visit(dep, (*chain, domain))
        state[domain] = 2
        if ok and domain not in failed:
            order.append(domain)
            return True
        return False

    for domain in sorted(wanted_set):
        visit(domain, ())
    return order, failed
