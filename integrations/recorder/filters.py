"""Which entities and events the recorder keeps: Home Assistant's include/exclude rules.

For an entity, the first rule that matches decides:

1. listed in ``include.entities`` → recorded;
2. listed in ``exclude.entities`` → not recorded;
3. matches ``include.entity_globs`` → recorded;
4. matches ``exclude.entity_globs`` → not recorded;
5. its domain is in ``include.domains`` → recorded;
6. its domain is in ``exclude.domains`` → not recorded;
7. otherwise recorded, unless some ``include`` entity rule exists (then only what is included).

An event type is recorded unless it is in ``exclude.event_types`` or an ``include.event_types``
list exists without it. ``state_changed`` events pass the event-type rule first, then the
entity rule.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """One side (include or exclude) of the recorder's filter, as configured."""

    domains: frozenset[str] = field(default_factory=frozenset)
    entities: frozenset[str] = field(default_factory=frozenset)
    entity_globs: tuple[str, ...] = ()
    event_types: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_entity_rules(self) -> bool:
        """Whether any domain, entity or glob is listed."""
        return bool(self.domains or self.entities or self.entity_globs)


def _glob_regex(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


class RecordFilter:
    """Decides, with a per-entity cache, whether an entity or an event type is recorded."""

    __slots__ = ("_cache", "_exclude", "_exclude_glob", "_include", "_include_glob")

    def __init__(self, include: EntityFilter, exclude: EntityFilter) -> None:
        self._include = include
        self._exclude = exclude
        self._include_glob = _glob_regex(include.entity_globs)
        self._exclude_glob = _glob_regex(exclude.entity_globs)
        self._cache: dict[str, bool] = {}

    def entity_recorded(self, entity_id: str) -> bool:
        """Whether states of ``entity_id`` are recorded (rules in the module doc)."""
        try:
            return self._cache[entity_id]
        except KeyError:
            result = self._cache[entity_id] = self._decide(entity_id)
            return result

    def _decide(self, entity_id: str) -> bool:
        include, exclude = self._include, self._exclude
        domain = entity_id.partition(".")[0]
        if entity_id in include.entities:
            return True
        if entity_id in exclude.entities:
            return False
        if self._include_glob is not None and self._include_glob.match(entity_id):
            return True
        if self._exclude_glob is not None and self._exclude_glob.match(entity_id):
            return False
        if domain in include.domains:
            return True
        if domain in exclude.domains:
            return False
        return not include.has_entity_rules

    def event_recorded(self, event_type: str) -> bool:
        """Whether events of ``event_type`` are recorded."""
        if event_type in self._exclude.event_types:
            return False
        return not self._include.event_types or event_type in self._include.event_types
