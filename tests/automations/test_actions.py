"""Every action type, with enabled/continue_on_error, through a manually fired event."""

from __future__ import annotations

from pathlib import Path

from .conftest import Site, site


def _with_actions(actions: str, *, mode: str = "single") -> str:
    return f"""\
automation:
  - id: a
    mode: {mode}
    triggers: [{{trigger: event, event_type: go}}]
    actions:
{actions}
"""


async def _go(s: Site, data: dict[str, object] | None = None) -> None:
    s.runtime.bus.fire("go", data or {})
    await s.settle()


async def test_service_call_forms_target_data_and_response_variable(cfg: Path) -> None:
    yaml = _with_actions("""\
      - service: light.turn_on
        entity_id: light.kitchen
        data_template: {brightness: "{{ 10 * 2 }}"}
      - action: test.record
        target: {entity_id: [light.a, light.b]}
        data: {level: 3, name: "{{ trigger.event.data.who }}"}
        response_variable: answer
      - action: test.record
        data: {echoed: "{{ answer.echo.level }}"}
""")
    async with site(cfg, yaml) as s:
        await _go(s, {"who": "ann"})
        await s.wait_for(lambda: len(s.calls) == 3)
        first, second, third = s.calls
        assert (first.domain, first.service) == ("light", "turn_on")
        assert first.target.entity_ids == {"light.kitchen"}
        assert first.data == {"brightness": 20}
        assert second.target.entity_ids == {"light.a", "light.b"}
        assert second.data == {"level": 3, "name": "ann"}
        assert third.data == {"echoed": 3}
        # The run's context descends from the event that triggered it.
        assert first.context.parent_id is not None


async def test_delay_and_event_actions(cfg: Path) -> None:
    yaml = _with_actions("""\
      - delay: {minutes: 2}
      - event: delayed
        event_data: {n: "{{ 1 + 1 }}"}
      - delay: "00:00:{{ 30 }}"
      - action: test.record
""")
    async with site(cfg, yaml) as s:
        fired = s.events("delayed")
        await _go(s)
        await s.advance(seconds=119)
        assert fired == []
        await s.advance(seconds=2)
        await s.wait_for(lambda: len(fired) == 1)
        assert fired[0].data == {"n": 2}
        await s.advance(seconds=31)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_wait_template_completes_and_times_out(cfg: Path) -> None:
    yaml = _with_actions("""\
      - wait_template: "{{ is_state('binary_sensor.door', 'off') }}"
        timeout: '00:01:00'
      - action: test.record
        data: {completed: "{{ wait.completed }}"}
      - wait_template: "{{ is_state('binary_sensor.door', 'on') }}"
        timeout: 10
        continue_on_timeout: false
      - action: test.record
        data: {unreachable: true}
""")
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.door", "on")
        await _go(s)
        await s.advance(seconds=30)
        assert s.calls == []
        s.set("binary_sensor.door", "off")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"completed": True}
        await s.advance(seconds=11)
        await s.settle()
        assert len(s.calls) == 1
        trace = s.traces("a")[-1]
        assert trace["script_execution"] == "aborted"


async def test_wait_for_trigger_with_timeout_continue(cfg: Path) -> None:
    yaml = _with_actions("""\
      - wait_for_trigger:
          - trigger: state
            entity_id: binary_sensor.motion
            to: "off"
            for: 5
        timeout: {minutes: 1}
      - action: test.record
        data:
          completed: "{{ wait.completed }}"
          entity: "{{ wait.trigger.entity_id if wait.trigger else 'none' }}"
""")
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.motion", "on")
        await _go(s)
        s.set("binary_sensor.motion", "off")
        await s.advance(seconds=6)
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"completed": True, "entity": "binary_sensor.motion"}
        await _go(s)
        await s.advance(minutes=2)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert s.calls[1].data == {"completed": False, "entity": "none"}


async def test_choose_if_then_else(cfg: Path) -> None:
    yaml = _with_actions(
        """\
      - choose:
          - conditions: "{{ trigger.event.data.n == 1 }}"
            sequence: [{action: test.record, data: {branch: one}}]
          - conditions:
              - condition: template
                value_template: "{{ trigger.event.data.n == 2 }}"
            sequence: [{action: test.record, data: {branch: two}}]
        default: [{action: test.record, data: {branch: default}}]
      - if: "{{ trigger.event.data.n > 1 }}"
        then: [{action: test.record, data: {branch: then}}]
        else: [{action: test.record, data: {branch: else}}]
""",
        mode="queued",
    )
    async with site(cfg, yaml) as s:
        for n in (1, 2, 3):
            await _go(s, {"n": n})
        await s.wait_for(lambda: len(s.calls) == 6)
        assert [c.data["branch"] for c in s.calls] == [
            "one",
            "else",
            "two",
            "then",
            "default",
            "then",
        ]


