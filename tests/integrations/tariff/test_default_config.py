"""The default configuration's tariff: valid, with bands a newcomer sees on the Energy page."""

from __future__ import annotations

from datetime import UTC, date
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from integrations.tariff.const import SlotType
from integrations.tariff.schema import CONFIG_SCHEMA

CONFIG = Path(__file__).resolve().parents[3] / "config" / "configuration.yaml"


class _Loader(yaml.SafeLoader):
    """Reads the file's tags (!include, !secret) as plain strings: only the tariff is used."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_default_tariff_is_valid_and_has_peak_and_off_peak_bands() -> None:
    document = yaml.load(CONFIG.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    config = CONFIG_SCHEMA(document["tariff"])
    assert config.plan is not None
    zone = ZoneInfo(document["edgewise"]["time_zone"])
    segments = config.plan.segments(date(2026, 1, 15), 1, zone)  # a Thursday
    kinds = {s.kind for s in segments}
    assert kinds == {SlotType.OFF_PEAK, SlotType.STANDARD, SlotType.PEAK}
    peak = next(s for s in segments if s.kind is SlotType.PEAK)
    assert peak.start.astimezone(zone).hour == 17
    assert peak.start.tzinfo == UTC
