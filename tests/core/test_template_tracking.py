"""``track_template``: re-render only on what was read, rate limits, the minute tick."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.const import EVENT_STATE_CHANGED
from core.runtime import Runtime
from core.template import Template, TemplateError, TemplateTracker, track_template
from tests._helpers import settle
from tests.core._template_helpers import template_runtime
from tests.integrations._runtime import clock_of

#: 11:00:30 UTC: half a minute before a minute boundary.
START = datetime(2024, 1, 15, 11, 0, 30, tzinfo=UTC)


class CountingVariables(Mapping[str, Any]):
    """Variables that count how often a render read them: once per render."""

    def __init__(self, **values: Any) -> None:
        self._values = values
        self.renders = 0

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        self.renders += 1
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with template_runtime(tmp_path, START) as rt:
        yield rt


def tracked(
    runtime: Runtime, source: str, variables: CountingVariables | None = None
) -> tuple[list[Any], CountingVariables, TemplateTracker]:
    results: list[Any] = []
    variables = variables if variables is not None else CountingVariables(x=1)
    tracker = TemplateTracker(runtime, Template(source, runtime), variables, results.append)
    tracker.start()
    return results, variables, tracker


async def test_first_result_then_only_changes_of_what_was_read(runtime: Runtime) -> None:
    runtime.states.set("sensor.t", "20")
    source = "{{ states('sensor.t') | float(0) > 21 and is_state('binary_sensor.occ', 'on') }}"
    results, variables, _ = tracked(runtime, source)
    assert results == [False]
    assert variables.renders == 1

    runtime.states.set("sensor.other", "99")
    await settle(runtime)
    assert variables.renders == 1  # not read: not rendered

    runtime.states.set("sensor.t", "22")
    await settle(runtime)
    assert variables.renders == 2
    assert results == [False]  # same result: no callback

    runtime.states.set("binary_sensor.occ", "on")
    await settle(runtime)
    assert variables.renders == 3
    assert results == [False, True]


async def test_entity_that_does_not_exist_yet_is_tracked(runtime: Runtime) -> None:
    results, _, _ = tracked(runtime, "{{ states('sensor.late') }}")
    assert results == ["unknown"]
    runtime.states.set("sensor.late", "5")
    await settle(runtime)
    assert results == ["unknown", 5]


async def test_subscriptions_follow_each_render(runtime: Runtime) -> None:
    runtime.states.set("input_boolean.mode", "on")
    source = (
        "{% if is_state('input_boolean.mode', 'on') %}{{ states('sensor.a') }}"
        "{% else %}{{ states('sensor.b') }}{% endif %}"
    )
    results, variables, tracker = tracked(runtime, source)
    assert tracker.info.entities == {"input_boolean.mode", "sensor.a"}
    runtime.states.set("sensor.b", "2")
    await settle(runtime)
    assert variables.renders == 1
    runtime.states.set("input_boolean.mode", "off")
    await settle(runtime)
    assert results == ["unknown", 2]
    assert tracker.info.entities == {"input_boolean.mode", "sensor.b"}
    runtime.states.set("sensor.a", "1")
    await settle(runtime)
    assert variables.renders == 2


async def test_domain_changes_are_rate_limited(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    source = "{{ states.light | selectattr('state', 'eq', 'on') | list | count }}"
    results, variables, tracker = tracked(runtime, source)
    assert tracker.info.domains == {"light"}
    assert results == [0]

    runtime.states.set("switch.x", "on")  # another domain
    await settle(runtime)
    assert variables.renders == 1

    # Within a second of the last render: held back, then one render for all three changes.
    runtime.states.set("light.a", "on")
    runtime.states.set("light.b", "on")
    await settle(runtime)
    runtime.states.set("light.c", "on")
    await settle(runtime)
    assert variables.renders == 1
    clock.advance(timedelta(seconds=1))
    await settle(runtime)
    assert variables.renders == 2
    assert results == [0, 3]

    # A change long after the last render renders at once.
    clock.advance(timedelta(seconds=5))
    runtime.states.set("light.a", "off")
    await settle(runtime)
    assert variables.renders == 3
    assert results == [0, 3, 2]


async def test_all_states_templates_are_rate_limited(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    results, variables, tracker = tracked(runtime, "{{ states | count }}")
    assert tracker.info.all_states
    for n in range(10):
        runtime.states.set(f"sensor.s{n}", "1")
    await settle(runtime)
    assert variables.renders == 1
    clock.advance(timedelta(seconds=1))
    await settle(runtime)
    assert variables.renders == 2
    assert results == [0, 10]


async def test_read_entity_bypasses_the_rate_limit_of_a_domain_template(runtime: Runtime) -> None:
    source = "{{ states.light | count }}/{{ states('sensor.t') }}"
    results, variables, _ = tracked(runtime, source)
    runtime.states.set("sensor.t", "1")
    await settle(runtime)
    assert results == ["0/unknown", "0/1"]
    assert variables.renders == 2


async def test_now_templates_render_at_each_minute_only(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    results, variables, tracker = tracked(runtime, "{{ now().strftime('%H:%M') }}")
    assert tracker.info.uses_now
    assert results == ["12:00"]
    clock.advance(timedelta(seconds=20))  # 11:00:50
    await settle(runtime)
    assert variables.renders == 1
    clock.advance(timedelta(seconds=10))  # 11:01:00
    await settle(runtime)
    assert variables.renders == 2
    assert results == ["12:00", "12:01"]
    clock.advance(timedelta(seconds=59))
    await settle(runtime)
    assert variables.renders == 2
    clock.advance(timedelta(seconds=1))
    await settle(runtime)
    assert results == ["12:00", "12:01", "12:02"]
    tracker.cancel()
    assert not [job for job in runtime.scheduler.jobs() if "template_tracker" in job.name]  # type: ignore[union-attr]


async def test_errors_are_reported_once_and_recovery_too(runtime: Runtime) -> None:
    results, _, _ = tracked(runtime, "{{ states('sensor.t') | float }}")
    assert len(results) == 1
    assert isinstance(results[0], TemplateError)
    assert "float got invalid input 'unknown'" in str(results[0])
    runtime.states.set("sensor.t", "unavailable")
    await settle(runtime)
    assert len(results) == 2  # a different message: reported
    runtime.states.set("sensor.t", "unavailable", {"x": 1})
    await settle(runtime)
    assert len(results) == 2  # same error again: not reported
    runtime.states.set("sensor.t", "3")
    await settle(runtime)
    assert results[-1] == 3.0


async def test_result_type_changes_are_reported(runtime: Runtime) -> None:
    results, _, _ = tracked(runtime, "{{ states('sensor.t') }}")
    runtime.states.set("sensor.t", "1")
    await settle(runtime)
    runtime.states.set("sensor.t", "1.0")
    await settle(runtime)
    assert results == ["unknown", 1, 1.0]
    assert type(results[2]) is float


async def test_cancel_removes_every_subscription(runtime: Runtime) -> None:
    before = runtime.bus.listener_counts().get(EVENT_STATE_CHANGED, 0)
    results: list[Any] = []
    cancel = track_template(
        runtime,
        Template("{{ states('sensor.t') }} {{ states.light | count }} {{ now() }}"),
        None,
        results.append,
    )
    assert runtime.bus.listener_counts().get(EVENT_STATE_CHANGED, 0) == before + 1
    cancel()
    cancel()
    assert runtime.bus.listener_counts().get(EVENT_STATE_CHANGED, 0) == before
    runtime.states.set("sensor.t", "1")
    runtime.states.set("light.a", "on")
    clock_of(runtime).advance(timedelta(minutes=5))
    await settle(runtime)
    assert len(results) == 1


async def test_callback_may_cancel_from_inside(runtime: Runtime) -> None:
    results: list[Any] = []
    tracker: TemplateTracker

    def on_result(result: Any) -> None:
        results.append(result)
        if result is True:
            tracker.cancel()

    tracker = TemplateTracker(
        runtime, Template("{{ is_state('switch.x', 'on') }}"), None, on_result
    )
    tracker.start()
    runtime.states.set("switch.x", "on")
    await settle(runtime)
    runtime.states.set("switch.x", "off")
    await settle(runtime)
    assert results == [False, True]


async def test_static_template_reports_once_and_subscribes_nothing(runtime: Runtime) -> None:
    before = runtime.bus.listener_counts()
    results: list[Any] = []
    track_template(runtime, Template("21"), None, results.append)
    assert results == [21]
    assert runtime.bus.listener_counts() == before


async def test_needs_a_started_runtime(tmp_path: Path) -> None:
    runtime = Runtime(tmp_path)
    with pytest.raises(RuntimeError, match="started runtime"):
        track_template(runtime, Template("{{ 1 }}"), None, print)


async def test_strict_tracker_reports_undefined_variables(runtime: Runtime) -> None:
    results: list[Any] = []
    tracker = TemplateTracker(
        runtime, Template("{{ states('sensor.t') }}{{ nope }}"), None, results.append, strict=True
    )
    tracker.start()
    assert isinstance(results[0], TemplateError)
    assert tracker.info.entities == {"sensor.t"}
