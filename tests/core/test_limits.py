"""core.limits: the depth and size bounds of data from outside, and logging that cannot fail."""

from __future__ import annotations

import pytest

from core.bus import Event
from core.limits import MAX_DEPTH, MAX_ITEMS, MAX_REPR, InputLimitError, check_data, safe_repr


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for index in range(depth):
        value = {"k": value} if index % 2 else [value]
    return value


def test_data_at_the_depth_limit_is_accepted() -> None:
    check_data(nested(MAX_DEPTH - 1), "body")


def test_data_past_the_depth_limit_is_refused_with_where() -> None:
    with pytest.raises(InputLimitError, match=rf"JSON body: nested deeper than {MAX_DEPTH}"):
        check_data({"service_data": nested(1000)}, "JSON body")


def test_depth_is_measured_without_recursion_far_past_the_interpreter_limit() -> None:
    with pytest.raises(InputLimitError):
        check_data(nested(200_000), "body")


def test_a_reference_cycle_is_refused_as_too_deep() -> None:
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    with pytest.raises(InputLimitError, match="nested deeper"):
        check_data(cycle, "integration data")


def test_too_many_values_are_refused() -> None:
    with pytest.raises(InputLimitError, match=f"more than {MAX_ITEMS} values"):
        check_data([[0] * 1000 for _ in range(200)], "MQTT payload")


def test_a_wide_shallow_body_within_the_limits_is_accepted() -> None:
    check_data({f"key{i}": [i, str(i), None] for i in range(10_000)}, "body")


def test_safe_repr_survives_data_nested_past_the_recursion_limit() -> None:
    text = safe_repr(nested(10_000))
    assert text.startswith("{'k': [{'k': ")
    assert len(text) <= MAX_REPR


def test_safe_repr_survives_a_failing_repr() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RecursionError("maximum recursion depth exceeded")

    assert safe_repr(Hostile()).startswith("<Hostile")
    assert safe_repr({"a": Hostile()}).startswith("{'a': <Hostile")


def test_safe_repr_is_short_for_huge_values() -> None:
    assert len(safe_repr("x" * 10_000_000)) <= MAX_REPR
    assert len(safe_repr({str(i): "y" * 1000 for i in range(10_000)})) <= MAX_REPR


def test_an_event_with_data_too_deep_to_print_has_a_short_repr() -> None:
    event = Event("call_service", {"service_data": nested(5000)})
    text = repr(event)
    assert text.startswith("<Event call_service[L]: {'service_data': ")
    assert len(text) < 2 * MAX_REPR
