"""What the input bounds cost (issue 25): parsing a REST/WebSocket body with ``core.limits``
against plain orjson, reading the editor's YAML with the client loader, and refusing a
"billion laughs" document. Runs in a few seconds.

    .venv/bin/python bench/limits.py [--runs 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import figures
import orjson

from core.errors import ConfigError
from core.json import json_loads
from core.yaml_loader import load_client_yaml

REPO = Path(__file__).resolve().parent.parent

SMALL = orjson.dumps({"entity_id": "light.kitchen", "brightness": 120})
#: A WebSocket ``call_service`` with 200 fields of nested data: 5.6 KB, 400 containers.
LARGE = orjson.dumps(
    {
        "id": 7,
        "type": "call_service",
        "service_data": {f"k{i}": {"v": i, "l": [1, 2, 3]} for i in range(200)},
    }
)
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def per_call_us(call: Callable[[], object], seconds: float = 0.3) -> float:
    """Microseconds per call, over about ``seconds``."""
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            call()
        count += 100
    return elapsed / count * 1e6


def refuse_laughs() -> None:
    try:
        load_client_yaml(LAUGHS, "automation.yaml")
    except ConfigError:
        return
    raise AssertionError("billion laughs was not refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    shipped = (REPO / "config" / "automations.yaml").read_text()
    cases: list[tuple[str, Callable[[], object], str, float, str]] = [
        ("limits_json_small_orjson_us", lambda: orjson.loads(SMALL), "µs", 1, "46-byte body"),
        ("limits_json_small_bounded_us", lambda: json_loads(SMALL), "µs", 1, "46-byte body"),
        ("limits_json_5kb_orjson_us", lambda: orjson.loads(LARGE), "µs", 1, "5.6 KB message"),
        ("limits_json_5kb_bounded_us", lambda: json_loads(LARGE), "µs", 1, "5.6 KB message"),
        (
            "client_yaml_shipped_automations_ms",
            lambda: load_client_yaml(shipped, "automations.yaml"),
            "ms",
            1e-3,
            "config/automations.yaml through the editor's loader",
        ),
        ("billion_laughs_refused_ms", refuse_laughs, "ms", 1e-3, "463-byte document"),
    ]
    for metric, call, unit, scale, note in cases:
        values = [per_call_us(call) * scale for _ in range(runs)]
        figures.emit(metric, values, unit, f"median of {runs}; {note}")


if __name__ == "__main__":
    main()
