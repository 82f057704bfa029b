"""The ``bacnet:`` section: points, devices and the local identity, and errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import voluptuous as vol

from core.config import load_site_config
from integrations.bacnet.const import CovMode, Platform
from integrations.bacnet.schema import CONFIG_SCHEMA, BacnetConfig, ObjectRef


def test_points_become_entities_of_the_right_platform_with_defaults() -> None:
    config = CONFIG_SCHEMA(
        {
            "local": {"instance": 5, "address": "10.0.0.2/24", "bbmd": "10.0.1.1:47808"},
            "devices": [
                {
                    "instance": 1001,
                    "poll_groups": {"fast": 5},
                    "points": [
                        {"object": "av,1", "min": 12, "max": 28, "group": "fast"},
                        {"object": "analog-input:2", "cov": True},
                        {"object": "binary-input,1"},
                        {"object": "bv,4"},
                        {"object": "mso,1"},
                        {"object": "analog-value,9", "writable": False},
                    ],
                }
            ],
        }
    )
    assert isinstance(config, BacnetConfig)
    assert config.local.bind_address == "10.0.0.2/24:47808"
    assert config.local.bbmd == "10.0.1.1:47808"
    device = config.devices[0]
    assert device.name == "BACnet device 1001"
    assert device.interval_of("fast") == 5
    assert device.interval_of("default") == 30
    assert [(p.object, p.platform, p.writable) for p in device.points] == [
        (ObjectRef("analog-value", 1), Platform.NUMBER, True),
        (ObjectRef("analog-input", 2), Platform.SENSOR, False),
        (ObjectRef("binary-input", 1), Platform.BINARY_SENSOR, False),
        (ObjectRef("binary-value", 4), Platform.SWITCH, True),
        (ObjectRef("multi-state-output", 1), Platform.SELECT, True),
        (ObjectRef("analog-value", 9), Platform.SENSOR, False),
    ]
    assert device.points[1].cov is CovMode.CONFIRMED
    assert device.points[0].priority == 8


@pytest.mark.parametrize(
    ("point", "path", "message"),
    [
        ({"object": "device,1"}, ["object"], "not a point type"),
        ({"object": "analog-value"}, ["object"], "expected an object as 'type,instance'"),
        ({"object": "av,1", "priority": 17}, ["priority"], "value must be at most 16"),
        ({"object": "av,1", "min": 5, "max": 1}, ["min"], "min 5 is above max 1"),
        ({"object": "ai,1", "platform": "number"}, ["platform"], "writable is false"),
        ({"object": "av,1", "platform": "switch"}, ["platform"], "needs a binary object"),
        ({"object": "av,1", "cov": "sometimes"}, ["cov"], "expected true, false, confirmed"),
    ],
)
def test_a_bad_point_is_named_with_its_path(
    point: dict[str, object], path: list[str], message: str
) -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA({"devices": [{"instance": 1, "points": [point]}]})
    errors = info.value.errors if isinstance(info.value, vol.MultipleInvalid) else [info.value]
    assert any(
        e.path == ["devices", 0, "points", 0, *path] and message in str(e.msg) for e in errors
    ), [(e.path, e.msg) for e in errors]


def test_device_level_mistakes_name_the_point() -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA(
            {
                "devices": [
                    {
                        "instance": 1,
                        "min_priority": 8,
                        "points": [{"object": "av,1", "priority": 3}],
                    }
                ]
            }
        )
    assert "more urgent than the device's min_priority 8" in str(info.value)
    assert info.value.path == ["devices", 0, "points", 0, "priority"]


@pytest.mark.parametrize(
    ("yaml", "line", "key", "words"),
    [
        (
            "bacnet:\n"
            "  devices:\n"
            "    - instance: 1001\n"
            "      points:\n"
            "        - object: analog-value,1\n"
            "        - object: analog-valve,2\n"
            "          name: Typo\n",
            6,
            "bacnet.devices.0.points.1.object",
            "analog-valve",
        ),
        (
            "bacnet:\n  timeout: 2\n  devices:\n    - instance: abc\n",
            4,
            "bacnet.devices.0.instance",
            "abc",
        ),
        (
            "bacnet:\n  local:\n    port: 70000\n",
            3,
            "bacnet.local.port",
            "70000",
        ),
    ],
)
def test_errors_in_configuration_yaml_name_file_line_and_key(
    tmp_path: Path, yaml: str, line: int, key: str, words: str
) -> None:
    (tmp_path / "configuration.yaml").write_text(yaml)
    loaded = load_site_config(tmp_path, {"bacnet": CONFIG_SCHEMA})
    assert [(i.line, i.key) for i in loaded.issues] == [(line, key)], [
        str(i) for i in loaded.issues
    ]
    assert "bacnet" not in loaded.integrations
    message = str(loaded.issues[0])
    assert message.startswith(f"configuration.yaml, line {line}: {key}:")
    assert words in message


def test_unknown_poll_group_and_duplicate_objects_are_refused() -> None:
    with pytest.raises(vol.Invalid, match="poll group 'fast' is not in poll_groups"):
        CONFIG_SCHEMA(
            {"devices": [{"instance": 1, "points": [{"object": "ai,1", "group": "fast"}]}]}
        )
    with pytest.raises(vol.Invalid, match="listed twice"):
        CONFIG_SCHEMA(
            {"devices": [{"instance": 1, "points": [{"object": "ai,1"}, {"object": "ai:1"}]}]}
        )
    with pytest.raises(vol.Invalid, match="device instance 1 is listed twice"):
        CONFIG_SCHEMA({"devices": [{"instance": 1}, {"instance": 1}]})


def test_a_bare_section_gives_a_local_device_and_no_devices() -> None:
    config = CONFIG_SCHEMA(None)
    assert config.devices == ()
    assert config.local.port == 47808
