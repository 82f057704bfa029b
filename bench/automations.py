"""Automation benchmarks: template rendering, and latency from a state write to an action.

Run: ``python bench/automations.py`` (from the repository, with Edgewise installed), or
``--only template`` for one group. Prints one JSON object per figure on standard output; see
bench/README.md for what each figure means.

Each group of figures is a function ``(args) -> None`` in ``GROUPS`` that prints its figures
with ``emit``; add a group there and its options in ``add_arguments``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# bench/ is the script directory, so on sys.path; importing figures takes it off again, so
# this file (automations.py) does not shadow the ``automations`` package imported next.
from figures import emit

from automations import integration as automation_integration
from automations.manager import AutomationManager
from core.bus import callback
from core.clock import FakeClock
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime, tune_gc
from core.services import ServiceCall
from core.template import Template

#: The condition template the issue names: one numeric state, one on/off state.
CONDITION_TEMPLATE = (
    "{{ states('sensor.t') | float(0) > 21 and is_state('binary_sensor.occ', 'on') }}"
)

_CONFIG = """\
edgewise:
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
"""


async def _started_runtime(config_dir: Path) -> Runtime:
    (config_dir / "configuration.yaml").write_text(_CONFIG, encoding="utf-8")
    runtime = Runtime(config_dir, clock=FakeClock(datetime(2024, 1, 15, 11, 0, tzinfo=UTC)))
    await runtime.start()
    return runtime


def load_entities(runtime: Runtime, entities: int) -> None:
    """Give the runtime ``entities`` sensors (with attributes) besides the two the condition
    reads."""
    attributes = {"unit_of_measurement": "W", "device_class": "power"}
    for index in range(entities - 2):
        runtime.states.set(f"sensor.load_{index}", str(index % 500), attributes)
    runtime.states.set("sensor.t", "22.5", {"unit_of_measurement": "°C"})
    runtime.states.set("binary_sensor.occ", "on", {"device_class": "occupancy"})


async def template_renders_per_s(renders: int, entities: int) -> float:
    """Render the condition template ``renders`` times against ``entities`` entities.

    The template is compiled once (as automations keep it); each render parses its result, as
    ``Template.render`` does by default, and records what it read.
    """
    with tempfile.TemporaryDirectory(prefix="edgewise-bench-") as tmp:
        runtime = await _started_runtime(Path(tmp))
        try:
            load_entities(runtime, entities)
            template = Template(CONDITION_TEMPLATE, runtime, name="bench condition")
            if template.render() is not True:
                raise RuntimeError("the condition template should render True")
            render = template.render
            started = time.perf_counter()
            for _ in range(renders):
                render()
            return renders / (time.perf_counter() - started)
        finally:
            await runtime.stop()


def run_template(args: argparse.Namespace) -> None:
    """Print ``template_renders_per_s``."""
    values = [
        asyncio.run(template_renders_per_s(args.renders, args.entities)) for _ in range(args.runs)
    ]
    emit(
        "template_renders_per_s",
        values,
        "1/s",
        f"{CONDITION_TEMPLATE!s} with {args.entities:,} entities, {args.renders:,} renders per "
        f"run; median of {args.runs}",
    )


_AUTOMATION_HEADER = """\
edgewise:
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
bench_target:
"""

MEASURED = """\
  - id: measured
    triggers:
      - trigger: state
        entity_id: sensor.trigger
    actions:
      - action: bench.act
        target: {entity_id: switch.target}
        data: {level: 1}
"""

#: One of the 1,000 automations of the loaded site: each watches its own entity, half of them
#: with a condition, and calls a service, as a typical home's automations do.
FILLER = """\
  - id: filler_{n}
    triggers:
      - trigger: state
        entity_id: sensor.load_{n}
        to: "on"
        for: {{seconds: 30}}
    conditions:
      - condition: state
        entity_id: sensor.load_{m}
        state: "off"
    actions:
      - action: bench.other
        target: {{entity_id: switch.load_{n}}}
