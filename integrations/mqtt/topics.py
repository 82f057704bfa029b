"""MQTT topic names and filters: validation, matching, and the subscription dispatch table.

A received message is dispatched through one table: a dict keyed by exact topic for filters
without wildcards (the common case: one state topic per entity), and a tree of topic levels for
filters with ``+`` or ``#``. A topic's first message costs one dict lookup plus a walk of the
wildcard tree along its own levels, never a scan of every subscription; the result is kept per
topic, so later messages on it cost one dict lookup (the memo is cleared whenever a
subscription comes or goes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

import voluptuous as vol

_LOGGER = logging.getLogger(__name__)

#: The longest topic MQTT allows, in bytes of UTF-8.
MAX_TOPIC_BYTES: Final = 65535
#: Topics whose matching subscriptions are remembered, at most.
MEMO_SIZE: Final = 100_000


def topic_problem(topic: object, *, wildcards: bool) -> str | None:
    """What is wrong with ``topic`` as a topic name (or a filter, with ``wildcards``), or None.

    The rules are the MQTT specification's: not empty, at most 65535 bytes of UTF-8, no NUL
    character, and in a name no ``+``/``#``; in a filter ``+`` must be a whole level and ``#`` a
    whole last level.
    """
    if not isinstance(topic, str):
        return f"expected a topic string, got {type(topic).__name__}"
    if not topic:
        return "a topic cannot be empty"
    if "\0" in topic:
        return "a topic cannot contain the NUL character"
    try:
        encoded = topic.encode("utf-8")
    except UnicodeEncodeError:
        return "a topic must be valid UTF-8"
    if len(encoded) > MAX_TOPIC_BYTES:
        return f"a topic cannot be longer than {MAX_TOPIC_BYTES} bytes"
    if not wildcards:
        if "+" in topic or "#" in topic:
            return f"wildcards '+' and '#' are not allowed in a topic to publish to: {topic!r}"
        return None
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return f"'#' must be the whole last level of a topic filter: {topic!r}"
        if "+" in level and level != "+":
            return f"'+' must be a whole level of a topic filter: {topic!r}"
    return None


def valid_publish_topic(value: object) -> str:
    """Voluptuous validator of a topic to publish to (no wildcards)."""
    if (problem := topic_problem(value, wildcards=False)) is not None:
        raise vol.Invalid(problem)
    assert isinstance(value, str)  # noqa: S101 - topic_problem checked it
    return value


def valid_subscribe_topic(value: object) -> str:
    """Voluptuous validator of a topic filter to subscribe to (wildcards allowed)."""
    if (problem := topic_problem(value, wildcards=True)) is not None:
        raise vol.Invalid(problem)
    assert isinstance(value, str)  # noqa: S101 - topic_problem checked it
    return value


def has_wildcard(topic_filter: str) -> bool:
    """Whether ``topic_filter`` has a ``+`` or ``#`` level."""
    return "+" in topic_filter or "#" in topic_filter


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (for one-off checks; the table is faster)."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    # Per the specification, '#' and '+' at the first level do not match topics starting '$'.
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level not in ("+", topic_levels[index]):
            return False
    return len(filter_levels) == len(topic_levels)


