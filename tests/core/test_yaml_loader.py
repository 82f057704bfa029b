"""Tests for the Home Assistant-compatible YAML loader."""

from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.yaml_loader import (
    NodeDict,
    NodeList,
    NodeStr,
    Secrets,
    Source,
    dump_yaml,
    is_secret,
    load_yaml,
    source_of,
    source_of_item,
    source_of_key,
)


def write(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def load(root: Path, name: str = "configuration.yaml") -> object:
    """Load ``name`` from ``root`` with ``root`` as the configuration directory."""
    return load_yaml(root / name, config_dir=root)


def load_error(root: Path, name: str = "configuration.yaml") -> ConfigError:
    """Load ``name`` and return the ConfigError it raises."""
    with pytest.raises(ConfigError) as info:
        load(root, name)
    return info.value


def test_plain_yaml_loads_as_node_types_with_lines(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "a: text\nb:\n  - 1\n  - two\n"})
    data = load(tmp_path)
    assert data == {"a": "text", "b": [1, "two"]}
    assert isinstance(data, NodeDict)
    assert isinstance(data["a"], NodeStr)
    assert isinstance(data["b"], NodeList)
    assert source_of(data["a"]) == Source("configuration.yaml", 1)
    assert source_of(data["b"]) == Source("configuration.yaml", 3)


def test_empty_file_loads_as_empty_mapping(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "# nothing yet\n"})
    assert load(tmp_path) == {}


def test_source_of_key_gives_line_of_nested_keys(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": (
                "# comment\nmodbus:\n  hubs:\n    - name: plant\n\n      port: 502\n"
                "sensors: !include sensors.yaml\n"
            ),
            "sensors.yaml": "outdoor:\n  unit: C\n",
        },
    )
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert source_of_key(data, "modbus") == Source("configuration.yaml", 2)
    hub = data["modbus"]["hubs"][0]
    assert source_of_key(data["modbus"], "hubs") == Source("configuration.yaml", 3)
    assert source_of_key(hub, "port") == Source("configuration.yaml", 6)
    assert source_of_item(data["modbus"]["hubs"], 0) == Source("configuration.yaml", 4)
    # Keys of an included file point into that file.
    assert source_of_key(data["sensors"]["outdoor"], "unit") == Source("sensors.yaml", 2)
    assert source_of_key({"plain": 1}, "plain") is None
    assert source_of(5) is None


def test_include_loads_file_relative_to_including_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": "modbus: !include modbus/main.yaml\n",
            "modbus/main.yaml": "hubs: !include hubs.yaml\n",
            "modbus/hubs.yaml": "- name: plant\n",
        },
    )
    assert load(tmp_path) == {"modbus": {"hubs": [{"name": "plant"}]}}


def test_include_of_empty_file_is_empty_mapping(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "x: !include empty.yaml\n", "empty.yaml": ""})
    assert load(tmp_path) == {"x": {}}


def test_include_of_missing_file_is_reported_with_line(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "a: 1\nx: !include nowhere.yaml\n"})
    error = load_error(tmp_path)
    assert (error.path, error.line) == ("configuration.yaml", 2)
    assert "nowhere.yaml" in error.message
    assert "not found" in error.message


DIR_TREE = {
    "items/b.yaml": "name: b\n",
    "items/a.yaml": "name: a\n",
    "items/sub/c.yaml": "name: c\n",
    "items/.hidden.yaml": "name: hidden\n",
    "items/.git/d.yaml": "name: in hidden dir\n",
    "items/notes.txt": "not yaml\n",
    "items/empty.yaml": "",
}


