"""Tests for loading a site's configuration: core section, packages, integration sections."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import voluptuous as vol

from core import validators
from core.config import (
    CORE_CONFIG_SCHEMA,
    ConfigIssue,
    CoreConfig,
    LoadedConfig,
    UnitSystem,
    humanize_invalid,
    load_site_config,
)
from core.yaml_loader import load_yaml

FIXTURES = Path(__file__).parent / "fixtures" / "config"

MODBUS_SCHEMA = vol.Schema(
    {
        vol.Required("hubs"): [
            {
                vol.Required("name"): str,
                vol.Required("host"): str,
                vol.Optional("port", default=502): int,
                vol.Optional("password"): str,
            }
        ]
    }
)
LIST_SCHEMA = vol.Schema([{vol.Required("alias"): str}])
PLATFORM_SCHEMA = vol.Schema([{vol.Required("platform"): str}])
KNOWN: dict[str, vol.Schema | None] = {
    "modbus": MODBUS_SCHEMA,
    "automation": LIST_SCHEMA,
    "sensor": PLATFORM_SCHEMA,
    "mqtt": vol.Schema({vol.Required("broker"): str, vol.Optional("port"): int}),
    "frontend": None,
}


def site(root: Path, files: dict[str, str]) -> LoadedConfig:
    """Write ``files`` under ``root`` and load the site configuration from it."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_site_config(root, KNOWN)


def test_fixture_site_loads_with_packages_includes_and_secrets() -> None:
    loaded = load_site_config(FIXTURES / "site", KNOWN)
    assert loaded.issues == ()
    assert loaded.core == CoreConfig(
        name="Plant room",
        latitude=51.05,
        longitude=3.72,
        elevation=9,
        time_zone="Europe/Brussels",
    )
    modbus = loaded.integrations["modbus"]
    assert isinstance(modbus, dict)
    assert [hub["name"] for hub in modbus["hubs"]] == ["plant", "boiler"]
    assert loaded.integrations["automation"] == [
        {"alias": "evening"},
        {"alias": "morning"},
        {"alias": "lights off at sunrise"},
        {"alias": "boiler night setback"},
    ]


def test_core_defaults_when_core_section_is_missing(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "frontend:\n"})
    assert loaded.issues == ()
    assert loaded.core == CoreConfig()
    assert loaded.core.name == "Home"
    assert (loaded.core.latitude, loaded.core.longitude) == (52.3731, 4.8922)
    assert loaded.core.elevation == 0
    assert loaded.core.time_zone == "UTC"
    assert loaded.core.unit_system is UnitSystem.METRIC
    assert loaded.core.currency == "EUR"
    assert loaded.core.external_url is None
    assert loaded.integrations == {"frontend": {}}


def test_option_under_an_integration_without_schema_is_an_error(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "frontend:\n  colour: red\n"})
    assert "frontend" not in loaded.integrations
    (issue,) = loaded.issues
    assert (issue.path, issue.line, issue.key) == ("configuration.yaml", 2, "frontend.colour")
    assert "unknown option 'colour'" in issue.message


def test_core_section_becomes_core_config_with_tzinfo(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  name: Office\n  latitude: '40.7'\n  longitude: -74\n"
                "  elevation: 10\n  time_zone: America/New_York\n  unit_system: us_customary\n"
                "  currency: USD\n  external_url: https://example.org\n"
                "  internal_url: http://192.0.2.1:8123\n"
            )
        },
    )
    assert loaded.issues == ()
    core = loaded.core
    assert core.latitude == 40.7
    assert core.longitude == -74.0
    assert core.unit_system == "us_customary"
    assert core.currency == "USD"
    assert core.external_url == "https://example.org"
    assert core.internal_url == "http://192.0.2.1:8123"
    assert core.tzinfo == ZoneInfo("America/New_York")


def test_homeassistant_key_is_accepted_for_the_core_section(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "homeassistant:\n  name: Cabin\n"})
    assert loaded.issues == ()
    assert loaded.core.name == "Cabin"


