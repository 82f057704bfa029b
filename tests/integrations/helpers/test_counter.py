"""``counter`` in a real Runtime: step, bounds, reset, set_value, restore."""

from __future__ import annotations

import pytest

from core.errors import ServiceValidationError
from core.runtime import Runtime
from tests.integrations.helpers.conftest import Site, attrs_of, state_of

YAML = """\
counter:
  doors:
    name: Doors
    initial: 2
    step: 3
    minimum: 0
    maximum: 10
  volatile:
    restore: false
"""


async def call(
    runtime: Runtime, service: str, entity: str = "counter.doors", **data: object
) -> None:
    await runtime.services.call("counter", service, {"entity_id": entity, **data})


async def test_attributes(site: Site) -> None:
    async with site(YAML) as runtime:
        assert state_of(runtime, "counter.doors") == "2"
        assert attrs_of(runtime, "counter.doors") == {
            "initial": 2,
            "step": 3,
            "minimum": 0,
            "maximum": 10,
            "editable": False,
            "friendly_name": "Doors",
        }
        assert attrs_of(runtime, "counter.volatile") == {"initial": 0, "step": 1, "editable": False}


async def test_increment_decrement_stop_at_bounds_and_reset(site: Site) -> None:
    async with site(YAML) as runtime:
        for expected in ("5", "8", "10", "10"):
            await call(runtime, "increment")
            assert state_of(runtime, "counter.doors") == expected
        await call(runtime, "reset")
        assert state_of(runtime, "counter.doors") == "2"
        await call(runtime, "decrement")
        assert state_of(runtime, "counter.doors") == "0"
        await call(runtime, "decrement", "counter.volatile")
        assert state_of(runtime, "counter.volatile") == "-1"


async def test_set_value_checks_the_bounds(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "set_value", value=7)
        assert state_of(runtime, "counter.doors") == "7"
        with pytest.raises(ServiceValidationError) as caught:
            await call(runtime, "set_value", value=11)
        assert "counter.doors" in str(caught.value)
        assert "0 to 10" in str(caught.value)
        with pytest.raises(ServiceValidationError, match="expected an integer"):
            await call(runtime, "set_value", value=2.5)
        assert state_of(runtime, "counter.doors") == "7"


async def test_restore_follows_the_restore_option(site: Site) -> None:
    async with site(YAML) as runtime:
        await call(runtime, "set_value", value=9)
        await call(runtime, "set_value", "counter.volatile", value=4)
    async with site(YAML) as runtime:
        assert state_of(runtime, "counter.doors") == "9"
        assert state_of(runtime, "counter.volatile") == "0"
    async with site(YAML.replace("maximum: 10", "maximum: 5")) as runtime:
        assert state_of(runtime, "counter.doors") == "5"  # clamped to the new bound


async def test_initial_outside_bounds_is_reported(site: Site) -> None:
    async with site("counter:\n  bad:\n    initial: 20\n    maximum: 10\n") as runtime:
        assert runtime.states.get("counter.bad") is None
        assert runtime.config is not None
        (issue,) = [i for i in runtime.config.issues if i.key == "counter.bad.initial"]
        assert "outside the range" in issue.message
