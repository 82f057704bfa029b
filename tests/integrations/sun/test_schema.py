"""The ``sun:`` section: nothing or an empty mapping; every key is named as unknown."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.sun.schema import CONFIG_SCHEMA, SunConfig


@pytest.mark.parametrize("value", [None, {}])
def test_bare_or_empty_section_gives_an_empty_config(value: object) -> None:
    assert CONFIG_SCHEMA(value) == SunConfig()


def test_each_unknown_key_is_named_with_its_path() -> None:
    with pytest.raises(vol.MultipleInvalid) as info:
        CONFIG_SCHEMA({"foo": 1, "elevation": 3})
    errors = sorted(info.value.errors, key=lambda e: str(e.path))
    assert [e.path for e in errors] == [["elevation"], ["foo"]]
    assert errors[1].msg == "unknown option 'foo': this integration takes no options"


@pytest.mark.parametrize("value", [[], ["x"], 1, "yes"])
def test_a_section_that_is_not_a_mapping_is_refused(value: object) -> None:
    with pytest.raises(vol.Invalid, match="expected nothing or an empty mapping"):
        CONFIG_SCHEMA(value)
