"""core.json: bounded parsing of what comes in, and output that one bad value cannot break."""

from __future__ import annotations

import orjson
import pytest

from core.json import CLIPPED, json_bytes, json_loads, postgres_safe
from core.limits import MAX_DEPTH, InputLimitError
from core.state import State


def deep_json(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_json_loads_refuses_a_body_nested_past_the_limit() -> None:
    with pytest.raises(InputLimitError, match=f"nested deeper than {MAX_DEPTH}"):
        json_loads(deep_json(1000))


def test_json_loads_refusal_is_a_value_error_like_bad_json() -> None:
    # The REST and WebSocket doors treat ValueError as a bad message (400 / close).
    with pytest.raises(ValueError, match="nested deeper"):
        json_loads(deep_json(MAX_DEPTH + 1))
    assert json_loads(deep_json(MAX_DEPTH - 1))


def test_one_state_nested_past_orjsons_limit_does_not_break_the_list() -> None:
    value: object = "leaf"
    for _ in range(300):
        value = {"a": value}
    states = [State("sensor.good", "1", {"unit": "W"}), State("sensor.deep", "2", {"t": value})]
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(value)

    good, deep = orjson.loads(json_bytes(states))

    assert good["attributes"] == {"unit": "W"}
    assert deep["state"] == "2"
    assert CLIPPED in json_bytes(deep).decode()


def test_a_reference_cycle_and_a_huge_integer_are_written_not_fatal() -> None:
    cycle: dict[str, object] = {"n": 2**70}
    cycle["self"] = cycle
    out = orjson.loads(json_bytes({"x": cycle}))
    assert out["x"]["n"] == str(2**70)
    assert CLIPPED in json_bytes(cycle).decode()


def test_postgres_safe_replaces_non_finite_numbers_and_nul_characters_throughout() -> None:
    value = {"a\x00": [float("nan"), (float("inf"), "b\x00c")], 1: -float("inf"), "d": 2.5}

    assert postgres_safe(value) == {"a\ufffd": [None, [None, "b\ufffdc"]], 1: None, "d": 2.5}
    assert postgres_safe("\\u0000") == "\\u0000"  # text that merely looks like an escape
