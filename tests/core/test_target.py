"""Tests of target resolution: explicit ids, devices, areas, labels, match-all, domain filter."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from core.services import ServiceTarget
from core.target import resolve_target
from tests.core._registries_helpers import RegistryRuntime


@pytest.fixture
async def site(tmp_path: Path) -> RegistryRuntime:
    """A kitchen with a plug (switch, power sensor, restart button) and a lamp of its own."""
    rt = RegistryRuntime(tmp_path)
    await rt.load()
    rt.area_registry.create("Kitchen")
    rt.area_registry.create("Hall")
    plug = rt.device_registry.get_or_create(
        "shelly", identifiers={("shelly", "plug")}, suggested_area="Kitchen"
    )
    entities = rt.entity_registry
    entities.get_or_create(
        "switch", "shelly", "relay", device_id=plug.id, suggested_object_id="plug"
    )
    entities.get_or_create(
        "sensor", "shelly", "power", device_id=plug.id, suggested_object_id="plug_power"
    )
    entities.get_or_create(
        "button",
        "shelly",
        "restart",
        device_id=plug.id,
        suggested_object_id="plug_restart",
        entity_category="config",
    )
    entities.get_or_create(
        "sensor",
        "shelly",
        "rssi",
        device_id=plug.id,
        suggested_object_id="plug_rssi",
        entity_category="diagnostic",
    )
    entities.get_or_create("light", "hue", "lamp", suggested_object_id="lamp")
    entities.update("light.lamp", area_id="kitchen", labels={"evening"})
    for entity_id in ("switch.plug", "sensor.plug_power", "light.lamp", "switch.loose"):
        rt.states.set(entity_id, "on")
    return rt


def resolve(
    rt: RegistryRuntime,
    domain: str | None = None,
    *,
    entity_ids: Iterable[str] = (),
    device_ids: Iterable[str] = (),
    area_ids: Iterable[str] = (),
    label_ids: Iterable[str] = (),
    match_all: bool = False,
) -> set[str]:
    target = ServiceTarget(
        entity_ids=frozenset(entity_ids),
        device_ids=frozenset(device_ids),
        area_ids=frozenset(area_ids),
        label_ids=frozenset(label_ids),
        match_all=match_all,
    )
    return resolve_target(rt, target, domain)  # type: ignore[arg-type]  # a stand-in Runtime


async def test_target_explicit_ids_are_kept_without_registry_entry(site: RegistryRuntime) -> None:
    assert resolve(site, entity_ids={"switch.loose", "switch.plug"}) == {
        "switch.loose",
        "switch.plug",
    }


async def test_target_explicit_unknown_id_is_dropped_without_domain(
    site: RegistryRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert resolve(site, entity_ids={"switch.ghost", "switch.plug"}) == {"switch.plug"}
    assert "switch.ghost" in caplog.text


async def test_target_explicit_id_of_the_domain_is_kept_without_state(
    site: RegistryRuntime,
) -> None:
    assert resolve(site, "switch", entity_ids={"switch.ghost"}) == {"switch.ghost"}


async def test_target_explicit_id_of_another_domain_is_dropped(site: RegistryRuntime) -> None:
    assert resolve(site, "switch", entity_ids={"light.lamp", "switch.plug"}) == {"switch.plug"}


async def test_target_device_expands_to_its_primary_entities(site: RegistryRuntime) -> None:
    plug = site.device_registry.get_device({("shelly", "plug")})
    assert plug is not None
    assert resolve(site, device_ids={plug.id}) == {"switch.plug", "sensor.plug_power"}
    assert resolve(site, "switch", device_ids={plug.id}) == {"switch.plug"}


async def test_target_area_includes_device_entities(site: RegistryRuntime) -> None:
    assert resolve(site, area_ids={"kitchen"}) == {
        "switch.plug",
        "sensor.plug_power",
        "light.lamp",
    }
    assert resolve(site, "light", area_ids={"kitchen"}) == {"light.lamp"}


async def test_target_area_excludes_device_entity_placed_elsewhere(site: RegistryRuntime) -> None:
    site.entity_registry.update("sensor.plug_power", area_id="hall")
    assert resolve(site, area_ids={"kitchen"}) == {"switch.plug", "light.lamp"}
    assert resolve(site, area_ids={"hall"}) == {"sensor.plug_power"}


async def test_target_skips_hidden_and_diagnostic_entities_on_expansion(
    site: RegistryRuntime,
) -> None:
    site.entity_registry.update("sensor.plug_power", hidden_by="user")
    site.entity_registry.update("switch.plug", disabled_by="user")
    assert resolve(site, area_ids={"kitchen"}) == {"light.lamp"}
    # Named explicitly, they are still meant.
    assert resolve(site, entity_ids={"sensor.plug_power", "button.plug_restart"}) == {
        "sensor.plug_power",
        "button.plug_restart",
    }


async def test_target_label_expands_to_its_entities(site: RegistryRuntime) -> None:
    assert resolve(site, label_ids={"evening"}) == {"light.lamp"}
    assert resolve(site, "switch", label_ids={"evening"}) == set()


async def test_target_all_matches_domain(site: RegistryRuntime) -> None:
    assert resolve(site, "switch", match_all=True) == {"switch.plug", "switch.loose"}
    assert resolve(site, match_all=True) == {
        "switch.plug",
        "switch.loose",
        "sensor.plug_power",
        "light.lamp",
    }


async def test_target_unknown_device_and_area_are_logged(
    site: RegistryRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert resolve(site, device_ids={"nope-device"}, area_ids={"attic"}) == set()
    assert "nope-device" in caplog.text
    assert "attic" in caplog.text