def test_bad_time_zone_is_reported_and_falls_back_to_utc(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  name: Plant\n  time_zone: Mars/Olympus_Mons\n"
                "mqtt:\n  broker: localhost\n"
            )
        },
    )
    assert len(loaded.issues) == 1
    issue = loaded.issues[0]
    assert (issue.path, issue.line, issue.key) == ("configuration.yaml", 3, "edgewise.time_zone")
    assert "Mars/Olympus_Mons" in issue.message
    assert loaded.core.time_zone == "UTC"
    # The rest of the core section and the integrations still load.
    assert loaded.core.name == "Plant"
    assert loaded.integrations == {"mqtt": {"broker": "localhost"}}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("latitude", "91"),
        ("longitude", "-180.5"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("unit_system", "imperial"),
        ("elevation", "high"),
    ],
)
def test_core_section_rejects_out_of_range_values(key: str, value: str) -> None:
    with pytest.raises(vol.Invalid):
        CORE_CONFIG_SCHEMA({key: value})


def test_core_section_rejects_unknown_keys_but_keeps_the_rest(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "edgewise:\n  name: Plant\n  colour: red\n"})
    assert [(i.key, i.line) for i in loaded.issues] == [("edgewise.colour", 3)]
    assert "extra keys not allowed" in loaded.issues[0].message
    assert loaded.core.name == "Plant"


def test_missing_configuration_yaml_is_a_fatal_issue(tmp_path: Path) -> None:
    loaded = load_site_config(tmp_path, KNOWN)
    assert len(loaded.issues) == 1
    assert loaded.issues[0].fatal
    assert "configuration.yaml not found" in loaded.issues[0].message
    assert loaded.core == CoreConfig()
    assert loaded.integrations == {}


def test_malformed_yaml_yields_a_single_fatal_issue(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {"configuration.yaml": "edgewise:\n  name: Plant\nmqtt:\n\tbroker: localhost\n"},
    )
    assert len(loaded.issues) == 1
    issue = loaded.issues[0]
    assert issue.fatal
    assert (issue.path, issue.line) == ("configuration.yaml", 4)
    assert loaded.core == CoreConfig()
    assert loaded.integrations == {}


def test_unknown_top_level_key_is_reported_with_its_line(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "mqtt:\n  broker: localhost\n\nfoo:\n  a: 1\n"})
    assert len(loaded.issues) == 1
    issue = loaded.issues[0]
    assert issue.message == "unknown integration 'foo'"
    assert (issue.path, issue.line, issue.key, issue.integration) == (
        "configuration.yaml",
        4,
        "foo",
        "foo",
    )
    assert str(issue) == "configuration.yaml, line 4: foo: unknown integration 'foo'"
    assert "mqtt" in loaded.integrations


def test_failing_integration_is_reported_with_file_line_key_and_others_still_load(
    tmp_path: Path,
) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "mqtt:\n  broker: localhost\nmodbus: !include modbus.yaml\nfrontend:\n"
            ),
            "modbus.yaml": "hubs:\n  - name: plant\n    host: 192.0.2.10\n    port: abc\n",
        },
    )
    assert len(loaded.issues) == 1
    issue = loaded.issues[0]
    assert (issue.path, issue.line, issue.key, issue.integration) == (
        "modbus.yaml",
        4,
        "modbus.hubs.0.port",
        "modbus",
    )
    assert str(issue) == "modbus.yaml, line 4: modbus.hubs.0.port: expected int, got 'abc'"
    assert "modbus" not in loaded.integrations
    assert loaded.integrations["mqtt"] == {"broker": "localhost"}
    assert loaded.integrations["frontend"] == {}


def test_missing_required_key_points_at_the_enclosing_mapping(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {"configuration.yaml": "modbus:\n  hubs:\n    - name: plant\n      port: 502\n"},
    )
    [issue] = loaded.issues
    assert (issue.line, issue.key) == (3, "modbus.hubs.0.host")
    assert issue.message == "required key not provided"


def test_integration_section_of_wrong_shape_points_at_its_key(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "mqtt: 1\nsensor: 2\n"})
    assert [(i.key, i.line) for i in loaded.issues] == [("mqtt", 1), ("sensor", 2)]


