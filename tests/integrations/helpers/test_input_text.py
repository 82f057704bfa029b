"""``input_text`` in a real Runtime: length, pattern, mode, restore."""

from __future__ import annotations

import pytest

from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.integrations.helpers.conftest import Site, attrs_of, state_of

YAML = """\
input_text:
  code:
    name: Code
    min: 4
    max: 6
    pattern: "[0-9]+"
    mode: password
  message:
    initial: Hello
"""


async def set_value(runtime: Runtime, value: str, entity: str = "input_text.code") -> None:
    await runtime.services.call("input_text", "set_value", {"entity_id": entity, "value": value})


async def test_attributes_and_set_value(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_text.code") == "unknown"
        assert attrs_of(runtime, "input_text.code") == {
            "min": 4,
            "max": 6,
            "pattern": "[0-9]+",
            "mode": "password",
            "editable": False,
            "friendly_name": "Code",
        }
        assert state_of(runtime, "input_text.message") == "Hello"
        assert attrs_of(runtime, "input_text.message")["max"] == 100
        await set_value(runtime, "1234")
        assert state_of(runtime, "input_text.code") == "1234"


async def test_length_and_pattern_are_checked(site: Site) -> None:
    async with site(YAML) as runtime:
        with pytest.raises(ServiceValidationError, match=r"input_text\.code is 3 characters long"):
            await set_value(runtime, "123")
        with pytest.raises(ServiceValidationError, match="does not match the pattern"):
            await set_value(runtime, "12ab")
        assert state_of(runtime, "input_text.code") == "unknown"


async def test_restore_unless_initial(site: Site) -> None:
    async with site(YAML) as runtime:
        await set_value(runtime, "98765")
        await set_value(runtime, "Bye", "input_text.message")
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_text.code") == "98765"
        assert state_of(runtime, "input_text.message") == "Hello"
    async with site(YAML.replace("max: 6", "max: 4")) as runtime:
        assert state_of(runtime, "input_text.code") == "unknown"  # no longer fits


async def test_bad_items_are_reported(site: Site) -> None:
    yaml = """\
input_text:
  long_initial:
    max: 3
    initial: abcd
  bad_regex:
    pattern: "[unclosed"
  too_long:
    max: 300
"""
    async with site(yaml) as runtime:
        assert runtime.config is not None
        issues = {issue.key: issue.message for issue in runtime.config.issues}
        assert "4 characters long" in issues["input_text.long_initial.initial"]
        assert "invalid regular expression" in issues["input_text.bad_regex.pattern"]
        assert "input_text.too_long.max" in issues
