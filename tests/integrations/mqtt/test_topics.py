"""Topic validation and the subscription dispatch table, without a broker."""

from __future__ import annotations

import pytest

from integrations.mqtt.topics import (
    Subscription,
    SubscriptionTable,
    filter_matches,
    topic_problem,
)


def _sub(topic_filter: str, qos: int = 0) -> Subscription:
    return Subscription(topic_filter, lambda message: None, qos)


@pytest.mark.parametrize(
    ("topic", "wildcards", "problem"),
    [
        ("a/b", False, None),
        ("a/+/c", True, None),
        ("a/#", True, None),
        ("#", True, None),
        ("", True, "cannot be empty"),
        ("a/#/c", True, "'#' must be the whole last level"),
        ("a/b#", True, "'#' must be the whole last level"),
        ("a/b+/c", True, "'+' must be a whole level"),
        ("a/+", False, "wildcards"),
        ("a\0b", True, "NUL"),
        ("a" * 70000, True, "longer than 65535 bytes"),
        (5, True, "expected a topic string"),
    ],
)
def test_topic_problems(topic: object, wildcards: bool, problem: str | None) -> None:
    found = topic_problem(topic, wildcards=wildcards)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


FILTERS = ["a/b", "a/+", "a/#", "+/b", "#", "a/+/c", "$SYS/#", "+/+"]


@pytest.mark.parametrize("topic", ["a/b", "a", "a/x/c", "x/b", "$SYS/load", "a/b/c/d", "/b"])
def test_table_agrees_with_the_specification(topic: str) -> None:
    table = SubscriptionTable()
    subs = [_sub(f) for f in FILTERS]
    for sub in subs:
        table.add(sub)
    expected = {s.topic_filter for s in subs if filter_matches(s.topic_filter, topic)}
    assert {s.topic_filter for s in table.match(topic)} == expected


def test_dollar_topics_are_not_matched_by_first_level_wildcards() -> None:
    assert not filter_matches("#", "$SYS/x")
    assert not filter_matches("+/x", "$SYS/x")
    assert filter_matches("$SYS/#", "$SYS/x")


def test_counting_pruning_and_the_memo() -> None:
    table = SubscriptionTable()
    one, two, wild = _sub("a/b", 0), _sub("a/b", 1), _sub("a/+", 0)
    assert table.add(one) is True
    assert table.add(two) is False
    assert table.filters() == {"a/b": 1}
    assert table.match("a/b") == (one, two)
    assert table.add(wild) is True
    # The memo was cleared by the new subscription: the wildcard is seen at once.
    assert table.match("a/b") == (one, two, wild)
    assert table.remove(two) is False
    assert table.qos_of("a/b") == 0
    assert table.remove(one) is True
    assert table.remove(one) is False
    assert table.match("a/b") == (wild,)
    assert table.remove(wild) is True
    assert table.match("a/b") == ()
    assert len(table) == 0
    assert table.filters() == {}