def test_schema_that_raises_unexpectedly_is_isolated(tmp_path: Path) -> None:
    def broken(value: object) -> object:
        raise RuntimeError("bug in a validator")

    (tmp_path / "configuration.yaml").write_text("mqtt:\n  broker: a\nbroken:\n  x: 1\n")
    loaded = load_site_config(tmp_path, {**KNOWN, "broken": vol.Schema(broken)})
    assert [(i.key, i.line) for i in loaded.issues] == [("broken", 3)]
    assert "mqtt" in loaded.integrations


def test_labelled_keys_of_a_list_integration_are_concatenated(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "sensor:\n  - platform: a\nsensor 2:\n  - platform: b\nsensor extra:\n"
                "  platform: c\n"
            )
        },
    )
    assert loaded.issues == ()
    assert loaded.integrations["sensor"] == [
        {"platform": "a"},
        {"platform": "b"},
        {"platform": "c"},
    ]


def test_labelled_key_of_a_single_section_integration_is_reported(tmp_path: Path) -> None:
    loaded = site(tmp_path, {"configuration.yaml": "mqtt:\n  broker: a\nmqtt 2:\n  broker: b\n"})
    assert [(i.key, i.line) for i in loaded.issues] == [("mqtt 2", 3)]
    assert loaded.integrations["mqtt"] == {"broker": "a"}


def test_packages_concatenate_lists_and_merge_mappings(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  packages:\n    heating:\n      automation:\n        - alias: b\n"
                "      modbus:\n        hubs:\n          - name: boiler\n            host: h2\n"
                "      mqtt:\n        port: 1883\n"
                "automation:\n  - alias: a\n"
                "modbus:\n  hubs:\n    - name: plant\n      host: h1\n"
                "mqtt:\n  broker: localhost\n"
            )
        },
    )
    assert loaded.issues == ()
    assert loaded.integrations["automation"] == [{"alias": "a"}, {"alias": "b"}]
    assert loaded.integrations["modbus"] == {
        "hubs": [
            {"name": "plant", "host": "h1", "port": 502},
            {"name": "boiler", "host": "h2", "port": 502},
        ]
    }
    assert loaded.integrations["mqtt"] == {"broker": "localhost", "port": 1883}


def test_package_adds_integration_absent_from_root(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": "edgewise:\n  packages: !include_dir_named packages\n",
            "packages/broker.yaml": "mqtt:\n  broker: localhost\n",
        },
    )
    assert loaded.issues == ()
    assert loaded.integrations == {"mqtt": {"broker": "localhost"}}


def test_package_duplicate_key_is_reported_naming_package_and_key(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  packages: !include_dir_named packages\nmqtt:\n  broker: localhost\n"
            ),
            "packages/a_clash.yaml": "mqtt:\n  port: 1\n  broker: other\n",
            "packages/b_fine.yaml": "automation:\n  - alias: still merged\n",
        },
    )
    [issue] = loaded.issues
    assert (issue.path, issue.line, issue.key, issue.integration) == (
        "packages/a_clash.yaml",
        3,
        "mqtt.broker",
        "mqtt",
    )
    assert "package 'a_clash'" in issue.message
    assert "configuration.yaml, line 4" in issue.message
    # The clashing package's mqtt section is left out entirely; the other package still merges.
    assert loaded.integrations["mqtt"] == {"broker": "localhost"}
    assert loaded.integrations["automation"] == [{"alias": "still merged"}]


def test_package_list_where_root_has_mapping_is_reported(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  packages:\n    odd:\n      mqtt:\n        - broker: x\n"
                "mqtt:\n  broker: localhost\n"
            )
        },
    )
    [issue] = loaded.issues
    assert "package 'odd'" in issue.message
    assert "list" in issue.message
    assert "mapping" in issue.message
    assert issue.key == "mqtt"
    assert loaded.integrations["mqtt"] == {"broker": "localhost"}


def test_invalid_package_is_reported_and_other_packages_still_merge(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": (
                "edgewise:\n  time_zone: Europe/Amsterdam\n  packages:\n    bad: [1, 2]\n"
                "    good:\n      mqtt:\n        broker: b\n"
            )
        },
    )
    assert [(i.key, i.line) for i in loaded.issues] == [("edgewise.packages.bad", 4)]
    assert loaded.core.time_zone == "Europe/Amsterdam"
    assert loaded.integrations == {"mqtt": {"broker": "b"}}


