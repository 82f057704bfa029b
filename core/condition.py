"""Condition platforms: what plugins contribute to the automation engine's ``condition:`` lists.

An integration adds a condition (``condition: <name>``) by implementing the
``edgewise_condition_platforms`` hook and returning a mapping of name to an object that
satisfies :class:`ConditionPlatform`. The built-in conditions (``state``, ``numeric_state``,
``template``, ``time``, ``sun``, ``trigger``: one module each in ``automations/conditions/``)
implement the same protocol; ``and``, ``or`` and ``not`` are the engine's own structure.

The engine handles the ``condition``, ``alias`` and ``enabled`` keys and leaves them in the dict
it passes to ``schema`` and ``checker``. A condition is compiled once, when its automation or
script loads (``checker``), into a plain function the engine calls synchronously on every run,
so a platform does its parsing, template compiling and look-ups in ``checker``, not in the
function it returns::

    class EvenCondition:
        schema = vol.Schema({vol.Required("entity_id"): str}, extra=vol.ALLOW_EXTRA)

        def checker(self, runtime, config, info):
            entity_id = config["entity_id"]

            def check(variables):
                state = runtime.states.get(entity_id)
                return state is not None and int(float(state.state)) % 2 == 0

            return check
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .trigger import collect_platforms

if TYPE_CHECKING:
    from .runtime import Runtime

#: Keys every condition may carry, handled by the engine rather than by the platform.
ENGINE_CONDITION_KEYS = frozenset({"condition", "alias", "enabled"})


Checker = Callable[[Mapping[str, Any]], bool]
"""A compiled condition: ``check(variables) -> bool``, called on the loop; must not block.

``variables`` are the run's (``trigger``, ``this`` and the user's). Raising counts as false and
is traced as the condition's error.
"""


@dataclass(frozen=True, slots=True)
class ConditionInfo:
    """What the engine tells a platform about where its condition is."""

    #: Where the condition sits, in Home Assistant's trace form (``condition/0``,
    #: ``action/1/if/condition/0``): name templates and messages with it.
    path: str


class ConditionPlatform(Protocol):
    """A kind of condition (``condition: <name>``), built in or contributed by a plugin."""

    @property
    def schema(self) -> Callable[[Any], Any]:
        """A voluptuous validator of the whole condition dict (engine keys included)."""

    def checker(self, runtime: Runtime, config: dict[str, Any], info: ConditionInfo) -> Checker:
        """Compile the condition ``config`` (validated by ``schema``) into its check function.

        Args:
            runtime: the running site.
            config: the validated condition dict.
            info: where the condition is (its trace path).

        Returns:
            The function the engine calls each time the condition is evaluated.

        Raises:
            Exception: the condition cannot be compiled (a template that does not parse); the
                automation or script holding it fails to load.
        """


def plugin_condition_platforms(
    runtime: Runtime, domains: Collection[str] | None = None
) -> dict[str, ConditionPlatform]:
    """Collect the condition platforms of every running integration (or of ``domains``)."""
    return collect_platforms(runtime, "edgewise_condition_platforms", domains)