def test_include_dir_list_is_one_item_per_file_recursive_sorted_skipping_hidden(
    tmp_path: Path,
) -> None:
    write(tmp_path, {**DIR_TREE, "configuration.yaml": "x: !include_dir_list items\n"})
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["x"] == [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert source_of_item(data["x"], 2) == Source("items/sub/c.yaml", 1)


def test_include_dir_named_maps_file_name_to_content(tmp_path: Path) -> None:
    write(tmp_path, {**DIR_TREE, "configuration.yaml": "x: !include_dir_named items\n"})
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["x"] == {"a": {"name": "a"}, "b": {"name": "b"}, "c": {"name": "c"}, "empty": {}}
    assert source_of_key(data["x"]["c"], "name") == Source("items/sub/c.yaml", 1)


def test_include_dir_merge_list_concatenates_lists(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": "x: !include_dir_merge_list lists\n",
            "lists/one.yaml": "- 1\n- 2\n",
            "lists/deeper/two.yaml": "- 3\n",
            "lists/.skip.yaml": "- 99\n",
            "lists/mapping.yaml": "not: a list\n",
        },
    )
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["x"] == [1, 2, 3]
    assert source_of_item(data["x"], 2) == Source("lists/deeper/two.yaml", 1)


def test_include_dir_merge_named_merges_mappings(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": "x: !include_dir_merge_named maps\n",
            "maps/one.yaml": "a: 1\nb: 2\n",
            "maps/sub/two.yaml": "\nc: 3\n",
            "maps/.hidden/three.yaml": "d: 4\n",
            "maps/secrets.yaml": "password: nope\n",
        },
    )
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["x"] == {"a": 1, "b": 2, "c": 3}
    assert source_of_key(data["x"], "c") == Source("maps/sub/two.yaml", 2)


def test_include_dir_of_missing_directory_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "x: !include_dir_named nowhere\n"})
    error = load_error(tmp_path)
    assert (error.path, error.line) == ("configuration.yaml", 1)
    assert "nowhere" in error.message


def test_include_cycle_is_reported_with_file_names(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": "a: !include a.yaml\n",
            "a.yaml": "b: !include sub/b.yaml\n",
            "sub/b.yaml": "back: !include ../a.yaml\n",
        },
    )
    error = load_error(tmp_path)
    assert "include cycle" in error.message
    assert "a.yaml -> sub/b.yaml -> a.yaml" in error.message
    assert (error.path, error.line) == ("sub/b.yaml", 1)


def test_file_including_itself_is_an_include_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "me: !include configuration.yaml\n"})
    error = load_error(tmp_path)
    assert "include cycle: configuration.yaml -> configuration.yaml" in error.message


def test_include_dir_including_its_parent_is_an_include_cycle(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": "x: !include_dir_list parts\n",
            "parts/one.yaml": "again: !include ../configuration.yaml\n",
        },
    )
    assert "include cycle" in load_error(tmp_path).message


