"""The ``assistant:`` section: defaults, and bad values named by their key."""

from __future__ import annotations

from pathlib import Path

import pytest
import voluptuous as vol

from core.cli import _check_config
from integrations.assistant.const import DEFAULT_HIGH_IMPACT, DEFAULT_MODEL
from integrations.assistant.schema import CONFIG_SCHEMA, AssistantConfig
from tests.integrations._runtime import write_config


def test_a_bare_section_takes_the_defaults_and_has_no_key() -> None:
    """``assistant:`` alone: no API key (the chat says so), the default model."""
    config = CONFIG_SCHEMA(None)
    assert isinstance(config, AssistantConfig)
    assert config.api_key is None
    assert config.model == DEFAULT_MODEL
    assert config.high_impact == frozenset(DEFAULT_HIGH_IMPACT)


def test_high_impact_services_are_read() -> None:
    """High-impact services are added to the defaults."""
    config = CONFIG_SCHEMA({"high_impact_services": ["Switch.Turn_On"]})
    assert "switch.turn_on" in config.high_impact


def test_the_old_user_areas_key_is_refused_pointing_at_core_areas() -> None:
    """Areas are core's (User.areas): the assistant's own key is named and the command given."""
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA({"user_areas": {"alice": ["plant"]}})
    assert err.value.path == ["user_areas"]
    assert "user_areas is no longer read" in str(err.value)
    assert "edgewise user areas USERNAME AREA_ID" in str(err.value)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"high_impact_services": ["unlock"]}, "high_impact_services"),
        ({"base_url": "ftp://x"}, "base_url"),
        ({"max_tool_calls_per_turn": 0}, "max_tool_calls_per_turn"),
        ({"price_per_million_tokens": {"input": -1}}, "price_per_million_tokens"),
        ({"no_such_key": 1}, "no_such_key"),
    ],
)
def test_bad_values_are_refused_naming_the_key(section: dict, key: str) -> None:
    """Each bad value's error names its key."""
    with pytest.raises(vol.Invalid) as caught:
        CONFIG_SCHEMA(section)
    assert key in str(caught.value)


def test_check_config_names_the_file_line_and_key_of_the_old_user_areas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site that still has the assistant's user_areas is told where, and what to run."""
    write_config(
        tmp_path, "assistant:\n  model: claude-x\n  user_areas:\n    alice: [plant_room]\n"
    )
    assert _check_config(tmp_path) == 1
    err = capsys.readouterr().err
    assert "configuration.yaml, line 3: assistant.user_areas: user_areas is no longer read" in err
    assert "`edgewise user areas USERNAME AREA_ID...`" in err