@dataclass(slots=True, eq=False)
class ReceivedMessage:
    """A message from the broker, as subscribers see it.

    ``subscribed_topic`` is the filter of the subscription the message is handed to.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    subscribed_topic: str = ""


MessageCallback = Callable[[ReceivedMessage], None]


@dataclass(slots=True, eq=False)
class Subscription:
    """One subscriber of one topic filter."""

    topic_filter: str
    callback: MessageCallback
    qos: int


@dataclass(slots=True)
class _Node:
    """A level of the wildcard tree: children by level, and the subscriptions ending here."""

    children: dict[str, _Node] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)


class SubscriptionTable:
    """Every local subscription, indexed for dispatch by exact topic and by wildcard tree.

    Also counts the subscribers per filter, so the broker is asked for each filter once and told
    to forget it when its last subscriber leaves. Used on the event loop only.
    """

    def __init__(self) -> None:
        self._exact: dict[str, list[Subscription]] = {}
        self._root = _Node()
        self._by_filter: dict[str, list[Subscription]] = {}
        self._memo: dict[str, tuple[Subscription, ...]] = {}

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._by_filter.values())

    def add(self, subscription: Subscription) -> bool:
        """Index ``subscription``; True when it is the first for its filter."""
        topic_filter = subscription.topic_filter
        self._memo.clear()
        first = topic_filter not in self._by_filter
        self._by_filter.setdefault(topic_filter, []).append(subscription)
        if has_wildcard(topic_filter):
            node = self._root
            for level in topic_filter.split("/"):
                node = node.children.setdefault(level, _Node())
            node.subscriptions.append(subscription)
        else:
            self._exact.setdefault(topic_filter, []).append(subscription)
        return first

    def remove(self, subscription: Subscription) -> bool:
        """Forget ``subscription``; True when it was the last for its filter."""
        topic_filter = subscription.topic_filter
        subs = self._by_filter.get(topic_filter)
        if subs is None or subscription not in subs:
            return False
        self._memo.clear()
        subs.remove(subscription)
        if has_wildcard(topic_filter):
            self._remove_from_tree(topic_filter.split("/"), subscription)
        else:
            exact = self._exact[topic_filter]
            exact.remove(subscription)
            if not exact:
                del self._exact[topic_filter]
        if subs:
            return False
        del self._by_filter[topic_filter]
        return True

    def _remove_from_tree(self, levels: list[str], subscription: Subscription) -> None:
        path = [self._root]
        for level in levels:
            path.append(path[-1].children[level])
        path[-1].subscriptions.remove(subscription)
        # Prune the branches left empty, deepest first.
        for depth in range(len(levels), 0, -1):
            node = path[depth]
            if node.subscriptions or node.children:
                break
            del path[depth - 1].children[levels[depth - 1]]

    def filters(self) -> dict[str, int]:
        """Each subscribed filter with the highest QoS any of its subscribers asked for."""
        return {f: max(s.qos for s in subs) for f, subs in self._by_filter.items()}

    def qos_of(self, topic_filter: str) -> int:
        """The highest QoS the subscribers of ``topic_filter`` asked for (0 when none)."""
        return max((s.qos for s in self._by_filter.get(topic_filter, ())), default=0)

    def match(self, topic: str) -> tuple[Subscription, ...]:
        """The subscriptions whose filter matches ``topic``: exact ones first, then wildcards.

        The tuple is a snapshot: a subscriber may unsubscribe while it is being iterated.
        """
        found = self._memo.get(topic)
        if found is not None:
            return found
        found = tuple(self._exact.get(topic, ()))
        if self._root.children:
            found += tuple(self._walk(self._root, topic.split("/"), 0, topic.startswith("$")))
        if len(self._memo) >= MEMO_SIZE:
            # Topics that come once (a dump of '#', say) must not grow the memo for ever.
            self._memo.clear()
        self._memo[topic] = found
        return found

    def _walk(
        self, node: _Node, levels: list[str], index: int, dollar: bool
    ) -> Iterator[Subscription]:
        children = node.children
        # '$SYS/...' topics are not matched by a wildcard at the first level.
        first_level_wildcards = not (dollar and index == 0)
        if first_level_wildcards and (hash_node := children.get("#")) is not None:
            yield from hash_node.subscriptions
        if index == len(levels):
            yield from node.subscriptions
            return
        level = levels[index]
        if (child := children.get(level)) is not None:
            yield from self._walk(child, levels, index + 1, dollar)
        if first_level_wildcards and (plus := children.get("+")) is not None:
            yield from self._walk(plus, levels, index + 1, dollar)
