"""Constants of the MQTT integration, by family: configuration keys, defaults, attributes."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "mqtt"
NAME: Final = "MQTT"

# Connection.
CONF_BROKER: Final = "broker"
CONF_PORT: Final = "port"
CONF_USERNAME: Final = "username"
CONF_PASSWORD: Final = "password"  # noqa: S105 - the key, not a password
CONF_CLIENT_ID: Final = "client_id"
CONF_KEEPALIVE: Final = "keepalive"
CONF_PROTOCOL: Final = "protocol"
CONF_CERTIFICATE: Final = "certificate"
CONF_CLIENT_CERT: Final = "client_cert"
CONF_CLIENT_KEY: Final = "client_key"
CONF_TLS_INSECURE: Final = "tls_insecure"
CONF_BIRTH_MESSAGE: Final = "birth_message"
CONF_WILL_MESSAGE: Final = "will_message"
CONF_DISCOVERY: Final = "discovery"
CONF_DISCOVERY_PREFIX: Final = "discovery_prefix"
CONF_RECONNECT: Final = "reconnect"
CONF_MIN_DELAY: Final = "min_delay"
CONF_MAX_DELAY: Final = "max_delay"
CONF_OUTBOX: Final = "outbox"
CONF_MAX_MESSAGES: Final = "max_messages"
CONF_PERSIST: Final = "persist"

# Messages.
CONF_TOPIC: Final = "topic"
CONF_PAYLOAD: Final = "payload"
CONF_PAYLOAD_TEMPLATE: Final = "payload_template"
CONF_QOS: Final = "qos"
CONF_RETAIN: Final = "retain"
CONF_ENCODING: Final = "encoding"
CONF_DURATION: Final = "duration"

PROTOCOL_311: Final = "3.1.1"
PROTOCOL_5: Final = "5"

DEFAULT_PORT: Final = 1883
DEFAULT_KEEPALIVE: Final = 60
DEFAULT_PROTOCOL: Final = PROTOCOL_311
DEFAULT_QOS: Final = 0
DEFAULT_DISCOVERY_PREFIX: Final = "homeassistant"
DEFAULT_ENCODING: Final = "utf-8"
DEFAULT_PAYLOAD_AVAILABLE: Final = "online"
DEFAULT_PAYLOAD_NOT_AVAILABLE: Final = "offline"
#: Seconds before the first reconnect attempt, doubled after each failure up to the maximum.
DEFAULT_RECONNECT_MIN_DELAY: Final = 1.0
DEFAULT_RECONNECT_MAX_DELAY: Final = 60.0
#: QoS 1/2 messages kept while the broker is away; the oldest are dropped beyond it.
DEFAULT_OUTBOX_MAX_MESSAGES: Final = 10_000
#: Seconds a network wait (connect, subscribe, publish acknowledgement) may take.
NETWORK_TIMEOUT: Final = 10.0
#: Topic filters sent in one SUBSCRIBE packet when (re)subscribing many at once.
SUBSCRIBE_BATCH: Final = 200

# Services.
SERVICE_PUBLISH: Final = "publish"
SERVICE_DUMP: Final = "dump"

# Events.
EVENT_MQTT_CONNECTED: Final = "mqtt_connected"
EVENT_MQTT_DISCONNECTED: Final = "mqtt_disconnected"
