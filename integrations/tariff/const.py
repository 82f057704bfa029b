"""Constants of the ``tariff`` integration."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Final

DOMAIN: Final = "tariff"
NAME: Final = "Tariff"

CONF_PLAN: Final = "plan"
CONF_PRICE_ENTITY: Final = "price_entity"
CONF_CURRENCY: Final = "currency"
CONF_WINDOWS: Final = "windows"
CONF_RESOLUTION: Final = "resolution"
CONF_CARBON_INTENSITY: Final = "carbon_intensity"
CONF_AUTOPILOT: Final = "autopilot"
CONF_NOTIFY: Final = "notifications"

SERVICE_CHEAPEST_WINDOW: Final = "cheapest_window"
SERVICE_COST_PREVIEW: Final = "cost_preview"
SERVICE_PAST_PRICE: Final = "past_price"
#: The longest period ``tariff.past_price`` prices in one call.
MAX_PAST_PERIOD: Final = timedelta(days=31)

#: The grid of TOU plans (a slot boundary must fall on it), and of every window search.
DEFAULT_RESOLUTION: Final = timedelta(minutes=15)
#: How many local days of a TOU plan are expanded ahead of today.
PLAN_DAYS_AHEAD: Final = 2
#: Most blocks one window search may ask for.
MAX_BLOCKS: Final = 8
#: Longest horizon a window search looks at.
MAX_HORIZON: Final = timedelta(days=4)
#: Most forecast entries read from a price entity's attributes.
MAX_FORECAST_ENTRIES: Final = 2000
#: Grace of a schedule run missed while Edgewise was down, s.
DEFAULT_SCHEDULE_GRACE: Final = 900.0
#: Schedule log entries kept.
SCHEDULE_LOG_SIZE: Final = 500
#: Receipts kept.
RECEIPTS_KEPT: Final = 500
#: How often the notification checks run.
NOTIFY_INTERVAL: Final = timedelta(minutes=15)
#: When the nightly aggregation runs (local time).
AGGREGATE_AT: Final = "00:30:00"

EVENT_SLOT_CHANGED: Final = "tariff_slot_changed"


class SlotType(StrEnum):
    """The band a price slot belongs to."""

    PEAK = "peak"
    STANDARD = "standard"
    OFF_PEAK = "off_peak"
