"""Persistent notifications: the store, and what the runtime reports through it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.notifications import Notification, Notifications, UpdateType
from core.plugins import IntegrationLoader
from core.runtime import Runtime


def test_create_replace_dismiss_and_what_listeners_are_told() -> None:
    store = Notifications()
    seen: list[tuple[UpdateType, dict[str, Notification]]] = []
    store.create("Filter due", title="AHU", notification_id="ahu")
    unsubscribe = store.subscribe(lambda kind, items: seen.append((kind, items)))
    assert seen[0][0] is UpdateType.CURRENT
    assert list(seen[0][1]) == ["ahu"]

    generated = store.create("No title")
    assert len(generated) == 26  # a ULID
    created_at = store.all()[generated]["created_at"]
    assert store.get(generated) == {
        "notification_id": generated,
        "title": None,
        "message": "No title",
        "created_at": created_at,
        "severity": "info",
        "count": 1,
        "updated_at": created_at,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    store.create("Filter overdue", title="AHU", notification_id="ahu")
    assert store.dismiss("ahu") is True
    assert store.dismiss("ahu") is False
    store.dismiss_all()
    store.dismiss_all()  # nothing left: nobody is told
    assert [(kind, list(items)) for kind, items in seen[1:]] == [
        (UpdateType.ADDED, [generated]),
        (UpdateType.UPDATED, ["ahu"]),
        (UpdateType.REMOVED, ["ahu"]),
        (UpdateType.REMOVED, [generated]),
    ]
    unsubscribe()
    unsubscribe()
    store.create("Unheard")
    assert len(seen) == 5
    assert len(store) == 1


def test_the_oldest_are_dropped_past_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    store = Notifications(limit=3)
    removed: list[str] = []

    def on_update(kind: UpdateType, items: dict[str, Notification]) -> None:
        if kind is UpdateType.REMOVED:
            removed.extend(items)

    store.subscribe(on_update)
    for n in range(5):
        store.create(f"message {n}", notification_id=f"n{n}")
    assert list(store.all()) == ["n2", "n3", "n4"]
    assert removed == ["n0", "n1"]
    assert "More than 3 persistent notifications" in caplog.text


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    store = Notifications()
    got: list[UpdateType] = []

    def broken(kind: UpdateType, items: dict[str, Notification]) -> None:
        if kind is not UpdateType.CURRENT:
            raise RuntimeError("listener bug")

    store.subscribe(broken)
    store.subscribe(lambda kind, items: got.append(kind))
    store.create("Still delivered")
    assert got == [UpdateType.CURRENT, UpdateType.ADDED]
    assert "Error in a persistent notification listener" in caplog.text


async def test_invalid_configuration_is_reported_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "http:\n  server_port: 0\nsun:\n  bogus: 1\n", encoding="utf-8"
    )
    loader = IntegrationLoader()
    loader.load_entry_points()
    runtime = Runtime(tmp_path, loader=loader)
    await runtime.start()
    try:
        notification = runtime.notifications.get("invalid_config")
        assert notification is not None
        assert notification["title"] == "Invalid configuration"
        assert "configuration.yaml" in notification["message"]
        assert "line 4" in notification["message"]
        assert "bogus" in notification["message"]
    finally:
        await runtime.stop()


async def test_a_clean_start_reports_nothing_and_a_later_failure_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = "http:\n  server_port: 0\nsun:\n"
    (tmp_path / "configuration.yaml").write_text(config, encoding="utf-8")
    loader = IntegrationLoader()
    loader.load_entry_points()
    runtime = Runtime(tmp_path, loader=loader)
    await runtime.start()
    try:
        assert runtime.notifications.get("invalid_config") is None
        with caplog.at_level(logging.ERROR):
            runtime.integration_failed("sun", "the almanac is gone")
        notification = runtime.notifications.get("integration_failed_sun")
        assert notification is not None
        assert notification["title"] == "Sun failed"
        assert "the almanac is gone" in notification["message"]
    finally:
        await runtime.stop()
