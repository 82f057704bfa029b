"""The ``input_datetime`` item schema, entity and services.

The value is kept as a naive local wall time in the site's time zone, as users think of it;
``timestamp`` turns it into an instant (date-only values at local midnight) or, for a time
without a date, into seconds since midnight, as Home Assistant does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, Final

import voluptuous as vol

from core import Runtime, ServiceCall, State, validators
from core.collection import (
    BASE_ITEM_FIELDS,
    Item,
    RestoringCollectionEntity,
    register_entity_service,
    service_error,
)
from core.entity import StateType

DOMAIN: Final = "input_datetime"

CONF_HAS_DATE: Final = "has_date"
CONF_HAS_TIME: Final = "has_time"
CONF_INITIAL: Final = "initial"

ATTR_DATE: Final = "date"
ATTR_TIME: Final = "time"
ATTR_DATETIME: Final = "datetime"
ATTR_TIMESTAMP: Final = "timestamp"

SERVICE_SET_DATETIME: Final = "set_datetime"

FMT_DATE: Final = "%Y-%m-%d"
FMT_TIME: Final = "%H:%M:%S"
FMT_DATETIME: Final = f"{FMT_DATE} {FMT_TIME}"


def parse_date(value: object) -> date:
    """A date, ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(validators.string(value).strip())
    except ValueError:
        raise vol.Invalid(f"expected a date YYYY-MM-DD, got {value!r}") from None


def parse_time(value: object) -> time:
    """A time of day, ``HH:MM`` or ``HH:MM:SS``."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(validators.string(value).strip())
    except ValueError:
        raise vol.Invalid(f"expected a time HH:MM[:SS], got {value!r}") from None


def parse_datetime(value: object) -> datetime:
    """A date and time, ``YYYY-MM-DD HH:MM[:SS]`` (a ``T`` and an offset are accepted)."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(validators.string(value).strip())
    except ValueError:
        raise vol.Invalid(f"expected a date and time YYYY-MM-DD HH:MM:SS, got {value!r}") from None


def _initial(config: dict[str, Any]) -> dict[str, Any]:
    """At least one of ``has_date``/``has_time``; ``initial`` normalised to fit them."""
    has_date, has_time = config[CONF_HAS_DATE], config[CONF_HAS_TIME]
    if not has_date and not has_time:
        raise vol.Invalid("at least one of has_date and has_time must be true", [CONF_HAS_DATE])
    initial = config.get(CONF_INITIAL)
    if initial is None:
        return config
    try:
        if has_date and has_time:
            config[CONF_INITIAL] = (
                parse_datetime(initial).replace(tzinfo=None).strftime(FMT_DATETIME)
            )
        elif has_date:
            config[CONF_INITIAL] = parse_date(initial).isoformat()
        else:
            config[CONF_INITIAL] = parse_time(initial).strftime(FMT_TIME)
    except vol.Invalid as err:
        raise vol.Invalid(str(err.msg), [CONF_INITIAL]) from None
    return config


ITEM_SCHEMA = vol.All(
    vol.Schema(
        {
            **BASE_ITEM_FIELDS,
            vol.Optional(CONF_HAS_DATE, default=False): validators.boolean,
            vol.Optional(CONF_HAS_TIME, default=False): validators.boolean,
            vol.Optional(CONF_INITIAL): vol.Any(str, date, time),
        }
    ),
    _initial,
)


