"""automations.config_store: what it reads is plain data for every shipped entry, and what it
writes is on disk (file and directory synced) before it returns."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from automations.config_store import AUTOMATIONS, SCRIPTS
from core.json import json_bytes
from core.yaml_loader import dump_yaml

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config"
EDITOR = REPO / "frontend" / "js" / "pages" / "automations.js"


def editor_template() -> str:
    """The YAML the panel's editor starts a new automation with."""
    match = re.search(r"const NEW_AUTOMATION = `(.*?)`;", EDITOR.read_text(), re.S)
    assert match is not None, "the editor's template moved"
    return match.group(1)


def shipped_automation_ids() -> list[str]:
    return [
        str(entry["id"]) for entry in yaml.safe_load((SHIPPED / "automations.yaml").read_text())
    ]


def shipped_script_ids() -> list[str]:
    return list(yaml.safe_load((SHIPPED / "scripts.yaml").read_text()))


def assert_plain(value: Any) -> None:
    """``value`` is built of exactly the plain types (no subclass of str, int, dict...)."""
    if isinstance(value, dict):
        assert type(value) is dict
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item)
    elif isinstance(value, list):
        assert type(value) is list
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copy(SHIPPED / "automations.yaml", tmp_path / "automations.yaml")
    shutil.copy(SHIPPED / "scripts.yaml", tmp_path / "scripts.yaml")
    return tmp_path


@pytest.mark.parametrize("automation_id", shipped_automation_ids())
def test_every_shipped_automation_reads_as_plain_data_that_dumps(
    site: Path, automation_id: str
) -> None:
    config = AUTOMATIONS.read_one(site, automation_id)
    assert config is not None
    assert_plain(config)
    shown = dump_yaml(config)  # what the panel's editor shows
    assert yaml.safe_load(shown) == config
    # A multi-line template reads as written, a block, not one line of escaped line breaks.
    assert "\\n" not in shown
    assert orjson.loads(json_bytes(config)) == config


@pytest.mark.parametrize("object_id", shipped_script_ids())
def test_every_shipped_script_reads_as_plain_data_that_dumps(site: Path, object_id: str) -> None:
    config = SCRIPTS.read_one(site, object_id)
    assert config is not None
    assert_plain(config)
    assert yaml.safe_load(dump_yaml(config)) == config


def test_the_editors_template_with_quoted_strings_reads_back_plain(site: Path) -> None:
    # Written as a user would, by hand, with the quoting ruamel keeps as its own string types.
    text = "- id: from_template\n" + "".join(
        f"  {line}\n" for line in editor_template().splitlines()
    )
    (site / "automations.yaml").write_text(text + "- id: q\n  alias: 'single'\n  n: 1.50\n")
    config = AUTOMATIONS.read_one(site, "from_template")
    assert config is not None
    assert_plain(config)
    assert config["triggers"][0]["to"] == "on"
    assert yaml.safe_load(yaml.safe_dump(config)) == config
    quoted = AUTOMATIONS.read_one(site, "q")
    assert quoted == {"id": "q", "alias": "single", "n": 1.5}
    assert_plain(quoted)


def test_a_write_syncs_the_file_and_its_directory_before_returning(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    AUTOMATIONS.write_one(site, "new_one", {"alias": "New", "triggers": [], "actions": []})

    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".automations.yaml.tmp-")
    assert Path(synced[1]) == site.resolve()
    assert AUTOMATIONS.read_one(site, "new_one") == {
        "id": "new_one",
        "alias": "New",
        "triggers": [],
        "actions": [],
    }
    assert [p.name for p in site.iterdir() if p.name.startswith(".")] == []


TRICKY_TEXT = [
    "{{ is_state('a', 'on')\n   and is_state('b', 'off') }}",
    "line\nline\n",
    "kept\n\n\n",
    "blank\n\nbetween",
    "ends in a space \nthen",
    "  leading spaces\nthen",
    "tab\there\nthen",
    "windows\r\nline",
    "# not a comment\n: not a key\n- not an item",
    "\"double\" and 'single'\nquotes",
    "café\n€ 0.30",
    "\n",
    "one line",
    "",
]


def test_text_with_line_breaks_is_written_as_a_block_and_reads_back_exactly(site: Path) -> None:
    variables = {f"v{n}": text for n, text in enumerate(TRICKY_TEXT)}
    AUTOMATIONS.write_one(
        site, "tricky", {"alias": "Tricky", "actions": [{"variables": variables}]}
    )

    config = AUTOMATIONS.read_one(site, "tricky")
    assert config is not None
    assert config["actions"][0]["variables"] == variables
    on_disk = yaml.safe_load((site / "automations.yaml").read_text())
    assert on_disk[-1]["actions"][0]["variables"] == variables
    # As written by hand; text a block cannot hold exactly (a line ending in a space, a tab,
    # a carriage return) stays quoted.
    assert (
        "      v0: |-\n        {{ is_state('a', 'on')\n           and is_state"
        in (site / "automations.yaml").read_text()
    )
    assert '      v4: "ends in a space \\nthen"' in (site / "automations.yaml").read_text()
