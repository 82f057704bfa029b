"""What the built-in trigger platforms share: scheduling on the runtime's clock, ``for`` periods."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from automations.templating import Value, render_duration
from core.bus import callback

if TYPE_CHECKING:
    from core.runtime import Runtime
    from core.state import State

_LOGGER = logging.getLogger(__name__)

Variables = Mapping[str, Any]
Detach = Callable[[], None]


def call_later(runtime: Runtime, delay: timedelta, action: Callable[[], None], name: str) -> Detach:
    """Run ``action`` on the loop after ``delay`` of the runtime's clock; returns cancel."""
    scheduler = runtime.scheduler
    assert scheduler is not None  # noqa: S101 - triggers attach once the runtime started

    @callback
    def run(_when: datetime) -> None:
        action()

    return scheduler.at(runtime.clock.now() + delay, run, name=name)


def nothing() -> None:
    """A detach with nothing to undo."""
    return


def for_period(
    duration: Value,
    variables: Variables,
    platform: str,
    entity_id: str,
    *,
    old: State | None,
    new: State,
) -> timedelta | None:
    """Render the ``for`` of a state or numeric_state trigger for the change ``old`` → ``new``.

    The template sees ``trigger`` with the platform, entity and both states, as in Home
    Assistant.

    Returns:
        The period, or None when it did not render (the error is logged).
    """
    trigger_vars = {
        **variables,
        "trigger": {
            "platform": platform,
            "entity_id": entity_id,
            "from_state": old,
            "to_state": new,
        },
    }
    try:
        return render_duration(duration, trigger_vars, "for")
    except Exception as err:
        _LOGGER.error("Error rendering 'for' of the %s trigger on %s: %s", platform, entity_id, err)
        return None
