"""What a service takes, described for clients and the panel as Home Assistant's ``services.yaml``.

Every service is described from its voluptuous schema: each key becomes a field with
``required`` and a ``selector`` guessed from its validator (a boolean, a number with its range,
one of a set of options, text, or an object). What a schema cannot say (a display name, a
description, an example, a better selector) is declared next to the service with ``Field``::

    runtime.services.register(
        "modbus", "write_register", handler, SCHEMA,
        description="Write a holding register.",
        fields={"address": Field(description="Register address", example=40001)},
        target=None,
    )

``target`` says what a service acts on (``{"entity": [{"domain": ["light"]}]}``, from
``entity_target("light")``); entity services set it so that clients offer a target picker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vol

#: A selector as Home Assistant writes it: its kind and that kind's options.
Selector = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Field:
    """What a schema cannot say about one field of a service's data.

    Attributes:
        name: a display name (the key, capitalised, when empty).
        description: one line.
        example: a value shown as a hint.
        selector: overrides the selector guessed from the schema.
    """

    name: str = ""
    description: str = ""
    example: object = None
    selector: Selector | None = None


def _options(values: object) -> list[str] | None:
    if isinstance(values, list | tuple | set | frozenset) and all(
        isinstance(v, str | int | float) for v in values
    ):
        return [str(v) for v in values]
    return None


def selector_for(validator: object) -> Selector:
    """The selector a client should offer for a value ``validator`` accepts."""
    if validator is bool or getattr(validator, "__name__", "") == "boolean":
        return {"boolean": {}}
    if validator in (int, float):
        return {"number": {"mode": "box"}}
    if validator is str or getattr(validator, "__name__", "") in ("string", "slug"):
        return {"text": {}}
    if getattr(validator, "__name__", "") in ("entity_id", "entity_ids"):
        return {"entity": {"multiple": getattr(validator, "__name__", "") == "entity_ids"}}
    if isinstance(validator, vol.In) and isinstance(validator.container, list | tuple | set):
        options = _options(list(validator.container))
        if options is not None:
            return {"select": {"options": options}}
    if isinstance(validator, vol.Coerce) and validator.type in (int, float):
        return {"number": {"mode": "box"}}
    if isinstance(validator, vol.Range):
        number: dict[str, Any] = {"mode": "box"}
        if validator.min is not None:
            number["min"] = validator.min
        if validator.max is not None:
            number["max"] = validator.max
        return {"number": number}
    if isinstance(validator, vol.All):
        # The most specific of its parts: a range beats a bare coercion.
        found = [selector_for(part) for part in validator.validators]
        numbers = [s for s in found if "number" in s]
        if numbers:
            return max(numbers, key=lambda s: len(s["number"]))
        for candidate in found:
            if "object" not in candidate:
                return candidate
    if isinstance(validator, vol.Any):
        options = _options(list(validator.validators))
        if options is not None:
            return {"select": {"options": options}}
    if validator in (dict, list) or isinstance(validator, vol.Schema | dict | list):
        return {"object": {}}
    return {"text": {}} if callable(validator) else {"object": {}}


def describe_fields(
    schema: object, declared: Mapping[str, Field] | None = None
) -> dict[str, dict[str, Any]]:
    """The ``fields`` of a service: one per key of a dict schema, declared details merged."""
    declared = declared or {}
    result: dict[str, dict[str, Any]] = {}
    raw = schema.schema if isinstance(schema, vol.Schema) else schema
    if isinstance(raw, Mapping):
        for key, validator in raw.items():
            name = str(key.schema) if isinstance(key, vol.Marker) else str(key)
            entry: dict[str, Any] = {
                "name": name.replace("_", " ").capitalize(),
                "required": isinstance(key, vol.Required),
                "selector": selector_for(validator),
            }
            if isinstance(key, vol.Marker) and key.description:
                entry["description"] = str(key.description)
            result[name] = entry
    for name, field in declared.items():
        entry = result.setdefault(name, {"name": name.replace("_", " ").capitalize()})
        if field.name:
            entry["name"] = field.name
        if field.description:
            entry["description"] = field.description
        if field.example is not None:
            entry["example"] = field.example
        if field.selector is not None:
            entry["selector"] = field.selector
        entry.setdefault("required", False)
        entry.setdefault("selector", {"text": {}})
    return result


def entity_target(domain: str) -> Selector:
    """The ``target`` of a service that acts on entities of ``domain``."""
    return {"entity": [{"domain": [domain]}]}
