"""The ``homeassistant.*`` services: dispatch to each domain, roles per domain, system controls."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.auth import Permission
from core.auth.models import Role
from core.const import EVENT_CORE_CONFIG_UPDATE, RESTART_EXIT_CODE
from core.context import Context
from core.core_services import CHECK_CONFIG_NOTIFICATION
from core.errors import EdgewiseError, ServiceValidationError, Unauthorized
from core.services import ServiceCall
from tests.automations.conftest import site


async def test_turn_on_calls_each_domains_own_service_with_the_same_data_and_context(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, "") as s:
        for entity_id in ("light.desk", "switch.fan", "switch.pump", "sensor.t"):
            s.set(entity_id, "off")
        context = Context()
        await s.runtime.services.call(
            "homeassistant",
            "turn_on",
            {"brightness": 80},
            target={"entity_id": ["light.desk", "switch.fan", "switch.pump", "sensor.t"]},
            context=context,
        )
        by_service = {(c.domain, c.service): c for c in s.calls}
        assert set(by_service) == {("light", "turn_on"), ("switch", "turn_on")}
        assert by_service["light", "turn_on"].target.entity_ids == {"light.desk"}
        assert by_service["switch", "turn_on"].target.entity_ids == {"switch.fan", "switch.pump"}
        assert all(c.data == {"brightness": 80} for c in s.calls)
        assert all(c.context is context for c in s.calls)


async def test_generic_service_without_a_target_is_refused(tmp_path: Path) -> None:
    async with site(tmp_path, "") as s:
        with pytest.raises(ServiceValidationError, match="without a target"):
            await s.runtime.services.call("homeassistant", "toggle")


async def test_automation_with_homeassistant_turn_off_loads_and_runs(tmp_path: Path) -> None:
    yaml = """\
    automation:
      - id: lights_out
        triggers: [{trigger: state, entity_id: sensor.door, to: "closed"}]
        actions:
          - action: homeassistant.turn_off
            target: {entity_id: [light.hall, switch.fan]}
    """
    async with site(tmp_path, yaml) as s:
        assert set(s.manager.automations) == {"lights_out"}
        s.set("light.hall", "on")
        s.set("switch.fan", "on")
        s.set("sensor.door", "closed")
        await s.wait_for(lambda: len(s.calls) == 2)
        assert {(c.domain, c.service) for c in s.calls} == {
            ("light", "turn_off"),
            ("switch", "turn_off"),
        }


async def test_caller_role_is_checked_against_each_target_domains_service(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, "") as s:
        runtime = s.runtime

        def guarded(call: ServiceCall) -> None:
            s.calls.append(call)

        runtime.services.register("vault", "turn_on", guarded, permission=Permission.ADMIN)
        s.set("vault.door", "off")
        s.set("light.desk", "off")
        auth = runtime.http.auth
        operator = await auth.create_user("op", "operator-pw", role=Role.OPERATOR)
        admin = await auth.create_user("boss", "admin-pw-1", role=Role.ADMIN)
        target = {"entity_id": ["vault.door", "light.desk"]}
        with pytest.raises(Unauthorized, match=r"vault\.turn_on"):
            await runtime.services.call(
                "homeassistant", "turn_on", target=target, context=Context(user_id=operator.id)
            )
        assert s.calls == []  # refused before anything was called
        await runtime.services.call(
            "homeassistant", "turn_on", target=target, context=Context(user_id=admin.id)
        )
        assert {c.domain for c in s.calls} == {"vault", "light"}


async def test_system_services_need_admin_and_set_location_moves_the_site(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, "") as s:
        services = s.runtime.services
        for name in ("reload_core_config", "reload_all", "check_config", "stop", "restart"):
            assert services.get("homeassistant", name).permission is Permission.ADMIN
        assert services.get("homeassistant", "turn_on").permission is Permission.CONTROL
        updates = s.events(EVENT_CORE_CONFIG_UPDATE)
        await services.call(
            "homeassistant", "set_location", {"latitude": "48.85", "longitude": 2.35}
        )
        assert (s.runtime.core.latitude, s.runtime.core.longitude) == (48.85, 2.35)
        await s.settle()
        assert len(updates) == 1
        with pytest.raises(ServiceValidationError, match="latitude"):
            await services.call("homeassistant", "set_location", {"latitude": 91, "longitude": 0})


async def test_check_config_reports_errors_and_restart_refuses_an_invalid_configuration(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, "") as s:
        await s.runtime.services.call("homeassistant", "check_config")
        (tmp_path / "configuration.yaml").write_text(
            (tmp_path / "configuration.yaml").read_text() + "input_boolean:\n  bad id: 3\n"
        )
        with pytest.raises(EdgewiseError, match="configuration is not valid"):
            await s.runtime.services.call("homeassistant", "check_config")
        assert s.runtime.notifications.get(CHECK_CONFIG_NOTIFICATION) is not None
        with pytest.raises(EdgewiseError, match="configuration is not valid"):
            await s.runtime.services.call("homeassistant", "restart")
        assert s.runtime.exit_code == 0


async def test_restart_stops_with_the_restart_exit_code(tmp_path: Path) -> None:
    async with site(tmp_path, "") as s:
        await s.runtime.services.call("homeassistant", "restart")
        assert s.runtime.exit_code == RESTART_EXIT_CODE
