"""Helpers for the helper tests: a Runtime on a FakeClock in one config dir, restartable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.bus import Event, callback
from core.runtime import Runtime
from tests.integrations._runtime import running

#: A Monday, 10:00 in Amsterdam.
START = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)

HEADER = """\
edgewise:
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
"""

Site = Callable[..., Any]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """``async with site(yaml, start)`` runs a Runtime with ``HEADER + yaml`` in one directory.

    Each use starts a fresh Runtime in the same configuration directory, so a second use is a
    restart that finds what the first one stored.
    """

    @asynccontextmanager
    async def run(yaml: str, start: datetime = START) -> AsyncIterator[Runtime]:
        async with running(tmp_path, HEADER + yaml, start) as runtime:
            yield runtime

    return run


class EventLog:
    """Records the events of some types, in order."""

    def __init__(self, runtime: Runtime, *event_types: str) -> None:
        self.events: list[Event[Any]] = []
        for event_type in event_types:
            runtime.bus.listen(event_type, callback(self.events.append))

    def types(self) -> list[str]:
        """The types of the recorded events, in order."""
        return [event.event_type for event in self.events]


def state_of(runtime: Runtime, entity_id: str) -> str:
    """The state string of ``entity_id``; fails when it has none."""
    state = runtime.states.get(entity_id)
    assert state is not None, f"{entity_id} has no state"
    return state.state


def attrs_of(runtime: Runtime, entity_id: str) -> dict[str, Any]:
    """The attributes of ``entity_id``."""
    state = runtime.states.get(entity_id)
    assert state is not None, f"{entity_id} has no state"
    return dict(state.attributes)
