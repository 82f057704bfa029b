"""Automation benchmarks: template rendering (the trigger-to-action figures join later).

Run: ``python bench/automations.py`` (from the repository, with Edgewise installed), or
``--only template`` for one group. Prints one JSON object per figure on standard output; see
bench/README.md for what each figure means.

Each group of figures is a function ``(args) -> None`` in ``GROUPS`` that prints its figures
with ``emit``; add a group there and its options in ``add_arguments``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from figures import emit  # bench/ is the script directory, so on sys.path

from core.clock import FakeClock
from core.runtime import Runtime, tune_gc
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


GROUPS: dict[str, Callable[[argparse.Namespace], None]] = {
    "template": run_template,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every group."""
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=sorted(GROUPS), help="run only these groups")
    parser.add_argument("--renders", type=int, default=50_000, help="template renders per run")
    parser.add_argument("--entities", type=int, default=10_000, help="entities in the runtime")


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
