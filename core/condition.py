"""Condition platforms: what plugins contribute to the automation engine's ``condition:`` lists.

An integration adds a condition (``condition: <name>``) by implementing the
``edgewise_condition_platforms`` hook and returning a mapping of name to an object that
satisfies :class:`ConditionPlatform`. The engine handles the ``condition``, ``alias`` and
``enabled`` keys and leaves them in the dict it passes to ``schema`` and ``check``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .trigger import collect_platforms

if TYPE_CHECKING:
    from .runtime import Runtime

#: Keys every condition may carry, handled by the engine rather than by the platform.
ENGINE_CONDITION_KEYS = frozenset({"condition", "alias", "enabled"})


class ConditionPlatform(Protocol):
    """A kind of condition (``condition: <name>``) contributed by a plugin."""

    @property
    def schema(self) -> Callable[[Any], Any]:
        """A voluptuous validator of the whole condition dict (engine keys included)."""

    def check(self, runtime: Runtime, config: dict[str, Any], variables: Mapping[str, Any]) -> bool:
        """Whether the condition holds now; runs on the loop and must not block.

        Args:
            runtime: the running site.
            config: the validated condition dict.
            variables: the run's variables (``trigger``, ``this`` and the user's).

        Returns:
            True when the condition holds. Raising counts as false, and is traced as an error.
        """


def plugin_condition_platforms(
    runtime: Runtime, domains: Collection[str] | None = None
) -> dict[str, ConditionPlatform]:
    """Collect the condition platforms of every running integration (or of ``domains``)."""
    return collect_platforms(runtime, "edgewise_condition_platforms", domains)