"""


class BenchTarget:
    """A plugin with the services the automations call; ``act`` stamps the time it ran."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future[float] | None = None

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="bench_target", name="Benchmark target")

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        @callback
        def act(call: ServiceCall) -> None:
            now = time.perf_counter()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(now)

        @callback
        def other(call: ServiceCall) -> None:
            return None

        runtime.services.register("bench", "act", act)
        runtime.services.register("bench", "other", other)


async def _latencies(samples: int, automations: int, entities: int) -> list[float]:
    """Start a site, then time ``samples`` state writes to the measured automation's action."""
    plugin = BenchTarget()
    loader = IntegrationLoader()
    loader.register(automation_integration, source="automations.integration")
    loader.register(plugin, source="bench")
    config = "automation:\n" + MEASURED
    config += "".join(FILLER.format(n=n, m=(n + 1) % entities) for n in range(automations - 1))
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp)
        (config_dir / "configuration.yaml").write_text(_AUTOMATION_HEADER + config)
        runtime = Runtime(config_dir, loader=loader)
        await runtime.start()
        try:
            await runtime.data[AutomationManager.KEY].loaded.wait()
            states = runtime.states
            for n in range(entities):
                states.set(f"sensor.load_{n}", "off", {"unit_of_measurement": "W"})
            states.set("sensor.trigger", "0")
            await asyncio.sleep(0.1)
            tune_gc()
            loop = asyncio.get_running_loop()
            result: list[float] = []
            for i in range(samples + 50):
                plugin.waiter = loop.create_future()
                started = time.perf_counter()
                states.set("sensor.trigger", str(i + 1))
                done = await plugin.waiter
                if i >= 50:  # warm-up
                    result.append((done - started) * 1e6)
                # Let the run finish (trace, entity state) before the next write: an idle loop.
                for _ in range(5):
                    await asyncio.sleep(0)
            return result
        finally:
            await runtime.stop()


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def _trigger_to_action(runs: int, samples: int) -> None:
    """Print the unloaded and loaded p50/p99 figures (medians over ``runs`` runs).

    The unloaded and loaded sites take turns, run by run, so that a shared machine's slow and
    fast spells fall on both alike: the loaded figures are compared with the unloaded ones.
    """
    sites = {"trigger_to_action": (1, 1), "trigger_to_action_loaded": (1000, 10_000)}
    p50s: dict[str, list[float]] = {prefix: [] for prefix in sites}
    p99s: dict[str, list[float]] = {prefix: [] for prefix in sites}
    for _ in range(runs):
        for prefix, (automations, entities) in sites.items():
            latencies = await _latencies(samples, automations, entities)
            p50s[prefix].append(statistics.median(latencies))
            p99s[prefix].append(_p99(latencies))
    for prefix, (automations, entities) in sites.items():
        what = (
            f"{samples} sequential state writes, state trigger -> one service call, "
            f"{automations} automation(s), {entities} other entities; median of {runs} runs, "
            "taking turns with the other site"
        )
        emit(f"{prefix}_p50_us", p50s[prefix], "us", what)
        emit(f"{prefix}_p99_us", p99s[prefix], "us", what)


def run_trigger_to_action(args: argparse.Namespace) -> None:
    """Print ``trigger_to_action_*`` and ``trigger_to_action_loaded_*``."""
    asyncio.run(_trigger_to_action(args.runs, args.samples))


GROUPS: dict[str, Callable[[argparse.Namespace], None]] = {
    "template": run_template,
    "trigger_to_action": run_trigger_to_action,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every group."""
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=sorted(GROUPS), help="run only these groups")
    parser.add_argument("--renders", type=int, default=50_000, help="template renders per run")
    parser.add_argument("--entities", type=int, default=10_000, help="entities in the runtime")
    parser.add_argument(
        "--samples", type=int, default=1000, help="timed state writes per trigger_to_action run"
    )


def main() -> None:
    """Run the selected groups (all by default) and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args()
    tune_gc()
    for name, run in GROUPS.items():
        if args.only is None or name in args.only:
            run(args)


if __name__ == "__main__":
    main()
