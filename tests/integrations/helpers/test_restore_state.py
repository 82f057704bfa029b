"""``core.restore_state``: written every 15 minutes and at stop, read back at start."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from core.restore_state import DUMP_INTERVAL, STATE_EXPIRATION, restore_state_store
from tests._helpers import settle
from tests.integrations._runtime import clock_of
from tests.integrations.helpers.conftest import START, Site, state_of

YAML = """\
input_text:
  note:
    max: 20
"""

OTHER = "input_text:\n  other:\n"


def stored_states(config_dir: Path) -> dict[str, dict[str, object]]:
    raw = json.loads((config_dir / ".storage" / "core.restore_state").read_text())
    return {entry["state"]["entity_id"]: entry for entry in raw["data"]["states"]}


async def test_periodic_write_every_15_minutes(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call(
            "input_text", "set_value", {"entity_id": "input_text.note", "value": "hello"}
        )
        assert not (tmp_path / ".storage" / "core.restore_state").exists()
        await clock_of(runtime).advance_and_settle(DUMP_INTERVAL)
        await settle(runtime)
        store = await restore_state_store(runtime)
        # The write runs as a scheduler task: wait on its result, not on time.
        for _ in range(100):
            if (tmp_path / ".storage" / "core.restore_state").exists():
                break
            await clock_of(runtime).advance_and_settle(timedelta(0), ticks=20)
        assert store.loaded
        entry = stored_states(tmp_path)["input_text.note"]
        assert entry["state"]["state"] == "hello"  # type: ignore[index]


async def test_written_at_stop_and_restored(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call(
            "input_text", "set_value", {"entity_id": "input_text.note", "value": "bye"}
        )
    assert stored_states(tmp_path)["input_text.note"]["state"]["state"] == "bye"  # type: ignore[index]
    async with site(YAML, START + timedelta(hours=1)) as runtime:
        assert state_of(runtime, "input_text.note") == "bye"


async def test_states_of_entities_that_did_not_return_expire(site: Site, tmp_path: Path) -> None:
    async with site(YAML) as runtime:
        await runtime.services.call(
            "input_text", "set_value", {"entity_id": "input_text.note", "value": "kept"}
        )
    # A day without the item (another one keeps the store in use): its state is still kept...
    async with site(OTHER, START + timedelta(days=1)):
        pass
    assert "input_text.note" in stored_states(tmp_path)
    async with site(YAML, START + timedelta(days=2)) as runtime:
        assert state_of(runtime, "input_text.note") == "kept"
    # ...but not once it has been gone longer than the expiration.
    async with site(OTHER, START + timedelta(days=2) + STATE_EXPIRATION):
        pass
    assert "input_text.note" not in stored_states(tmp_path)


async def test_corrupt_file_is_moved_aside(site: Site, tmp_path: Path) -> None:
    storage = tmp_path / ".storage"
    storage.mkdir()
    (storage / "core.restore_state").write_bytes(b"\x00garbage")
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_text.note") == "unknown"
    assert list(storage.glob("core.restore_state.corrupt-*"))
    assert "input_text.note" in stored_states(tmp_path)


async def test_malformed_entry_is_skipped(site: Site, tmp_path: Path) -> None:
    storage = tmp_path / ".storage"
    storage.mkdir()
    good = {
        "state": {"entity_id": "input_text.note", "state": "fine", "attributes": {}},
        "extra_data": None,
        "last_seen": START.isoformat(),
    }
    data = {"states": [{"state": "not a mapping"}, good]}
    (storage / "core.restore_state").write_text(
        json.dumps({"version": 1, "key": "core.restore_state", "data": data})
    )
    async with site(YAML) as runtime:
        assert state_of(runtime, "input_text.note") == "fine"
