"""Trigger platforms: what plugins contribute to the automation engine's ``trigger:`` lists.

The engine (``automations/``) owns the built-in platforms (state, time, event...). An integration
adds its own (``mqtt``, say) by implementing the ``edgewise_trigger_platforms`` hook and returning
a mapping of platform name to an object that satisfies :class:`TriggerPlatform`::

    class MqttTrigger:
        schema = vol.Schema({...}, extra=vol.ALLOW_EXTRA)

        async def attach(self, runtime, config, fire, info):
            def on_message(msg):
                fire({"topic": msg.topic, "payload": msg.payload}, None)
            return await subscribe(runtime, config["topic"], on_message)

The built-in platforms (``state``, ``time``, ``event``...: one module each in
``automations/triggers/``) implement this same protocol; the engine looks every platform up by
name in one mapping and attaches it the same way.

The engine handles the ``platform``/``trigger``, ``id``, ``variables``, ``alias`` and ``enabled``
keys itself and leaves them in the dict it passes to ``schema`` and ``attach``, so a platform's
schema must allow them (``extra=vol.ALLOW_EXTRA``, or list them).

Latency: ``attach`` is a coroutine, awaited once when the trigger is attached; the hot path is
``fire``, a plain function the platform calls synchronously from its own callback (a bus or
``states.track`` listener, a scheduler job), with no task or await between the change and the
run the engine starts. A platform that watches states should listen with ``runtime.states.track``
(indexed by entity id) and call ``fire`` directly from that callback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .context import Context

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: Keys every trigger may carry, handled by the engine rather than by the platform.
ENGINE_TRIGGER_KEYS = frozenset({"platform", "trigger", "id", "variables", "alias", "enabled"})

TriggerFire = Callable[[dict[str, Any], Context | None], "asyncio.Task[Any] | None"]
"""What a platform calls when its trigger fires: ``fire(payload, context)``.

``payload`` is the platform's own trigger data (for mqtt: ``topic``, ``payload``,
``payload_json``, ``qos``, ``description``); the engine adds ``platform``, ``id``, ``idx``,
``alias`` and the trigger's variables, and may keep the dict (hand ``fire`` a fresh one each
time). ``context`` is the context of what caused the trigger (the event's), or None. Must be
called on the event loop. Returns the run it started, when it started one (an automation's run
task: a platform may await it, as the ``shutdown`` trigger does), else None; most platforms
ignore it.
"""

Detach = Callable[[], None]
"""Removes an attached trigger; calling it twice is harmless."""


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    """What the engine tells a platform about where its trigger is attached."""

    #: Who the trigger belongs to, for log messages ("Automation 'Hall light'").
    name: str
    #: The variables templates in the trigger may use when it is attached or fires (the
    #: automation's ``variables``/``trigger_variables``, ``this``...). Read-only.
    variables: Mapping[str, Any] = field(default_factory=dict)


class TriggerPlatform(Protocol):
    """A kind of trigger (``trigger: <name>``), built in or contributed by a plugin."""

    @property
    def schema(self) -> Callable[[Any], Any]:
        """A voluptuous validator of the whole trigger dict (engine keys included)."""

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire, info: TriggerInfo
    ) -> Callable[[], None]:
        """Start watching for the trigger described by ``config`` (validated by ``schema``).

        Args:
            runtime: the running site.
            config: the validated trigger dict.
            fire: to call, on the loop, each time the trigger fires.
            info: the name of what the trigger belongs to, and the variables it may render.

        Returns:
            A function that stops watching (detach); calling it twice is harmless.

        Raises:
            Exception: the trigger cannot be attached; the engine logs it with the automation's
                name and the trigger's index, and attaches the others.
        """


def plugin_trigger_platforms(
    runtime: Runtime, domains: Collection[str] | None = None
) -> dict[str, TriggerPlatform]:
    """Collect the trigger platforms of every running integration (``edgewise_trigger_platforms``).

    An integration whose hook raises is logged and left out; a platform name given by two
    integrations keeps the first one found (in domain order). ``domains``: ask these
    integrations instead of the running ones (``edgewise check-config``, where none runs).
    """
    return collect_platforms(runtime, "edgewise_trigger_platforms", domains)


def collect_platforms(
    runtime: Runtime, hook: str, domains: Collection[str] | None = None
) -> dict[str, Any]:
    """Call ``hook`` on each running integration (or each of ``domains``) and merge the results."""
    result: dict[str, Any] = {}
    asked = None if domains is None else sorted(domains)
    for domain, platforms in runtime.loader.call_each_sync(
        hook, domains=asked, runtime=runtime
    ).results:
        if not isinstance(platforms, Mapping):
            continue
        for name, platform in platforms.items():
            if name in result:
                _LOGGER.warning("Platform %s of %s is already given by another one", name, domain)
                continue
            result[str(name)] = platform
    return result
