"""Constants of users, tokens and their files."""

from __future__ import annotations

STORAGE_KEY = "auth"
STORAGE_VERSION = 1
#: The marker that the site was onboarded (``.storage/onboarding``, as Home Assistant keeps it):
#: while it exists, a missing or corrupt auth store never reopens onboarding.
ONBOARDING_KEY = "onboarding"
#: The key that signs short-lived access tokens (``.storage/auth_token_key``); kept apart from
#: ``.storage/auth`` so that a copy of the users and grants still lets nobody in.
TOKEN_KEY_FILE = "auth_token_key"  # noqa: S105 - a file name, not a secret
#: A password's least length (NIST SP 800-63B's eight characters) and its most (bounded input).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
#: Seconds an access token issued at login or refresh lasts (Home Assistant's 30 minutes).
ACCESS_TOKEN_EXPIRATION = 1800.0
#: Seconds an authorisation code may wait before it is exchanged.
AUTH_CODE_EXPIRATION = 600.0
#: Days a long-lived access token lasts unless told otherwise (Home Assistant's ten years).
LONG_LIVED_DAYS = 3650
#: Long-lived access tokens one user may hold at once (through the API).
MAX_LONG_LIVED_PER_USER = 20
#: Seconds between two checks of whether the file was changed by someone else.
RELOAD_CHECK_INTERVAL = 1.0
#: Hashes of revoked grants remembered, so that a client retrying one is not taken for a guesser.
MAX_REVOKED_REMEMBERED = 1000
#: The command that gives a site whose users were lost an admin again.
RECOVERY_COMMAND = "edgewise user add NAME --role admin"
#: Event types a user who is not an admin may subscribe to: those that carry nothing sensitive
#: (Home Assistant's list). ``call_service``, ``automation_triggered`` and the like show what
#: others do and with which data; only admins see every event.
SUBSCRIBE_ALLOWLIST: frozenset[str] = frozenset(
    {
        "area_registry_updated",
        "component_loaded",
        "core_config_updated",
        "device_registry_updated",
        "entity_registry_updated",
        "floor_registry_updated",
        "label_registry_updated",
        "lovelace_updated",
        "panels_updated",
        "persistent_notifications_updated",
        "recorder_5min_statistics_generated",
        "recorder_hourly_statistics_generated",
        "service_registered",
        "service_removed",
        "state_changed",
        "themes_updated",
    }
)
