"""The connection part of the ``mqtt:`` section, the service schemas, and their dataclasses.

Example::

    # configuration.yaml
    mqtt:
      broker: 127.0.0.1
      port: 8883
      username: edgewise
      password: !secret mqtt_password
      client_id: edgewise-site-1
      keepalive: 60
      protocol: "5"            # or "3.1.1" (default)
      certificate: /etc/edgewise/ca.pem   # "auto" uses the system's CAs
      client_cert: /etc/edgewise/client.pem
      client_key: /etc/edgewise/client.key
      tls_insecure: false      # true skips the check of the broker's host name
      birth_message: {topic: homeassistant/status, payload: online}
      will_message: {topic: homeassistant/status, payload: offline}
      discovery: true
      discovery_prefix: homeassistant
      reconnect: {min_delay: 1, max_delay: 60}
      outbox: {max_messages: 10000, persist: true}
      sensor: [...]            # entities: see platform_schema.py
      state_stream: {...}      # see stream.py
      command_bridge: {...}    # see bridge.py

The birth and will messages default to ``<discovery_prefix>/status`` with ``online`` and
``offline``, as in Home Assistant.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import voluptuous as vol

from core import validators

from .const import (
    CONF_BIRTH_MESSAGE,
    CONF_BROKER,
    CONF_CERTIFICATE,
    CONF_CLIENT_CERT,
    CONF_CLIENT_ID,
    CONF_CLIENT_KEY,
    CONF_DISCOVERY,
    CONF_DISCOVERY_PREFIX,
    CONF_KEEPALIVE,
    CONF_MAX_DELAY,
    CONF_MAX_MESSAGES,
    CONF_MIN_DELAY,
    CONF_OUTBOX,
    CONF_PASSWORD,
    CONF_PAYLOAD,
    CONF_PERSIST,
    CONF_PORT,
    CONF_PROTOCOL,
    CONF_QOS,
    CONF_RECONNECT,
    CONF_RETAIN,
    CONF_TLS_INSECURE,
    CONF_TOPIC,
    CONF_USERNAME,
    CONF_WILL_MESSAGE,
    DEFAULT_DISCOVERY_PREFIX,
    DEFAULT_KEEPALIVE,
    DEFAULT_OUTBOX_MAX_MESSAGES,
    DEFAULT_PAYLOAD_AVAILABLE,
    DEFAULT_PAYLOAD_NOT_AVAILABLE,
    DEFAULT_PORT,
    DEFAULT_PROTOCOL,
    DEFAULT_RECONNECT_MAX_DELAY,
    DEFAULT_RECONNECT_MIN_DELAY,
    PROTOCOL_5,
    PROTOCOL_311,
)
from .platform_schema import PLATFORM_SCHEMAS, EntityConfig
from .topics import valid_publish_topic, valid_subscribe_topic

CONF_STATE_STREAM = "state_stream"
CONF_COMMAND_BRIDGE = "command_bridge"

valid_qos = vol.All(vol.Coerce(int), vol.In([0, 1, 2], msg="qos must be 0, 1 or 2"))


@dataclass(frozen=True, slots=True)
class Message:
    """A message to publish: the birth and will messages."""

    topic: str
    payload: str
    qos: int = 0
    retain: bool = False


def _message(default_payload: str) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional(CONF_TOPIC): valid_publish_topic,
            vol.Optional(CONF_PAYLOAD, default=default_payload): validators.string,
            vol.Optional(CONF_QOS, default=0): valid_qos,
            vol.Optional(CONF_RETAIN, default=False): validators.boolean,
        }
    )


def _protocol(value: object) -> str:
    text = str(value).strip()
    if text in (PROTOCOL_311, "311", "3.1"):
        return PROTOCOL_311
    if text in (PROTOCOL_5, "5.0"):
        return PROTOCOL_5
    raise vol.Invalid(f"protocol must be '3.1.1' or '5', got {value!r}")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS towards the broker: the CA (a path, or ``auto`` for the system's), client cert."""

    certificate: str
    client_cert: str | None = None
    client_key: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The validated ``mqtt:`` section."""

    broker: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    keepalive: int = DEFAULT_KEEPALIVE
    protocol: str = DEFAULT_PROTOCOL
    tls: TlsConfig | None = None
    birth: Message | None = None
    will: Message | None = None
    discovery: bool = True
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    reconnect_min_delay: float = DEFAULT_RECONNECT_MIN_DELAY
    reconnect_max_delay: float = DEFAULT_RECONNECT_MAX_DELAY
    outbox_max_messages: int = DEFAULT_OUTBOX_MAX_MESSAGES
    outbox_persist: bool = False
    entities: tuple[EntityConfig, ...] = ()
    state_stream: StreamConfig | None = None
    command_bridge: BridgeConfig | None = None

    @property
    def name(self) -> str:
        """The broker as people name it: ``host:port``."""
        return f"{self.broker}:{self.port}"


def _prefix(value: object) -> str:
    return valid_publish_topic(validators.string(value)).rstrip("/")


@dataclass(frozen=True, slots=True)
class EntityFilter:
    """Which entities a state stream publishes: includes (empty: all) minus excludes."""

    include_domains: frozenset[str] = frozenset()
    include_entities: frozenset[str] = frozenset()
    include_globs: tuple[str, ...] = ()
    exclude_domains: frozenset[str] = frozenset()
    exclude_entities: frozenset[str] = frozenset()
    exclude_globs: tuple[str, ...] = ()

    def __call__(self, entity_id: str) -> bool:
        """Whether ``entity_id`` passes: named outright wins over a domain or a glob."""
        if entity_id in self.exclude_entities:
            return False
        if entity_id in self.include_entities:
            return True
        domain = entity_id.partition(".")[0]
        if domain in self.exclude_domains or any(
            fnmatch.fnmatchcase(entity_id, glob) for glob in self.exclude_globs
        ):
            return False
        if not (self.include_domains or self.include_entities or self.include_globs):
            return True
        return domain in self.include_domains or any(
            fnmatch.fnmatchcase(entity_id, glob) for glob in self.include_globs
        )


_FILTER_PART = vol.Schema(
    {
        vol.Optional("domains", default=[]): vol.All(validators.ensure_list, [validators.slug]),
        vol.Optional("entities", default=[]): validators.entity_ids,
        vol.Optional("entity_globs", default=[]): vol.All(
            validators.ensure_list, [validators.string]
        ),
    }
)


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """The ``state_stream:`` part: state changes published under ``base_topic``."""

    base_topic: str
    entity_filter: EntityFilter
    publish_attributes: bool = False
    publish_timestamps: bool = False
    qos: int = 0
    retain: bool = False


def _stream(section: dict[str, Any]) -> StreamConfig:
    include, exclude = section["include"], section["exclude"]
    return StreamConfig(
        base_topic=section["base_topic"],
        entity_filter=EntityFilter(
            frozenset(include["domains"]),
            frozenset(include["entities"]),
            tuple(include["entity_globs"]),
            frozenset(exclude["domains"]),
            frozenset(exclude["entities"]),
            tuple(exclude["entity_globs"]),
        ),
        publish_attributes=section["publish_attributes"],
        publish_timestamps=section["publish_timestamps"],
        qos=section["qos"],
        retain=section["retain"],
    )


STREAM_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("base_topic"): _prefix,
            vol.Optional("include", default={}): _FILTER_PART,
            vol.Optional("exclude", default={}): _FILTER_PART,
            vol.Optional("publish_attributes", default=False): validators.boolean,
            vol.Optional("publish_timestamps", default=False): validators.boolean,
            vol.Optional(CONF_QOS, default=0): valid_qos,
            vol.Optional(CONF_RETAIN, default=False): validators.boolean,
        }
    ),
    _stream,
)
"""Validates ``state_stream:`` into a :class:`StreamConfig`. Example::

    state_stream:
      base_topic: site1/edgewise
      publish_attributes: true
      include: {domains: [sensor, climate]}
      exclude: {entity_globs: ["sensor.*_debug"]}
