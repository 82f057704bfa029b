"""Helper items created through the Python API, YAML read-only, reload, and bad storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.collection import (
    ItemCollection,
    ItemInvalidError,
    ItemNotFoundError,
    ItemReadOnlyError,
    ItemSource,
    get_collection,
)
from core.runtime import Runtime
from tests.integrations._runtime import write_config
from tests.integrations.helpers.conftest import HEADER, Site, attrs_of, state_of

YAML = """\
counter:
  visitors:
    initial: 3
input_select:
  program:
    options: [comfort, eco, away]
"""


def collection_of(runtime: Runtime, domain: str) -> ItemCollection:
    collection = get_collection(runtime, domain)
    assert collection is not None
    return collection


async def test_create_update_delete_persist_across_restart(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        counters = collection_of(runtime, "counter")
        item = await counters.create({"name": "Door openings", "step": 2, "maximum": 10})
        assert item.id == "door_openings"
        assert item.source is ItemSource.STORAGE
        assert state_of(runtime, "counter.door_openings") == "0"
        assert attrs_of(runtime, "counter.door_openings")["editable"] is True
        await runtime.services.call("counter", "increment", {"entity_id": "counter.door_openings"})
        assert state_of(runtime, "counter.door_openings") == "2"
        # A second item with the same name gets its own id.
        second = await counters.create({"name": "Door openings"})
        assert second.id == "door_openings_2"
        await counters.update("door_openings", {"step": 5})
        assert attrs_of(runtime, "counter.door_openings")["step"] == 5
        assert state_of(runtime, "counter.door_openings") == "2"  # the count is kept
        await counters.delete("door_openings_2")
        assert runtime.states.get("counter.door_openings_2") is None
        assert "counter.door_openings_2" not in runtime.entity_registry
        stored = json.loads((tmp_path / ".storage" / "counter").read_text())
        assert stored["key"] == "counter"
        assert [i["id"] for i in stored["data"]["items"]] == ["door_openings"]
    async with site(YAML) as runtime:
        assert state_of(runtime, "counter.door_openings") == "2"
        assert attrs_of(runtime, "counter.door_openings")["step"] == 5
        assert collection_of(runtime, "counter").get("door_openings") is not None


async def test_invalid_create_and_update_name_the_key(site: Site) -> None:
    async with site(YAML) as runtime:
        counters = collection_of(runtime, "counter")
        with pytest.raises(ItemInvalidError) as caught:
            await counters.create({"name": "Bad", "minimum": 5, "initial": 1})
        assert caught.value.key == "initial"
        assert "counter.bad" in str(caught.value)
        with pytest.raises(ItemInvalidError) as missing_name:
            await counters.create({"step": 1})
        assert missing_name.value.key == "name"
        with pytest.raises(ItemInvalidError) as unknown:
            await counters.create({"name": "X", "colour": "red"})
        assert unknown.value.key == "colour"
        item = await counters.create({"name": "Good"})
        with pytest.raises(ItemInvalidError) as bad_update:
            await counters.update(item.id, {"step": 0})
        assert bad_update.value.key == "step"
        assert attrs_of(runtime, "counter.good")["step"] == 1
        with pytest.raises(ItemNotFoundError):
            await counters.delete("nothing")
        assert runtime.states.get("counter.bad") is None


async def test_yaml_items_are_read_only(site: Site) -> None:
    async with site(YAML) as runtime:
        counters = collection_of(runtime, "counter")
        with pytest.raises(ItemReadOnlyError) as caught:
            await counters.update("visitors", {"step": 3})
        assert "configuration.yaml" in str(caught.value)
        with pytest.raises(ItemReadOnlyError):
            await counters.delete("visitors")
        with pytest.raises(ItemInvalidError):
            await counters.create({"name": "Other", "id": "visitors"})


async def test_reload_keeps_unchanged_items_and_applies_changes(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call("counter", "increment", {"entity_id": "counter.visitors"})
        await runtime.services.call(
            "input_select", "select_option", {"entity_id": "input_select.program", "option": "eco"}
        )
        stored = await collection_of(runtime, "counter").create({"name": "Stored"})
        visitors_before = runtime.states.get("counter.visitors")
        write_config(
            tmp_path,
            HEADER
            + """\
counter:
  visitors:
    initial: 3
  new_one:
    initial: 7
input_select:
  program:
    options: [comfort, away]
""",
        )
        await runtime.services.call("counter", "reload")
        await runtime.services.call("input_select", "reload")
        # Unchanged: the very same state object, the count kept.
        assert runtime.states.get("counter.visitors") is visitors_before
        assert state_of(runtime, "counter.new_one") == "7"
        # Changed: new options, the selection no longer fits, so the first option.
        assert attrs_of(runtime, "input_select.program")["options"] == ["comfort", "away"]
        assert state_of(runtime, "input_select.program") == "comfort"
        # A stored item is not touched by a YAML reload.
        assert collection_of(runtime, "counter").get(stored.id) is not None
        write_config(tmp_path, HEADER + "counter:\n  new_one:\n    initial: 7\n")
        await runtime.services.call("counter", "reload")
        assert runtime.states.get("counter.visitors") is None
        assert state_of(runtime, "counter.new_one") == "7"
        assert state_of(runtime, "counter.stored") == "0"


async def test_reload_with_a_broken_file_keeps_the_items(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        write_config(tmp_path, HEADER + "counter:\n  visitors: [unclosed\n")
        with pytest.raises(Exception, match="cannot reload"):
            await runtime.services.call("counter", "reload")
        assert state_of(runtime, "counter.visitors") == "3"


async def test_corrupt_storage_is_moved_aside_and_yaml_items_load(
    site: Site, tmp_path: Path
) -> None:
    storage = tmp_path / ".storage"
    storage.mkdir()
    (storage / "counter").write_text("{not json")
    async with site(YAML) as runtime:
        assert state_of(runtime, "counter.visitors") == "3"
        assert not (storage / "counter").exists()
        assert [p.name for p in storage.glob("counter.corrupt-*")]
        # The API works again: the next write makes a good file.
        await collection_of(runtime, "counter").create({"name": "Fresh"})
        assert json.loads((storage / "counter").read_text())["data"]["items"][0]["id"] == "fresh"


async def test_an_invalid_stored_item_is_kept_in_the_file(site: Site, tmp_path: Path) -> None:
    storage = tmp_path / ".storage"
    storage.mkdir()
    bad = {"id": "broken", "name": "Broken", "step": -4}
    good = {"id": "fine", "name": "Fine", "initial": 2}
    (storage / "counter").write_text(
        json.dumps({"version": 1, "key": "counter", "data": {"items": [bad, good]}})
    )
    async with site(YAML) as runtime:
        assert state_of(runtime, "counter.fine") == "2"
        assert runtime.states.get("counter.broken") is None
        await collection_of(runtime, "counter").create({"name": "Another"})
        items = json.loads((storage / "counter").read_text())["data"]["items"]
        assert bad in items
