"""Alarms: severities, stacking of repeats, acknowledgement, the history, and a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.notifications import Notification, Notifications, UpdateType
from core.runtime import Runtime
from core.storage import storage_path


def test_three_identical_raises_stack_into_one_with_a_count_and_the_last_time() -> None:
    store = Notifications()
    seen: list[tuple[UpdateType, list[str]]] = []
    store.subscribe(lambda kind, items: seen.append((kind, list(items))))
    first = store.create("9.6 kW for 2 minutes", title="House power high", severity="warning")
    store.create("9.6 kW for 2 minutes", title="House power high")
    third = store.create("9.6 kW for 2 minutes", title="House power high")
    assert first == third
    assert len(store) == 1
    alarm = store.get(first)
    assert alarm is not None
    assert alarm["count"] == 3
    assert alarm["severity"] == "warning"  # a repeat without a severity keeps it
    assert alarm["updated_at"] >= alarm["created_at"]
    assert [kind for kind, _ in seen] == [
        UpdateType.CURRENT,
        UpdateType.ADDED,
        UpdateType.UPDATED,
        UpdateType.UPDATED,
    ]
    # Another message is another notification.
    other = store.create("9.9 kW", title="House power high")
    assert other != first
    assert len(store) == 2


def test_raising_an_id_again_stacks_shows_the_newest_text_and_withdraws_the_ack() -> None:
    store = Notifications()
    store.create("5.2 kW", title="House power high", notification_id="power", severity="info")
    assert store.acknowledge("power", "user-1") is True
    acked = store.get("power")
    assert acked is not None
    assert acked["acknowledged_by"] == "user-1"
    assert acked["acknowledged_at"] is not None
    store.create("7.4 kW", title="House power high", notification_id="power", severity="critical")
    alarm = store.get("power")
    assert alarm is not None
    assert (alarm["message"], alarm["severity"], alarm["count"]) == ("7.4 kW", "critical", 2)
    assert alarm["acknowledged_by"] is None
    assert alarm["acknowledged_at"] is None
    assert store.acknowledge("nothing", "user-1") is False


def test_cleared_alarms_go_to_a_bounded_history_newest_first() -> None:
    store = Notifications(history_limit=3)
    for n in range(5):
        store.create(f"message {n}", notification_id=f"n{n}", severity="warning")
    assert store.dismiss("n0", "user-2") is True
    assert store.dismiss("n0") is False
    store.dismiss_all("user-3")
    history = store.history()
    assert [item["notification_id"] for item in history] == ["n4", "n3", "n2"]
    assert all(item["cleared_by"] == "user-3" for item in history)
    assert history[0]["cleared_at"]
    assert history[0]["message"] == "message 4"
    assert len(store) == 0


def test_an_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="loud"):
        Notifications().create("x", severity="loud")


async def test_alarms_and_history_survive_a_restart_and_plain_notices_do_not(
    tmp_path: Path,
) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: 0\n", encoding="utf-8")
    runtime = Runtime(tmp_path)
    await runtime.start()
    notes = runtime.notifications
    notes.create("9.6 kW", title="House power high", notification_id="power", severity="warning")
    notes.create("9.6 kW", title="House power high", notification_id="power")
    notes.acknowledge("power", "user-1")
    notes.create("Pump 2 tripped", notification_id="pump", severity="critical")
    notes.dismiss("pump", "user-2")
    notes.create("Just so you know", notification_id="plain")
    await runtime.stop()

    again = Runtime(tmp_path)
    await again.start()
    try:
        power = again.notifications.get("power")
        assert power is not None
        assert (power["count"], power["severity"], power["acknowledged_by"]) == (
            2,
            "warning",
            "user-1",
        )
        assert again.notifications.get("plain") is None  # as in Home Assistant
        [pump] = again.notifications.history()
        assert (pump["notification_id"], pump["cleared_by"]) == ("pump", "user-2")
    finally:
        await again.stop()


async def test_a_damaged_store_entry_is_skipped_and_the_rest_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "configuration.yaml").write_text("http:\n  server_port: 0\n", encoding="utf-8")
    good: Notification = {
        "notification_id": "ok",
        "title": "Fine",
        "message": "kept",
        "created_at": "2026-12-01T00:00:00+00:00",
        "severity": "critical",
        "count": 1,
        "updated_at": "2026-12-01T00:00:00+00:00",
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    path = storage_path(tmp_path, "notifications")
    path.parent.mkdir(parents=True)
    bad = [{**good, "notification_id": "bad", "severity": "loud"}, {"count": "many"}, 7]
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 1,
                "key": "notifications",
                "data": {"active": [good, *bad], "history": [{"cleared_at": 1}]},
            }
        ),
        encoding="utf-8",
    )
    runtime = Runtime(tmp_path)
    await runtime.start()
    try:
        assert list(runtime.notifications.all()) == ["ok"]
        assert runtime.notifications.history() == []
        assert caplog.text.count("Skipping a malformed stored notification") == 4
    finally:
        await runtime.stop()
