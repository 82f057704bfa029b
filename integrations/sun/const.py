"""Constants of the ``sun`` integration, by family, with the names Home Assistant uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "sun"
#: The one entity the integration adds.
ENTITY_ID: Final = "sun.sun"
UNIQUE_ID: Final = "sun"
NAME: Final = "Sun"

STATE_ABOVE_HORIZON: Final = "above_horizon"
STATE_BELOW_HORIZON: Final = "below_horizon"

ATTR_NEXT_DAWN: Final = "next_dawn"
ATTR_NEXT_DUSK: Final = "next_dusk"
ATTR_NEXT_MIDNIGHT: Final = "next_midnight"
ATTR_NEXT_NOON: Final = "next_noon"
ATTR_NEXT_RISING: Final = "next_rising"
ATTR_NEXT_SETTING: Final = "next_setting"
ATTR_ELEVATION: Final = "elevation"
ATTR_AZIMUTH: Final = "azimuth"
ATTR_RISING: Final = "rising"

#: How often elevation and azimuth are recomputed between sun events.
POSITION_UPDATE_INTERVAL: Final = timedelta(minutes=5)
#: Decimals kept in elevation and azimuth, as Home Assistant does.
ANGLE_DECIMALS: Final = 2
#: Days searched for solar midnight (it happens every day; the margin covers time zone edges).
MIDNIGHT_SEARCH_DAYS: Final = 3
#: Around each of astral's sunrises and sunsets, the state follows the event itself, so that it
#: flips exactly when the scheduler's sun jobs fire; elsewhere it follows the sun's elevation.
EVENT_WINDOW: Final = timedelta(minutes=30)
