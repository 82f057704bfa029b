"""Trigger platforms: what plugins contribute to the automation engine's ``trigger:`` lists.

The engine (``automations/``) owns the built-in platforms (state, time, event...). An integration
adds its own (``mqtt``, say) by implementing the ``edgewise_trigger_platforms`` hook and returning
a mapping of platform name to an object that satisfies :class:`TriggerPlatform`::

    class MqttTrigger:
        schema = vol.Schema({...}, extra=vol.ALLOW_EXTRA)

        async def attach(self, runtime, config, fire):
            async def on_message(msg):
                fire({"topic": msg.topic, "payload": msg.payload}, None)
            return await subscribe(runtime, config["topic"], on_message)

The engine handles the ``platform``/``trigger``, ``id``, ``variables``, ``alias`` and ``enabled``
keys itself and leaves them in the dict it passes to ``schema`` and ``attach``, so a platform's
schema must allow them (``extra=vol.ALLOW_EXTRA``, or list them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .context import Context

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: Keys every trigger may carry, handled by the engine rather than by the platform.
ENGINE_TRIGGER_KEYS = frozenset({"platform", "trigger", "id", "variables", "alias", "enabled"})

TriggerFire = Callable[[dict[str, Any], Context | None], None]
"""What a platform calls when its trigger fires: ``fire(payload, context)``.

``payload`` is the platform's own trigger data (for mqtt: ``topic``, ``payload``,
``payload_json``, ``qos``, ``description``); the engine adds ``platform``, ``id``, ``idx``,
``alias`` and the trigger's variables. ``context`` is the context of what caused the trigger
(the event's), or None. Must be called on the event loop.
"""

Detach = Callable[[], None]
"""Removes an attached trigger; calling it twice is harmless."""


class TriggerPlatform(Protocol):
    """A kind of trigger (``platform: <name>``) contributed by a plugin."""

    @property
    def schema(self) -> Callable[[Any], Any]:
        """A voluptuous validator of the whole trigger dict (engine keys included)."""

    async def attach(
        self, runtime: Runtime, config: dict[str, Any], fire: TriggerFire
    ) -> Callable[[], None]:
        """Start watching for the trigger described by ``config`` (validated by ``schema``).

        Args:
            runtime: the running site.
            config: the validated trigger dict.
            fire: to call, on the loop, each time the trigger fires.

        Returns:
            A function that stops watching (detach).
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
