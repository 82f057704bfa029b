"""core.yaml_loader against hostile YAML (issue 25, items 10 and 11 and the check-config lows):
aliases bounded, include chains bounded, nesting bounded, and a client's text that may not read
the server's environment or files."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.limits import MAX_DEPTH, MAX_INCLUDE_DEPTH, MAX_YAML_ALIAS_NODES
from core.yaml_loader import load_client_yaml, load_client_yaml_async, load_yaml
from tests.conftest import ConfigDirFactory

RunCommand = Callable[..., subprocess.CompletedProcess[str]]

#: The classic "billion laughs": nine levels of ten aliases each, 463 bytes.
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [{', '.join(['*' + chr(ord('a') + i)] * 9)}]\n"
    for i in range(8)
)


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text(LAUGHS)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"aliases .* would expand this document by") as caught:
        load_yaml(path, config_dir=tmp_path)
    assert time.monotonic() - started < 2
    assert caught.value.path == "configuration.yaml"


def test_a_few_anchors_reused_as_configurations_do_load(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text(
        "base: &base {platform: mqtt, qos: 1, retain: false}\n"
        + "".join(f"s{i}: {{<<: *base, name: s{i}}}\n" for i in range(50))
        + "list: [*base, *base, *base]\n"
    )
    loaded = load_yaml(path, config_dir=tmp_path)
    assert isinstance(loaded, dict)
    assert loaded["s49"] == {"platform": "mqtt", "qos": 1, "retain": False, "name": "s49"}


def test_the_alias_budget_counts_expanded_nodes(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    items = ", ".join(str(i) for i in range(100))
    uses = MAX_YAML_ALIAS_NODES // 101 + 1
    path.write_text(f"a: &a [{items}]\nb: [{', '.join(['*a'] * uses)}]\n")
    with pytest.raises(ConfigError, match=f"more than the {MAX_YAML_ALIAS_NODES:,} allowed"):
        load_yaml(path, config_dir=tmp_path)


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text("a: &a\n  b: *a\n")
    with pytest.raises(ConfigError) as caught:
        load_yaml(path, config_dir=tmp_path)
    assert caught.value.line is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900])
def test_nesting_past_the_limit_is_refused_with_the_file(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text("a: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ConfigError, match=f"nested deeper than {MAX_DEPTH}") as caught:
        load_yaml(path, config_dir=tmp_path)
    assert caught.value.path == "configuration.yaml"


def include_chain(directory: Path, length: int) -> None:
    (directory / "configuration.yaml").write_text("homeassistant: !include f1.yaml\n")
    for index in range(1, length):
        (directory / f"f{index}.yaml").write_text(f"next: !include f{index + 1}.yaml\n")
    (directory / f"f{length}.yaml").write_text("end: true\n")


def test_an_include_chain_past_the_limit_is_refused_at_the_include(tmp_path: Path) -> None:
    include_chain(tmp_path, 150)
    with pytest.raises(ConfigError, match=f"includes nested deeper than {MAX_INCLUDE_DEPTH}"):
        load_yaml(tmp_path / "configuration.yaml", config_dir=tmp_path)


def test_an_include_chain_within_the_limit_loads(tmp_path: Path) -> None:
    include_chain(tmp_path, MAX_INCLUDE_DEPTH - 1)
    loaded = load_yaml(tmp_path / "configuration.yaml", config_dir=tmp_path)
    assert isinstance(loaded, dict)


@pytest.mark.parametrize(
    ("site_files", "expected"),
    [
        ({"big.yaml": LAUGHS}, "aliases"),
        ({f"f{i}.yaml": f"next: !include f{i + 1}.yaml\n" for i in range(1, 150)}, "includes"),
    ],
    ids=["billion-laughs", "include-chain-150"],
)
def test_check_config_reports_hostile_yaml_without_a_traceback(
    config_dir: ConfigDirFactory,
    edgewise_cmd: RunCommand,
    site_files: dict[str, str],
    expected: str,
) -> None:
    first = "big.yaml" if "big.yaml" in site_files else "f1.yaml"
    site = config_dir(f"edgewise:\n  name: Test\nsensor_data: !include {first}\n", **site_files)
    if first == "f1.yaml":
        (site / "f150.yaml").write_text("end: true\n")

    started = time.monotonic()
    result = edgewise_cmd("check-config", "-c", site, timeout=60)

    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


# --- a client's YAML -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("alias: x\npassword: !env_var HOME\n", "!env_var"),
        ("alias: x\npassword: !secret db_password\n", "!secret"),
        ("alias: x\nall: !include /etc/passwd\n", "!include"),
        ("alias: x\nall: !include_dir_named .\n", "!include_dir_named"),
        ("alias: x\nall: !include_dir_merge_list .\n", "!include_dir_merge_list"),
    ],
)
def test_a_clients_yaml_may_not_read_the_servers_environment_or_files(
    text: str, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/root-secret-value")
    with pytest.raises(ConfigError, match=f"{tag} is not allowed in YAML sent to the server") as e:
        load_client_yaml(text, "automation.yaml")
    assert e.value.path == "automation.yaml"
    assert e.value.line == 2
    assert "root-secret-value" not in str(e.value)


def test_a_clients_yaml_keeps_its_lines_and_blueprint_inputs() -> None:
    loaded = load_client_yaml("alias: x\ntriggers:\n  - trigger: event\n", "automation.yaml")
    assert loaded == {"alias": "x", "triggers": [{"trigger": "event"}]}


def test_a_clients_billion_laughs_is_refused() -> None:
    with pytest.raises(ConfigError, match="aliases"):
        load_client_yaml(LAUGHS, "automation.yaml")


async def test_a_clients_yaml_is_read_off_the_loop() -> None:
    loaded = await load_client_yaml_async("a: [1, 2]\n", "automation.yaml")
    assert loaded == {"a": [1, 2]}
    with pytest.raises(ConfigError, match="longer than"):
        await load_client_yaml_async("a: " + "x" * 2_000_000 + "\n", "automation.yaml")
