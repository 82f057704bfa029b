"""The obvious effects of service calls, written to the replay's state so later steps see them.

Only effects that follow from the call alone are simulated: on/off/toggle of switch-like
domains, ``set_value`` of numbers, ``select_option``, a climate's target temperature and HVAC
mode, a cover opened or closed, a lock locked. Anything else is recorded but not simulated.
Each simulated change is returned (entity, old and new state) for the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from core.const import STATE_OFF, STATE_ON
from core.context import Context

if TYPE_CHECKING:
    from core.services import ServiceCall
    from core.state import StateMachine

#: Domains whose turn_on / turn_off / toggle simply switch the state.
SWITCHING_DOMAINS = frozenset(
    {"switch", "light", "fan", "input_boolean", "automation", "siren", "humidifier", "climate"}
)

_Effect = Callable[[str, Mapping[str, Any], Mapping[str, Any]], tuple[str, dict[str, Any]] | None]


def _turn(value: str) -> _Effect:
    def effect(
        state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        attrs = dict(attributes)
        if value == STATE_ON:
            for key in ("brightness", "brightness_pct", "color_temp_kelvin", "percentage"):
                if key in data:
                    attrs[key] = data[key]
        return value, attrs

    return effect


def _toggle(
    state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    return (STATE_OFF if state == STATE_ON else STATE_ON), dict(attributes)


def _set_value(
    state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    if "value" not in data:
        return None
    return str(data["value"]), dict(attributes)


def _select_option(
    state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    if "option" not in data:
        return None
    return str(data["option"]), dict(attributes)


def _set_temperature(
    state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    attrs = dict(attributes)
    for key in ("temperature", "target_temp_low", "target_temp_high"):
        if key in data:
            attrs[key] = data[key]
    new_state = str(data["hvac_mode"]) if "hvac_mode" in data else state
    return new_state, attrs


def _set_hvac_mode(
    state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    if "hvac_mode" not in data:
        return None
    return str(data["hvac_mode"]), dict(attributes)


def _fixed(value: str) -> _Effect:
    def effect(
        state: str, attributes: Mapping[str, Any], data: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        return value, dict(attributes)

    return effect


#: (domain, service) → effect; domain "*" applies to every switching domain.
EFFECTS: dict[tuple[str, str], _Effect] = {
    ("*", "turn_on"): _turn(STATE_ON),
    ("*", "turn_off"): _turn(STATE_OFF),
    ("*", "toggle"): _toggle,
    ("number", "set_value"): _set_value,
    ("input_number", "set_value"): _set_value,
    ("input_text", "set_value"): _set_value,
    ("input_select", "select_option"): _select_option,
    ("select", "select_option"): _select_option,
    ("climate", "set_temperature"): _set_temperature,
    ("climate", "set_hvac_mode"): _set_hvac_mode,
    ("water_heater", "set_temperature"): _set_temperature,
    ("cover", "open_cover"): _fixed("open"),
    ("cover", "close_cover"): _fixed("closed"),
    ("lock", "lock"): _fixed("locked"),
    ("lock", "unlock"): _fixed("unlocked"),
}


def effect_of(domain: str, service: str, entity_domain: str) -> _Effect | None:
    """The simulated effect of ``domain.service`` on an entity of ``entity_domain``, if any."""
    if domain in {"homeassistant", "edgewise"}:
        domain = entity_domain
    if domain != entity_domain:
        return None
    found = EFFECTS.get((domain, service))
    if found is None and domain in SWITCHING_DOMAINS:
        found = EFFECTS.get(("*", service))
    return found


def simulate(states: StateMachine, call: ServiceCall, timestamp: float) -> list[dict[str, Any]]:
    """Write the obvious effect of ``call`` on each targeted entity; the changes made."""
    changes: list[dict[str, Any]] = []
    for entity_id in sorted(call.target.entity_ids):
        current = states.get(entity_id)
        if current is None:
            continue
        effect = effect_of(call.domain, call.service, current.domain)
        if effect is None:
            continue
        result = effect(current.state, current.attributes, call.data)
        if result is None:
            continue
        new_state, attributes = result
        states.set(
            entity_id,
            new_state,
            attributes,
            context=Context(parent_id=call.context.id),
            timestamp=timestamp,
        )
        changes.append({"entity_id": entity_id, "from": current.state, "to": new_state})
    return changes