def test_unknown_integration_from_a_package_points_into_the_package(tmp_path: Path) -> None:
    loaded = site(
        tmp_path,
        {
            "configuration.yaml": "edgewise:\n  packages: !include_dir_named packages\n",
            "packages/p.yaml": "\nnope:\n  a: 1\n",
        },
    )
    [issue] = loaded.issues
    assert (issue.path, issue.line, issue.message) == (
        "packages/p.yaml",
        2,
        "unknown integration 'nope'",
    )


def test_secret_values_never_appear_in_issue_text(tmp_path: Path) -> None:
    def echoing(value: object) -> object:
        raise vol.Invalid(f"cannot use {value}")

    (tmp_path / "secrets.yaml").write_text("password: hunter2-secret\nport: abc-secret\n")
    (tmp_path / "configuration.yaml").write_text(
        "modbus:\n  hubs:\n    - name: plant\n      host: h\n      port: !secret port\n"
        "echo:\n  password: !secret password\n"
    )
    loaded = load_site_config(tmp_path, {**KNOWN, "echo": vol.Schema({"password": echoing})})
    assert len(loaded.issues) == 2
    text = "\n".join(str(issue) for issue in loaded.issues)
    assert "hunter2-secret" not in text
    assert "abc-secret" not in text
    assert "configuration.yaml, line 5: modbus.hubs.0.port: expected int, got ***" in text
    assert "echo.password: cannot use ***, got ***" in text


def test_secret_inside_a_shown_value_is_hidden(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("token: t0ps3cret\n")
    (tmp_path / "configuration.yaml").write_text("mqtt:\n  broker:\n    token: !secret token\n")
    [issue] = load_site_config(tmp_path, KNOWN).issues
    assert "t0ps3cret" not in str(issue)
    assert "'***'" in issue.message


def test_humanize_invalid_truncates_long_values(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text("port: " + "x" * 200 + "\n")
    config = load_yaml(tmp_path / "configuration.yaml", config_dir=tmp_path)
    with pytest.raises(vol.Invalid) as info:
        vol.Schema({"port": int})(config)
    [issue] = humanize_invalid(info.value, config, domain="modbus")
    assert issue.key == "modbus.port"
    assert issue.line == 1
    assert len(issue.message) < 100
    assert issue.message.endswith("...")


def test_humanize_invalid_works_on_plain_data_without_sources() -> None:
    with pytest.raises(vol.Invalid) as info:
        vol.Schema({"port": int})({"port": "x"})
    [issue] = humanize_invalid(info.value, {"port": "x"}, domain="modbus")
    assert issue == ConfigIssue(
        "expected int, got 'x'", path=None, line=None, key="modbus.port", integration="modbus"
    )
    assert str(issue) == "modbus.port: expected int, got 'x'"


def test_config_issue_str_names_file_line_and_key() -> None:
    issue = ConfigIssue(
        "expected int, got 'abc'",
        path="configuration.yaml",
        line=12,
        key="modbus.hubs.0.port",
        integration="modbus",
    )
    assert str(issue) == "configuration.yaml, line 12: modbus.hubs.0.port: expected int, got 'abc'"


def test_labelled_keys_of_a_deferred_list_schema_are_concatenated(tmp_path: Path) -> None:
    # The template integration's schema is deferred (imported when a site has the section):
    # the loader resolves it to see that it takes a list.
    known = {**KNOWN, "template": validators.deferred("integrations.template.schema")}
    root = tmp_path / "site"
    root.mkdir()
    (root / "configuration.yaml").write_text(
        'template:\n  - sensor:\n      - name: A\n        state: "1"\n'
        'template extra:\n  - sensor:\n      - name: B\n        state: "2"\n',
        encoding="utf-8",
    )
    loaded = load_site_config(root, known)
    assert loaded.issues == ()
    names = [s.name.source for s in loaded.integrations["template"].sensors]
    assert names == ["A", "B"]
