"""The ``mqtt:`` section's schema, and what loading the integration costs a site without it."""

from __future__ import annotations

import subprocess
import sys

import pytest
import voluptuous as vol

from integrations.mqtt.schema import CONFIG_SCHEMA, MqttConfig


def test_loading_the_integration_does_not_import_aiomqtt() -> None:
    code = "import sys, integrations.mqtt; print('aiomqtt' in sys.modules, 'paho' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False False"


def test_defaults_follow_home_assistant() -> None:
    config = CONFIG_SCHEMA(None)
    assert isinstance(config, MqttConfig)
    assert config.port == 1883
    assert config.protocol == "3.1.1"
    assert config.birth is not None
    assert (config.birth.topic, config.birth.payload) == ("homeassistant/status", "online")
    assert config.will is not None
    assert (config.will.topic, config.will.payload) == ("homeassistant/status", "offline")
    assert config.discovery is True
    assert config.tls is None


def test_birth_and_will_follow_the_discovery_prefix_and_can_be_turned_off() -> None:
    config = CONFIG_SCHEMA({"discovery_prefix": "site1/ha/", "will_message": None})
    assert config.birth is not None
    assert config.birth.topic == "site1/ha/status"
    assert config.will is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"protocol": "4"}, "protocol must be '3.1.1' or '5'"),
        ({"port": 70000}, "port"),
        ({"client_cert": "/c.pem"}, "client_cert_and_key"),
        ({"birth_message": {"topic": "a/#"}}, "wildcards"),
        ({"reconnect": {"min_delay": 5, "max_delay": 1}}, "max_delay must not be less"),
        ({"state_stream": {"base_topic": "a/+"}}, "wildcards"),
        ({"command_bridge": {"command_topic": "a/#/b"}}, "'#' must be the whole last level"),
        (
            {"sensor": [{"name": "x"}]},
            "data['sensor'][0]['state_topic']",
        ),
        ({"select": [{"command_topic": "a", "options": []}]}, "length of value must be at least 1"),
        ({"climate": [{"min_temp": 30, "max_temp": 10}]}, "min_temp must be less than max_temp"),
        ({"sensor": [{"state_topic": "a", "value_template": "{{ x"}]}, "value_template"),
    ],
)
def test_bad_sections_name_the_key(section: dict[str, object], message: str) -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA(section)
    assert message in str(info.value)
