"""The error hierarchy every part of Edgewise raises from.

Errors carry structured fields (which file, which device, which address) so that a caller can
report them precisely without parsing the message.
"""

from __future__ import annotations


class EdgewiseError(Exception):
    """Base class of every error Edgewise raises on purpose."""


class ConfigError(EdgewiseError):
    """A configuration value is missing, malformed or of the wrong type.

    Attributes:
        path: the configuration file the error was found in, if known.
        line: the 1-based line in that file, if known.
        key: the dotted key path of the offending value (``modbus.0.hubs``), if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.key = key

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}, line {self.line}"
        parts = [p for p in (where, f"key '{self.key}'" if self.key else "") if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class IntegrationError(EdgewiseError):
    """An integration failed to load, set up or stop.

    Attributes:
        integration: the integration's domain.
    """

    def __init__(self, message: str, *, integration: str) -> None:
        super().__init__(message)
        self.integration = integration


class NotStartedError(EdgewiseError, RuntimeError):
    """A kernel service was used before the start-up stage that makes it."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(
            f"{message}: this needs a started runtime (start-up stage {stage!r} has not run)"
        )
        self.stage = stage


class InvalidEntityIdError(EdgewiseError, ValueError):
    """An entity id is not of the form ``domain.object_id`` in lower-case ASCII."""

    def __init__(self, entity_id: str) -> None:
        super().__init__(
            f"Invalid entity id {entity_id!r}: expected 'domain.object_id' with lower-case "
            "letters, digits and underscores"
        )
        self.entity_id = entity_id


class ServiceNotFoundError(EdgewiseError):
    """A service call named a service that is not registered."""

    def __init__(self, domain: str, service: str) -> None:
        super().__init__(f"Service {domain}.{service} not found")
        self.domain = domain
        self.service = service


class ServiceValidationError(EdgewiseError):
    """A service was called with data its schema rejects.

    Attributes:
        domain, service: the service called.
        key: the dotted path of the offending field, if known.
    """

    def __init__(self, message: str, *, domain: str, service: str, key: str | None = None) -> None:
        super().__init__(message)
        self.domain = domain
        self.service = service
        self.key = key


class Unauthorized(EdgewiseError):
    """The user behind a request or a context may not do what it asked."""

    def __init__(self, message: str = "Unauthorized", *, user_id: str | None = None) -> None:
        super().__init__(message)
        self.user_id = user_id


class DeviceError(EdgewiseError):
    """Talking to a piece of equipment failed.

    Attributes:
        device: a human-readable name of the device (``plant-meter``, ``192.0.2.10:502``).
        address: the point, register or object on the device, if the error concerns one.
        code: the protocol's own error code, if it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        device: str,
        address: str | None = None,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.device = device
        self.address = address
        self.code = code


class DeviceConnectError(DeviceError):
    """The device could not be reached or the connection dropped."""


class DeviceProtocolError(DeviceError):
    """The device answered, but with an error or a malformed reply."""


class DeviceTimeout(DeviceError):
    """The device did not answer in time."""


class WriteOutOfBounds(DeviceError):
    """A write was refused before reaching the device because the value is outside its bounds."""


class TemplateError(EdgewiseError):
    """A template could not be compiled or rendered.

    The message names the template (its name, else the start of its source) and says why.

    Attributes:
        template: the template's name, or its source when it has none.
    """

    def __init__(self, message: str, *, template: str) -> None:
        super().__init__(message)
        self.template = template