def test_include_outside_config_dir_via_dotdot_is_refused(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    write(
        tmp_path,
        {"outside.yaml": "a: 1\n", "config/configuration.yaml": "\nx: !include ../outside.yaml\n"},
    )
    error = load_error(config_dir)
    assert "outside the configuration directory" in error.message
    assert (error.path, error.line) == ("configuration.yaml", 2)


def test_include_outside_config_dir_via_symlink_is_refused(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    write(
        tmp_path, {"outside.yaml": "a: 1\n", "config/configuration.yaml": "x: !include link.yaml\n"}
    )
    (config_dir / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    assert "outside the configuration directory" in load_error(config_dir).message


def test_include_dir_with_symlinked_file_outside_is_refused(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    write(
        tmp_path,
        {"outside.yaml": "a: 1\n", "config/configuration.yaml": "x: !include_dir_list parts\n"},
    )
    (config_dir / "parts").mkdir()
    (config_dir / "parts" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    assert "outside the configuration directory" in load_error(config_dir).message


def test_symlink_inside_config_dir_is_allowed(tmp_path: Path) -> None:
    write(tmp_path, {"real.yaml": "a: 1\n", "configuration.yaml": "x: !include link.yaml\n"})
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert load(tmp_path) == {"x": {"a": 1}}


def test_secret_is_found_in_parent_directory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "secrets.yaml": "api_key: from-root\n",
            "configuration.yaml": "x: !include deep/er/part.yaml\n",
            "deep/er/part.yaml": "key: !secret api_key\n",
        },
    )
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["x"]["key"] == "from-root"


def test_secret_next_to_including_file_wins_over_parent(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "secrets.yaml": "api_key: from-root\n",
            "configuration.yaml": "x: !include sub/part.yaml\ny: !secret api_key\n",
            "sub/secrets.yaml": "api_key: from-sub\n",
            "sub/part.yaml": "key: !secret api_key\n",
        },
    )
    assert load(tmp_path) == {"x": {"key": "from-sub"}, "y": "from-root"}


def test_secret_value_is_marked_and_located_at_the_tag(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "secrets.yaml": "password: hunter2\nport: 502\nratio: 0.5\n",
            "configuration.yaml": "a: 1\npw: !secret password\nport: !secret port\n"
            "ratio: !secret ratio\nplain: text\n",
        },
    )
    data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["port"] == 502
    assert isinstance(data["port"], int)
    assert data["ratio"] == 0.5
    assert all(is_secret(data[key]) for key in ("pw", "port", "ratio"))
    assert not is_secret(data["plain"])
    assert source_of(data["pw"]) == Source("configuration.yaml", 2)


def test_missing_secret_error_names_the_secret_and_where_it_looked(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "secrets.yaml": "other: 1\n",
            "configuration.yaml": "x: !include sub/part.yaml\n",
            "sub/part.yaml": "a: 1\nkey: !secret api_key\n",
        },
    )
    error = load_error(tmp_path)
    assert "'api_key'" in error.message
    assert "sub/secrets.yaml" in error.message
    assert (error.path, error.line) == ("sub/part.yaml", 2)


def test_secrets_file_symlinked_outside_config_dir_is_refused(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    write(
        tmp_path,
        {"elsewhere.yaml": "key: value\n", "config/configuration.yaml": "x: !secret key\n"},
    )
    (config_dir / "secrets.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    assert "outside the configuration directory" in load_error(config_dir).message


def test_secret_cannot_be_used_inside_secrets_yaml(tmp_path: Path) -> None:
    write(
        tmp_path, {"secrets.yaml": "a: !secret b\nb: 1\n", "configuration.yaml": "x: !secret a\n"}
    )
    error = load_error(tmp_path)
    assert error.path == "secrets.yaml"


def test_secrets_are_shared_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(
        tmp_path,
        {"secrets.yaml": "token: s3cr3t-t0ken\n", "configuration.yaml": "a: !secret token\n"},
    )
    caplog.set_level(logging.DEBUG)
    secrets = Secrets(tmp_path)
    assert load_yaml(tmp_path / "configuration.yaml", config_dir=tmp_path, secrets=secrets) == {
        "a": "s3cr3t-t0ken"
    }
    assert "s3cr3t-t0ken" not in caplog.text


def test_env_var_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEWISE_TEST_HOST", "192.0.2.10")
    write(tmp_path, {"configuration.yaml": "host: !env_var EDGEWISE_TEST_HOST fallback\n"})
    assert load(tmp_path) == {"host": "192.0.2.10"}


def test_env_var_default_is_used_when_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGEWISE_TEST_UNSET", raising=False)
    write(tmp_path, {"configuration.yaml": "name: !env_var EDGEWISE_TEST_UNSET my plant\n"})
    assert load(tmp_path) == {"name": "my plant"}


def test_env_var_missing_without_default_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGEWISE_TEST_UNSET", raising=False)
    write(tmp_path, {"configuration.yaml": "a: 1\nb: !env_var EDGEWISE_TEST_UNSET\n"})
    error = load_error(tmp_path)
    assert "EDGEWISE_TEST_UNSET" in error.message
    assert (error.path, error.line) == ("configuration.yaml", 2)


def test_tab_indentation_error_reports_the_line_of_the_tab(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "modbus:\n  hubs: 1\n\tport: 502\n"})
    error = load_error(tmp_path)
    assert (error.path, error.line) == ("configuration.yaml", 3)
    assert "tab" in error.message


def test_unclosed_quote_error_reports_the_problem(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": 'a: 1\nname: "unclosed\nb: 2\n'})
    error = load_error(tmp_path)
    assert error.path == "configuration.yaml"
    assert error.line == 4  # PyYAML's problem mark: the end of the stream
    assert "end of stream" in error.message
    assert "quoted scalar at line 2" in error.message


def test_malformed_included_file_is_reported_in_that_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"configuration.yaml": "x: !include bad.yaml\n", "bad.yaml": "a: [1, 2\n"},
    )
    error = load_error(tmp_path)
    assert error.path == "bad.yaml"
    assert error.line is not None


