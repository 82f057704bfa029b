"""Constants of the ``tuya`` integration: configuration keys, defaults, protocol facts."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "tuya"
NAME: Final = "Tuya (local)"

CONF_DEVICES: Final = "devices"
CONF_DEVICE_ID: Final = "device_id"
CONF_LOCAL_KEY: Final = "local_key"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_VERSION: Final = "version"
CONF_NAME: Final = "name"
CONF_AREA: Final = "area"
CONF_POLL_INTERVAL: Final = "poll_interval"
CONF_HEARTBEAT_INTERVAL: Final = "heartbeat_interval"
CONF_COMMAND_TIMEOUT: Final = "command_timeout"
CONF_DPS: Final = "dps"
CONF_SWITCH: Final = "switch"
CONF_POWER: Final = "power"
CONF_CURRENT: Final = "current"
CONF_VOLTAGE: Final = "voltage"
CONF_ENERGY: Final = "energy"
CONF_POWER_SCALE: Final = "power_scale"
CONF_VOLTAGE_SCALE: Final = "voltage_scale"
CONF_CURRENT_SCALE: Final = "current_scale"
CONF_ENERGY_SCALE: Final = "energy_scale"
CONF_DISCOVERY: Final = "discovery"
CONF_BIND: Final = "bind"
CONF_BROADCAST: Final = "broadcast"
CONF_PLAIN_PORT: Final = "plain_port"
CONF_ENCRYPTED_PORT: Final = "encrypted_port"
CONF_APP_PORT: Final = "app_port"

#: The protocol versions spoken; the first is tried first when the version is not given.
VERSIONS: Final = (3.3, 3.4, 3.5, 3.1)

#: The device's TCP port.
DEFAULT_PORT: Final = 6668
#: How often the power data points are refreshed with UPDATEDPS, s.
DEFAULT_POLL_INTERVAL: Final = 10.0
#: How often a heartbeat is sent on the persistent connection, s.
DEFAULT_HEARTBEAT_INTERVAL: Final = 10.0
#: How long a command waits for the device to report the new value, s (then retried once).
DEFAULT_COMMAND_TIMEOUT: Final = 2.0
#: How long connecting and the session-key handshake may take, s.
CONNECT_TIMEOUT: Final = 5.0
#: How long the first status query may take when probing a version, s.
PROBE_TIMEOUT: Final = 2.0
#: A connection that has carried nothing for this many heartbeat intervals is dead.
SILENCE_HEARTBEATS: Final = 3.0
#: Reconnect backoff: first delay, growth factor and cap, s; each delay is jittered.
BACKOFF_INITIAL: Final = 0.25
BACKOFF_FACTOR: Final = 2.0
BACKOFF_MAX: Final = 60.0

#: Discovery: the ports devices broadcast on (3.1 plain, 3.3+ encrypted, 3.5 app port).
DISCOVERY_PLAIN_PORT: Final = 6666
DISCOVERY_ENCRYPTED_PORT: Final = 6667
DISCOVERY_APP_PORT: Final = 7000
#: Discovery bounds: datagram size, datagrams looked at per call, devices kept, seconds.
DISCOVERY_MAX_DATAGRAM: Final = 2048
DISCOVERY_MAX_DATAGRAMS: Final = 5000
DISCOVERY_MAX_DEVICES: Final = 256
DISCOVERY_DEFAULT_DURATION: Final = 6.0
DISCOVERY_MAX_DURATION: Final = 30.0

#: Data points of a metering plug (the common profile), and of old 3.1 plugs.
PROFILE_COMMON: Final = {"current": 18, "power": 19, "voltage": 20, "energy": 17}
PROFILE_OLD: Final = {"current": 4, "power": 5, "voltage": 6}
#: Some vendors put metering in their own range (104 current, 105 power, 106 voltage).
PROFILE_VENDOR: Final = {"current": 104, "power": 105, "voltage": 106}
#: Switch data points are booleans among these (multi-gang strips use 1..6, USB often 7).
SWITCH_DP_RANGE: Final = range(1, 9)

SERVICE_DISCOVER: Final = "discover"

#: Modules tinytuya imports at module level for its cloud client (``tinytuya.Cloud``) alone:
#: LAN devices never use them. ``requests`` brings urllib3, charset_normalizer, idna and
#: certifi, about 4.6 MiB resident; ``deferred.py`` keeps them out until a cloud call.
CLOUD_ONLY_MODULES: Final = ("requests",)
#: tinytuya's module that picks its AES backend on import, and what is hidden from tinytuya's
#: import (see ``deferred.py``): the backend it would pick first, so it takes PyCryptodomex
#: (about 5 MiB less resident); cffi, so PyCryptodomex calls its C code through ctypes (as fast
#: here, and without cffi's C-declaration parser, pycparser: about 1 MiB less); colorama, which
#: tinytuya's core imports for coloured terminal output on Windows only (0.4 MiB).
CIPHER_MODULE: Final = "tinytuya.core.crypto_helper"
TINYTUYA_HIDDEN_MODULES: Final = ("cryptography", "cffi", "colorama")