async def test_repeat_count_while_until_for_each(cfg: Path) -> None:
    yaml = _with_actions("""\
      - repeat:
          count: 3
          sequence: [{action: test.record, data: {count: "{{ repeat.index }}"}}]
      - variables: {n: 0}
      - repeat:
          while: "{{ repeat.index <= 2 }}"
          sequence: [{action: test.record, data: {while: "{{ repeat.index }}"}}]
      - repeat:
          until: "{{ repeat.index == 2 }}"
          sequence: [{action: test.record, data: {until: "{{ repeat.index }}"}}]
      - repeat:
          for_each: [kitchen, hall]
          sequence:
            - action: test.record
              data: {room: "{{ repeat.item }}", last: "{{ repeat.last }}"}
""")
    async with site(cfg, yaml) as s:
        await _go(s)
        await s.wait_for(lambda: len(s.calls) == 9)
        assert [c.data for c in s.calls] == [
            {"count": 1},
            {"count": 2},
            {"count": 3},
            {"while": 1},
            {"while": 2},
            {"until": 1},
            {"until": 2},
            {"room": "kitchen", "last": False},
            {"room": "hall", "last": True},
        ]


async def test_repeat_stops_with_an_error_at_the_iteration_limit(cfg: Path) -> None:
    yaml = _with_actions("""\
      - repeat:
          while: "{{ true }}"
          sequence: [{variables: {x: 1}}]
      - action: test.record
""")
    async with site(cfg, yaml) as s:
        await _go(s)
        await s.wait_for(
            lambda: bool(s.traces("a")) and s.traces("a")[-1]["state"] == "stopped", limit=60
        )
        trace = s.traces("a")[-1]
        assert trace["script_execution"] == "error"
        assert "10000 iterations" in trace["error"]
        assert s.calls == []


async def test_parallel_sequence_variables_and_stop_with_error(cfg: Path) -> None:
    yaml = _with_actions("""\
      - variables: {base: 10}
      - parallel:
          - sequence:
              - delay: 5
              - action: test.record
                data: {branch: slow}
          - action: test.record
            data: {branch: fast}
      - sequence:
          - variables: {total: "{{ base + 5 }}"}
          - action: test.record
            data: {total: "{{ total }}"}
      - stop: Nothing more to do
        error: true
      - action: test.record
        data: {never: true}
""")
    async with site(cfg, yaml) as s:
        await _go(s)
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"branch": "fast"}
        await s.advance(seconds=6)
        await s.wait_for(lambda: len(s.calls) == 3)
        assert [c.data for c in s.calls[1:]] == [{"branch": "slow"}, {"total": 15}]
        await s.settle()
        trace = s.traces("a")[-1]
        assert trace["script_execution"] == "error"
        assert trace["error"] == "Nothing more to do"
        assert len(s.calls) == 3


async def test_condition_action_stops_the_sequence(cfg: Path) -> None:
    yaml = _with_actions(
        """\
      - action: test.record
        data: {step: 1}
      - condition: state
        entity_id: input_boolean.go_on
        state: "on"
      - action: test.record
        data: {step: 2}
""",
        mode="queued",
    )
    async with site(cfg, yaml) as s:
        s.set("input_boolean.go_on", "off")
        await _go(s)
        await s.wait_for(lambda: len(s.calls) == 1)
        s.set("input_boolean.go_on", "on")
        await _go(s)
        await s.wait_for(lambda: len(s.calls) == 3)
        assert [c.data["step"] for c in s.calls] == [1, 1, 2]


async def test_enabled_false_and_continue_on_error(cfg: Path) -> None:
    yaml = _with_actions("""\
      - action: test.record
        data: {step: disabled}
        enabled: false
      - action: test.fail
        continue_on_error: true
      - action: test.record
        data: {step: after_error}
      - action: test.fail
      - action: test.record
        data: {step: never}
""")
    async with site(cfg, yaml) as s:
        await _go(s)
        await s.wait_for(lambda: bool(s.traces("a")) and s.traces("a")[-1]["state"] == "stopped")
        assert [c.data for c in s.calls] == [{"step": "after_error"}]
        trace = s.traces("a")[-1]
        assert trace["script_execution"] == "error"
        assert trace["error"] == "the device said no"
        assert trace["trace"]["action/0"][0]["result"] == {"enabled": False}
        assert trace["trace"]["action/1"][0]["error"] == "the device said no"


async def test_legacy_spellings_service_template_and_scene_shorthand(cfg: Path) -> None:
    yaml = _with_actions("""\
      - service_template: "test.{{ 'record' }}"
        data: {form: service_template}
      - scene: scene.evening
""")
    async with site(cfg, yaml) as s:
        await _go(s)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert s.calls[0].data == {"form": "service_template"}
        assert s.calls[1].target.entity_ids == {"scene.evening"}