"""


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """The ``command_bridge:`` part: writes arriving as JSON on ``command_topic``."""

    command_topic: str
    result_topic: str | None
    points: Mapping[str, str]
    qos: int = 1


BRIDGE_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required("command_topic"): valid_subscribe_topic,
            vol.Optional("result_topic"): valid_publish_topic,
            vol.Optional("points", default={}): vol.Schema(
                {validators.string: validators.entity_id}
            ),
            vol.Optional(CONF_QOS, default=1): valid_qos,
        }
    ),
    lambda s: BridgeConfig(
        s["command_topic"], s.get("result_topic"), MappingProxyType(dict(s["points"])), s[CONF_QOS]
    ),
)
"""Validates ``command_bridge:`` into a :class:`BridgeConfig`. Example::

    command_bridge:
      command_topic: site1/write/command
      result_topic: site1/write/result
      points:
        ahu1_sat_sp: number.ahu1_supply_air_setpoint
"""


_SECTION = vol.Schema(
    {
        vol.Optional(CONF_BROKER, default="127.0.0.1"): validators.string,
        vol.Optional(CONF_PORT, default=DEFAULT_PORT): validators.port,
        vol.Optional(CONF_USERNAME): validators.string,
        vol.Optional(CONF_PASSWORD): validators.string,
        vol.Optional(CONF_CLIENT_ID): validators.string,
        vol.Optional(CONF_KEEPALIVE, default=DEFAULT_KEEPALIVE): vol.All(
            vol.Coerce(int), vol.Range(min=5, max=65535)
        ),
        vol.Optional(CONF_PROTOCOL, default=DEFAULT_PROTOCOL): _protocol,
        vol.Optional(CONF_CERTIFICATE): validators.string,
        vol.Inclusive(CONF_CLIENT_CERT, "client_cert_and_key"): validators.string,
        vol.Inclusive(CONF_CLIENT_KEY, "client_cert_and_key"): validators.string,
        vol.Optional(CONF_TLS_INSECURE, default=False): validators.boolean,
        vol.Optional(CONF_BIRTH_MESSAGE, default={}): vol.Any(
            None, _message(DEFAULT_PAYLOAD_AVAILABLE)
        ),
        vol.Optional(CONF_WILL_MESSAGE, default={}): vol.Any(
            None, _message(DEFAULT_PAYLOAD_NOT_AVAILABLE)
        ),
        vol.Optional(CONF_DISCOVERY, default=True): validators.boolean,
        vol.Optional(CONF_DISCOVERY_PREFIX, default=DEFAULT_DISCOVERY_PREFIX): _prefix,
        vol.Optional(CONF_RECONNECT, default={}): vol.Schema(
            {
                vol.Optional(CONF_MIN_DELAY, default=DEFAULT_RECONNECT_MIN_DELAY): vol.All(
                    vol.Coerce(float), vol.Range(min=0.01)
                ),
                vol.Optional(CONF_MAX_DELAY, default=DEFAULT_RECONNECT_MAX_DELAY): vol.All(
                    vol.Coerce(float), vol.Range(min=0.01)
                ),
            }
        ),
        vol.Optional(CONF_OUTBOX, default={}): vol.Schema(
            {
                vol.Optional(CONF_MAX_MESSAGES, default=DEFAULT_OUTBOX_MAX_MESSAGES): vol.All(
                    vol.Coerce(int), vol.Range(min=1)
                ),
                vol.Optional(CONF_PERSIST, default=False): validators.boolean,
            }
        ),
        vol.Optional(CONF_STATE_STREAM): STREAM_SCHEMA,
        vol.Optional(CONF_COMMAND_BRIDGE): BRIDGE_SCHEMA,
        **{
            vol.Optional(domain): vol.All(validators.ensure_list, [schema])
            for domain, schema in PLATFORM_SCHEMAS.items()
        },
    }
)


def _build(section: dict[str, Any]) -> MqttConfig:
    prefix: str = section[CONF_DISCOVERY_PREFIX]
    status_topic = f"{prefix}/status"

    def message(raw: dict[str, Any] | None) -> Message | None:
        if raw is None:
            return None
        return Message(
            raw.get(CONF_TOPIC, status_topic), raw[CONF_PAYLOAD], raw[CONF_QOS], raw[CONF_RETAIN]
        )

    tls = None
    if CONF_CERTIFICATE in section or CONF_CLIENT_CERT in section:
        tls = TlsConfig(
            certificate=section.get(CONF_CERTIFICATE, "auto"),
            client_cert=section.get(CONF_CLIENT_CERT),
            client_key=section.get(CONF_CLIENT_KEY),
            insecure=section[CONF_TLS_INSECURE],
        )
    reconnect = section[CONF_RECONNECT]
    if reconnect[CONF_MAX_DELAY] < reconnect[CONF_MIN_DELAY]:
        raise vol.Invalid(
            "reconnect max_delay must not be less than min_delay", path=[CONF_RECONNECT]
        )
    entities = tuple(entity for domain in PLATFORM_SCHEMAS for entity in section.get(domain, ()))
    return MqttConfig(
        broker=section[CONF_BROKER],
        port=section[CONF_PORT],
        username=section.get(CONF_USERNAME),
        password=section.get(CONF_PASSWORD),
        client_id=section.get(CONF_CLIENT_ID),
        keepalive=section[CONF_KEEPALIVE],
        protocol=section[CONF_PROTOCOL],
        tls=tls,
        birth=message(section[CONF_BIRTH_MESSAGE]),
        will=message(section[CONF_WILL_MESSAGE]),
        discovery=section[CONF_DISCOVERY],
        discovery_prefix=prefix,
        reconnect_min_delay=reconnect[CONF_MIN_DELAY],
        reconnect_max_delay=reconnect[CONF_MAX_DELAY],
        outbox_max_messages=section[CONF_OUTBOX][CONF_MAX_MESSAGES],
        outbox_persist=section[CONF_OUTBOX][CONF_PERSIST],
        entities=entities,
        state_stream=section.get(CONF_STATE_STREAM),
        command_bridge=section.get(CONF_COMMAND_BRIDGE),
    )


def _none_is_empty(value: object) -> object:
    return {} if value is None else value


CONFIG_SCHEMA = vol.All(_none_is_empty, _SECTION, _build)
"""Validates the ``mqtt:`` section into an :class:`MqttConfig`."""