class InputDatetime(RestoringCollectionEntity):
    """A date and/or time; starts at ``initial``, the restored value, or today at midnight."""

    domain = DOMAIN

    def __init__(self, item: Item) -> None:
        super().__init__(item)
        self._value: datetime | None = None

    @property
    def has_date(self) -> bool:
        """Whether the value has a date."""
        return bool(self.config[CONF_HAS_DATE])

    @property
    def has_time(self) -> bool:
        """Whether the value has a time of day."""
        return bool(self.config[CONF_HAS_TIME])

    @property
    def value(self) -> datetime:
        """The value as a naive local datetime (the date part is meaningless without a date)."""
        if self._value is None:
            self._value = self._default()
        return self._value

    def _default(self) -> datetime:
        initial = self.config.get(CONF_INITIAL)
        if initial is not None:
            return self._parse_state(str(initial))
        today = self.runtime.clock.now().astimezone(self.runtime.core.tzinfo).date()
        return datetime.combine(today, time())

    def _parse_state(self, text: str) -> datetime:
        if self.has_date and self.has_time:
            return datetime.strptime(text, FMT_DATETIME)
        if self.has_date:
            return datetime.combine(date.fromisoformat(text), time())
        return datetime.combine(date(1970, 1, 1), time.fromisoformat(text))

    @property
    def state(self) -> StateType:
        """``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD`` or ``HH:MM:SS``."""
        value = self.value
        if self.has_date and self.has_time:
            return value.strftime(FMT_DATETIME)
        if self.has_date:
            return value.strftime(FMT_DATE)
        return value.strftime(FMT_TIME)

    @property
    def helper_attributes(self) -> dict[str, Any]:
        """``has_date``, ``has_time``, the parts of the value, and ``timestamp``."""
        value = self.value
        attrs: dict[str, Any] = {CONF_HAS_DATE: self.has_date, CONF_HAS_TIME: self.has_time}
        if self.has_date:
            attrs.update(year=value.year, month=value.month, day=value.day)
        if self.has_time:
            attrs.update(hour=value.hour, minute=value.minute, second=value.second)
        if self.has_date:
            local = value.replace(tzinfo=self.runtime.core.tzinfo)
            attrs[ATTR_TIMESTAMP] = local.timestamp()
        else:
            attrs[ATTR_TIMESTAMP] = value.hour * 3600 + value.minute * 60 + value.second
        return attrs

    def restore(self, state: State, extra_data: Mapping[str, Any] | None) -> None:
        """Take the last value back when it parses with the current has_date/has_time."""
        if state.available:
            self._value = self._parse_state(state.state)

    def set_datetime(self, call: ServiceCall) -> None:
        """Set the parts the call gives (those the entity has) and write the state.

        Raises:
            ServiceValidationError: the call sets nothing this entity has.
        """
        data = call.data
        new_date: date | None = data.get(ATTR_DATE)
        new_time: time | None = data.get(ATTR_TIME)
        moment: datetime | None = data.get(ATTR_DATETIME)
        if ATTR_TIMESTAMP in data:
            moment = datetime.fromtimestamp(data[ATTR_TIMESTAMP], UTC)
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(self.runtime.core.tzinfo).replace(tzinfo=None)
            new_date, new_time = moment.date(), moment.time()
        if not self.has_date:
            new_date = None
        if not self.has_time:
            new_time = None
        if new_date is None and new_time is None:
            raise service_error(
                call,
                f"nothing to set on {self.entity_id}, which has "
                f"{'a date' if self.has_date else 'no date'} and "
                f"{'a time' if self.has_time else 'no time'}",
            )
        current = self.value
        self._value = datetime.combine(
            new_date if new_date is not None else current.date(),
            (new_time if new_time is not None else current.time()).replace(microsecond=0),
        )
        self.write_state()


def _one_way(data: dict[str, Any]) -> dict[str, Any]:
    """``datetime`` or ``timestamp`` alone, or ``date``/``time``; at least one."""
    given = [key for key in (ATTR_DATE, ATTR_TIME, ATTR_DATETIME, ATTR_TIMESTAMP) if key in data]
    if not given:
        raise vol.Invalid("one of date, time, datetime or timestamp is required")
    whole = [key for key in given if key in (ATTR_DATETIME, ATTR_TIMESTAMP)]
    if whole and len(given) > 1:
        raise vol.Invalid(
            f"{whole[0]} cannot be combined with {', '.join(set(given) - {whole[0]})}"
        )
    return data


SET_DATETIME_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Optional(ATTR_DATE): parse_date,
            vol.Optional(ATTR_TIME): parse_time,
            vol.Optional(ATTR_DATETIME): parse_datetime,
            vol.Optional(ATTR_TIMESTAMP): vol.Coerce(float),
        }
    ),
    _one_way,
)


def register_services(runtime: Runtime) -> None:
    """Register ``set_datetime``."""

    def set_datetime(entity: InputDatetime, call: ServiceCall) -> None:
        entity.set_datetime(call)

    register_entity_service(
        runtime, InputDatetime, SERVICE_SET_DATETIME, SET_DATETIME_SCHEMA, set_datetime
    )
