"""The plugin author's reference: every hook an integration can implement.

An integration is a Python module (usually a package's ``__init__``) with functions decorated by
``core.hookimpl``. It is registered through the entry-point group ``edgewise.integrations``, the
same way for built-in and third-party integrations::

    # pyproject.toml of a plugin package
    [project.entry-points."edgewise.integrations"]
    my_meter = "my_meter_plugin"

Each integration implements ``edgewise_manifest`` (who it is and which YAML it accepts) and
usually ``edgewise_setup``. The runtime calls the other hooks of an integration only on that
integration's own module, and only when the integration is configured (its domain appears in
``configuration.yaml``) or its manifest says ``default=True``. An integration module should
import its heavy dependencies inside ``edgewise_setup``, not at module level, so that a site which
does not configure it never pays for them.

Hooks are grouped by phase:

* load: ``edgewise_manifest``
* check: ``edgewise_check_config`` (``edgewise check-config`` only)
* setup: ``edgewise_setup``
* runtime: ``edgewise_started``, ``edgewise_trigger_platforms``, ``edgewise_condition_platforms``,
  ``edgewise_panels``
* shutdown: ``edgewise_stop``

Hooks that return an awaitable are awaited by the runtime, each bounded by a timeout. When the
runtime asks every integration (``edgewise_started``, the platform and panel hooks, stop), it
does so through one helper, ``IntegrationLoader.call_each``: one integration's failure is logged
with its domain and the others are still asked.

What an integration registers while its ``edgewise_setup`` or ``edgewise_started`` runs (and in
the tasks they start) belongs to it: routes and WebSocket commands (``core.register_route``,
``core.register_command``), services (``runtime.services.register``, with the ``Permission`` a
caller needs), logbook descriptions (``runtime.logbook.register``) and webhooks. The runtime
removes all of it after the integration's ``edgewise_stop``, or when its setup fails; see
``core.registrations``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .condition import ConditionPlatform
    from .http.panels import Panel
    from .integration import Manifest
    from .runtime import Runtime
    from .trigger import TriggerPlatform

PROJECT_NAME = "edgewise"
#: The entry-point group integrations register under.
ENTRY_POINT_GROUP = "edgewise.integrations"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- load phase ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def edgewise_manifest() -> Manifest:
    """Say who the integration is: its domain, name, dependencies and configuration schema.

    Called once for each registered integration module when plugins are loaded, before any
    configuration is read. Must be cheap and free of I/O: the manifest of every installed
    integration is read, configured or not.

    Returns:
        The integration's ``Manifest``. A module without this hook is rejected when it registers.

    Added in 0.1.
    """
    raise NotImplementedError


# --- check phase (edgewise check-config) ---------------------------------------------------------


@hookspec(firstresult=True)
def edgewise_check_config(
    runtime: Runtime, config: object
) -> Awaitable[Iterable[str]] | Iterable[str] | None:
    """Check the integration's section further than its ``config_schema`` can, without setup.

    Called by ``edgewise check-config`` only, on an event loop, for each configured integration
    whose section passed its schema. ``runtime`` is not started: its configuration is loaded
    (``runtime.config``, ``runtime.core``) and ``run_in_executor`` works, but nothing is set up,
    so no service, entity or scheduler exists. Use the validation your setup does, so that
    check-config reports exactly what loading would (the automation integration reports broken
    automations this way).

    Args:
        runtime: a runtime that is not started.
        config: the integration's validated section (``None`` when it has none).

    Returns:
        The problems found, one message each (naming file, line and key), or None; or an
        awaitable of them.

    Added in 0.2.
    """


# --- setup phase ---------------------------------------------------------------------------------


@hookspec(firstresult=True)
def edgewise_setup(runtime: Runtime, config: object) -> Awaitable[None] | None:
    """Set the integration up: connect to equipment, register services, routes and commands.

    Called once at start, on the event loop, after the configuration is loaded and after the
    setup of every integration named in the manifest's ``dependencies`` has succeeded. Called
    only when the integration's domain is in the configuration (or its manifest is ``default``).
    Everything registered here is removed when the integration stops or its setup fails.

    Args:
        runtime: the running Edgewise instance; its kernel services (``scheduler``, ``http``,
            ``config``) exist.
        config: the integration's section of the configuration, already validated by the
            manifest's ``config_schema``: a ``ConfigT`` for a ``Manifest[ConfigT]`` with a
            ``config_type``, checked by the runtime before this call (``None`` when a
            ``default`` integration has no section).

    Returns:
        Nothing, or an awaitable that the runtime awaits with the manifest's ``setup_timeout``.
        Raise (``IntegrationError`` preferably) to report failure: the error is logged with the
        integration's domain, the integrations that depend on it are not set up, and every
        other integration still starts.

    Added in 0.1.
    """


# --- runtime phase -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def edgewise_started(runtime: Runtime) -> None:
    """Learn that every integration has been set up and the runtime is now running.

    Called once, on the event loop, for each integration whose setup succeeded, just before
    ``edgewise_started`` is fired on the bus. Must not block: start long work as a task with
    ``runtime.create_task``.

    Args:
        runtime: the running Edgewise instance.

    Returns:
        Nothing.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def edgewise_trigger_platforms(runtime: Runtime) -> Mapping[str, TriggerPlatform] | None:
    """Contribute trigger platforms (``trigger: <name>`` in automations), such as ``mqtt``.

    Called on the event loop by the automation engine, once all integrations are set up and
    again at each ``automation.reload``, for each integration whose setup succeeded. See
    ``core.trigger`` for the ``TriggerPlatform`` protocol.

    Args:
        runtime: the running Edgewise instance.

    Returns:
        A mapping of platform name to platform, or None. A name that a built-in platform or an
        earlier integration already uses is logged and ignored.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def edgewise_condition_platforms(runtime: Runtime) -> Mapping[str, ConditionPlatform] | None:
    """Contribute condition platforms (``condition: <name>`` in automations and scripts).

    Called like ``edgewise_trigger_platforms``. See ``core.condition`` for the
    ``ConditionPlatform`` protocol.

    Args:
        runtime: the running Edgewise instance.

    Returns:
        A mapping of condition name to platform, or None.

    Added in 0.1.
    """


@hookspec(firstresult=True)
def edgewise_panels(runtime: Runtime) -> Iterable[Panel] | None:
    """Add pages to the web panel (a point browser, an energy dashboard, a planner).

    Called on the event loop each time a client lists the panels (WebSocket ``get_panels``) or
    loads a panel's file, only for integrations that are running: keep it cheap and free of I/O.
    Each ``core.http.panels.Panel`` names an ES module in a folder of static files that the
    runtime serves; the panel imports it and calls its default export ``render(element, api)``.
    A bad descriptor is logged with the integration's domain and left out.

    Args:
        runtime: the running Edgewise instance.

    Returns:
        The integration's panels (or None for none).

    Added in 0.1.
    """


# --- shutdown phase ------------------------------------------------------------------------------


@hookspec(firstresult=True)
def edgewise_stop(runtime: Runtime) -> Awaitable[None] | None:
    """Stop: close connections, flush what is buffered, cancel the integration's own tasks.

    Called once, on the event loop, for each integration whose setup succeeded: at shutdown in
    the reverse order of setup (dependents before their dependencies), or earlier when
    ``Runtime.stop_integration`` stops it (and first its dependents). The runtime awaits the
    returned awaitable for at most the manifest's ``stop_timeout``; after that it logs the
    integration as still running and goes on. Then it removes what the integration registered
    (routes, commands, services, logbook descriptions, webhooks): no need to remove them here.

    Args:
        runtime: the stopping Edgewise instance.

    Returns:
        Nothing, or an awaitable to await.

    Added in 0.1.
    """