def test_unknown_tag_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "a: !nope x\n"})
    error = load_error(tmp_path)
    assert (error.path, error.line) == ("configuration.yaml", 1)


def test_duplicate_key_logs_warning_with_file_and_lines_and_keeps_last(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, {"configuration.yaml": "light:\n  a: 1\n  a: 2\nlight:\n  b: 3\n"})
    with caplog.at_level(logging.WARNING, logger="core.yaml_loader"):
        data = load(tmp_path)
    assert data == {"light": {"b": 3}}
    messages = [record.getMessage() for record in caplog.records]
    assert any("configuration.yaml" in m and "'a'" in m and "2 and 3" in m for m in messages)
    assert any("'light'" in m and "1 and 4" in m for m in messages)


def test_merge_key_override_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path,
        {
            "configuration.yaml": (
                "base: &base\n  port: 502\n  unit: 1\nhub:\n  <<: *base\n  port: 503\n"
            )
        },
    )
    with caplog.at_level(logging.WARNING, logger="core.yaml_loader"):
        data = load(tmp_path)
    assert isinstance(data, dict)
    assert data["hub"] == {"port": 503, "unit": 1}
    assert caplog.records == []


def test_nodes_keep_their_sources_through_copy_and_pickle(tmp_path: Path) -> None:
    write(tmp_path, {"configuration.yaml": "a:\n  b: text\n  c: [1]\n"})
    data = load(tmp_path)
    unpickled = pickle.loads(pickle.dumps(data))  # noqa: S301 - bytes we just made
    for clone in (copy.deepcopy(data), unpickled):
        assert clone == data
        assert isinstance(clone, dict)
        assert source_of_key(clone["a"], "b") == Source("configuration.yaml", 2)
        assert source_of(clone["a"]["b"]) == Source("configuration.yaml", 2)
        assert source_of_item(clone["a"]["c"], 0) == Source("configuration.yaml", 3)


@pytest.mark.parametrize(
    "text",
    [
        "{{ a\n   and b }}",
        "x\ny\n",
        "x\ny\n\n\n",
        "ends in a space \nthen",
        "  leading\nthen",
        "tab\there\nthen",
        "windows\r\nline",
        "# not a comment\n: not a key",
        "café\n€",
        "\n",
        "one line",
        "",
    ],
)
def test_dump_yaml_reads_back_exactly(text: str) -> None:
    assert yaml.safe_load(dump_yaml({"k": text, "n": [1, 2.5, True, None]})) == {
        "k": text,
        "n": [1, 2.5, True, None],
    }


def test_dump_yaml_writes_multi_line_text_as_a_block_in_key_order() -> None:
    template = "{{ is_state('a', 'on')\n   and is_state('b', 'off') }}"
    assert dump_yaml({"z": 1, "value_template": template}) == (
        "z: 1\nvalue_template: |-\n  {{ is_state('a', 'on')\n     and is_state('b', 'off') }}\n"
    )
