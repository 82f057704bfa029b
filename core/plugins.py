"""Finding, registering and calling integrations through pluggy.

Every integration, built-in or third-party, comes from the entry-point group
``edgewise.integrations``. Loading one that is broken (it fails to import, has no manifest, or
implements a hook that does not exist) is reported and the others still load.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .errors import IntegrationError
from .integration import AnyManifest, IntegrationStatus, Manifest

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedIntegration:
    """A registered integration: its manifest, module, origin and status."""

    manifest: AnyManifest
    plugin: object
    source: str
    status: IntegrationStatus = IntegrationStatus.LOADED
    error: str | None = None

    @property
    def domain(self) -> str:
        """The integration's domain."""
        return self.manifest.domain


@dataclass(slots=True)
class HookResults:
    """What ``call_each`` got: each integration's answer, and the integrations that failed.

    Attributes:
        results: ``(domain, answer)`` in call order, for each integration that answered
            something other than None.
        failed: the integrations whose hook raised or timed out, with the error.
    """

    results: list[tuple[str, Any]] = field(default_factory=list)
    failed: dict[str, BaseException] = field(default_factory=dict)


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

    def running(self) -> list[str]:
        """The domains of the running integrations, sorted."""
        return sorted(
            d for d, i in self._integrations.items() if i.status is IntegrationStatus.RUNNING
        )

    async def call_each(
        self,
        hook: str,
        *,
        domains: Iterable[str] | None = None,
        time_limit: float | Callable[[LoadedIntegration], float] | None = None,
        **kwargs: Any,
    ) -> HookResults:
        """Call ``hook`` on each running integration (or each of ``domains``, in that order).

        The one way the kernel asks every integration something: each call is isolated (an
        exception is logged with the domain and recorded in ``failed``; the next integration is
        still asked) and an awaitable answer is awaited within ``timeout`` seconds (a number, or
        a function of the integration, such as its manifest's ``stop_timeout``). The calls run
        one after the other, in order. ``call_each_sync`` is the same for hooks that must answer
        synchronously (an awaitable answer there is a failure).
        """
        found = HookResults()
        for loaded in self._targets(domains):
            seconds = time_limit(loaded) if callable(time_limit) else time_limit
            try:
                async with asyncio.timeout(seconds):
                    answer = self._call(loaded.plugin, hook, **kwargs)
                    if isinstance(answer, Awaitable):
                        answer = await answer
            except TimeoutError as err:
                _LOGGER.warning(
                    "Integration %s: %s still running after %g s", loaded.domain, hook, seconds
                )
                found.failed[loaded.domain] = err
                continue
            except Exception as err:  # an isolation boundary: one integration's hook only
                _LOGGER.exception("Integration %s failed in %s", loaded.domain, hook)
                found.failed[loaded.domain] = err
                continue
            if answer is not None:
                found.results.append((loaded.domain, answer))
        return found

    def call_each_sync(
        self, hook: str, *, domains: Iterable[str] | None = None, **kwargs: Any
    ) -> HookResults:
        """``call_each`` for hooks answered synchronously (panels, trigger platforms)."""
        found = HookResults()
        for loaded in self._targets(domains):
            try:
                answer = self._call(loaded.plugin, hook, **kwargs)
                if isinstance(answer, Awaitable):
                    if asyncio.iscoroutine(answer):
                        answer.close()
                    raise IntegrationError(
                        f"{hook} must answer at once, not with an awaitable",
                        integration=loaded.domain,
                    )
            except Exception as err:  # an isolation boundary: one integration's hook only
                _LOGGER.exception("Integration %s failed in %s", loaded.domain, hook)
                found.failed[loaded.domain] = err
                continue
            if answer is not None:
                found.results.append((loaded.domain, answer))
        return found

    def _targets(self, domains: Iterable[str] | None) -> list[LoadedIntegration]:
        if domains is None:
            domains = self.running()
        return [loaded for d in domains if (loaded := self._integrations.get(d)) is not None]

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
