"""The site overview, equipment pages, thermostat card and history page, in a real browser.

The site is the simulator's building and home (zones, AHU, chillers, meters), with its meters
also served on Modbus TCP and read back by the ``modbus`` integration (a Modbus device of its
own), and the recorder on SQLite. Yesterday's and today's history is written into the recorder's
database and compiled into statistics by the recorder's own compile, as if the site had been
running since yesterday.

Each test saves desktop (1280 by 800, light and dark) and phone (390 by 844, dark) screenshots into
``tests/frontend/screenshots/`` (git-ignored) and prints the folder.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from core.auth import Role
from core.const import CoreState
from core.runtime import Runtime
from integrations.recorder.statistics import short_term_period_start
from integrations.recorder.statistics_compile import compile_statistics
from integrations.recorder.statistics_query import statistics_during_period
from integrations.recorder.util import attrs_hash, json_dumps
from tests._helpers import free_port, wait_for
from tests.frontend.test_panel_browser import TIMEOUT, log_in
from tests.integrations.recorder.conftest import recorder_of

SHOTS = Path(__file__).parent / "screenshots"
TZ = ZoneInfo("Europe/Amsterdam")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse"

SITE = """\
edgewise:
  name: Test site
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  time_zone: Europe/Amsterdam
  unit_system: metric
http:
  server_host: 127.0.0.1
  server_port: 0
recorder:
  commit_interval: 0
simulator:
  seed: 42
  update_interval: 300
  modbus: {{host: 127.0.0.1, port: {port}}}
modbus:
  - name: BMS gateway
    type: tcp
    host: 127.0.0.1
    port: {port}
    timeout: 2
    sensors:
      - {{name: Building power, unique_id: bms_building_power, slave: 1, address: 0,
         input_type: input, data_type: float32, unit_of_measurement: W, device_class: power,
         state_class: measurement, scan_interval: 5}}
      - {{name: Building energy, unique_id: bms_building_energy, slave: 1, address: 2,
         input_type: input, data_type: float32, unit_of_measurement: kWh, device_class: energy,
         state_class: total_increasing, scan_interval: 5}}
      # A second device: its electric power and a cooling load (3 times the house meter's
      # power, in kW), so that its page derives COP and kW/ton from values read over Modbus.
      - {{name: Power, unique_id: bms_unit_power, slave: 2, address: 0, input_type: input,
         data_type: float32, unit_of_measurement: W, device_class: power, scan_interval: 5}}
      - {{name: Cooling load, unique_id: bms_unit_load, slave: 2, address: 0, input_type: input,
         data_type: float32, scale: 0.003, precision: 3, unit_of_measurement: kW,
         device_class: power, scan_interval: 5}}
"""
METERS = ("sensor.main_meter_energy", "sensor.house_meter_energy")
ENERGY_ATTRS = {
    "state_class": "total_increasing",
    "device_class": "energy",
    "unit_of_measurement": "kWh",
}


@dataclass
class SimSite:
    """The running simulated site and its address."""

    runtime: Runtime
    url: str
    #: Each seeded meter's reading at the start of today (local) and at its last seeded row.
    readings: dict[str, tuple[float, float]]


def local_midnight(days_ago: int = 0) -> datetime:
    """The start of today (or of a day before) in the site's time zone."""
    day = datetime.now(TZ) - timedelta(days=days_ago)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


async def write_states(
    runtime: Runtime, entity_id: str, rows: list[tuple[datetime, str, dict[str, Any]]]
) -> None:
    """Write ``(when, state, attributes)`` rows of one entity into the recorder's database."""
    recorder = recorder_of(runtime)
    async with recorder.write_transaction() as conn:
        metadata_id = await conn.scalar(
            "SELECT metadata_id FROM states_meta WHERE entity_id = :entity_id",
            {"entity_id": entity_id},
        )
        if metadata_id is None:
            metadata_id = await conn.scalar(
                "INSERT INTO states_meta (entity_id) VALUES (:entity_id) RETURNING metadata_id",
                {"entity_id": entity_id},
            )
        attribute_ids: dict[str, int] = {}
        for when, state, attributes in rows:
            shared = json_dumps(attributes)
            if shared not in attribute_ids:
                attribute_ids[shared] = await conn.scalar(
                    "INSERT INTO state_attributes (hash, shared_attrs) VALUES (:hash, :shared) "
                    "RETURNING attributes_id",
                    {"hash": attrs_hash(shared), "shared": shared},
                )
            await conn.execute(
                "INSERT INTO states (metadata_id, state, attributes_id, last_updated_ts) "
                "VALUES (:metadata_id, :state, :attributes_id, :ts)",
                {
                    "metadata_id": metadata_id,
                    "state": state,
                    "attributes_id": attribute_ids[shared],
                    "ts": when.timestamp(),
                },
            )


async def seed_history(runtime: Runtime) -> dict[str, tuple[float, float]]:
    """Yesterday and today until 10 minutes ago: zone 1, outdoor temperature, the two meters.

    Then compile every 5-minute period since yesterday's midnight, as the recorder does (hours
    and days follow from them). Answers each meter's reading at today's midnight and its last.
    """
    start = local_midnight(1)
    end = datetime.now(TZ) - timedelta(minutes=10)
    steps = int((end - start).total_seconds() // 300)
    zone: list[tuple[datetime, str, dict[str, Any]]] = []
    outdoor: list[tuple[datetime, str, dict[str, Any]]] = []
    zone_attrs = runtime.states.get("climate.zone_1")
    assert zone_attrs is not None
    for n in range(0, steps, 6):  # every 30 minutes
        when = start + timedelta(minutes=5 * n)
        hour = when.astimezone(TZ).hour + when.minute / 60
        target = 21.0 if 7 <= hour < 19 else 17.0
        current = target - 1.5 + 1.5 * math.sin(hour / 24 * 2 * math.pi) + 0.5
        attrs = dict(zone_attrs.attributes)
        attrs.update(current_temperature=round(current, 1), temperature=target)
        zone.append((when, "auto", attrs))
        out = 4 + 5 * math.sin((hour - 9) / 24 * 2 * math.pi)
        outdoor.append(
            (
                when,
                f"{out:.1f}",
                {
                    "unit_of_measurement": "°C",
                    "device_class": "temperature",
                    "state_class": "measurement",
                    "friendly_name": "Simulator Outdoor temperature",
                },
            )
        )
    await write_states(runtime, "climate.zone_1", zone)
    await write_states(runtime, "sensor.simulator_outdoor_temperature", outdoor)
    readings: dict[str, tuple[float, float]] = {}
    today = local_midnight()
    for k, meter in enumerate(METERS):
        rows = []
        at_midnight = 0.0
        value = 1000.0 * (k + 1)
        for n in range(steps + 1):
            when = start + timedelta(minutes=5 * n)
            hour = when.astimezone(TZ).hour
            value += (0.8 if 8 <= hour < 20 else 0.2) / (k + 1)
            if when < today:  # the reading the day starts from: the last one before midnight
                at_midnight = value
            rows.append((when, f"{value:.3f}", ENERGY_ATTRS))
        await write_states(runtime, meter, rows)
        readings[meter] = (round(at_midnight, 3), round(value, 3))
    recorder = recorder_of(runtime)
    period = short_term_period_start(start)
    last = short_term_period_start(datetime.now(TZ)) - timedelta(minutes=5)
    while period <= last:
        await compile_statistics(recorder, period)
        period += timedelta(minutes=5)
    return readings


@pytest_asyncio.fixture
async def sim_site(tmp_path: Path) -> AsyncIterator[SimSite]:
    """The simulated site with a day and a bit of history, and three users."""
    port = free_port()
    (tmp_path / "configuration.yaml").write_text(SITE.format(port=port), encoding="utf-8")
    runtime = Runtime(tmp_path)
    await runtime.start()
    auth = runtime.http.auth
    await auth.create_user("ada", PASSWORD, name="Ada Owner")
    await auth.create_user("olga", PASSWORD, name="Olga Operator", role=Role.OPERATOR)
    await auth.create_user("vic", PASSWORD, name="Vic Viewer", role=Role.VIEWER)

    def modbus_read() -> bool:
        state = runtime.states.get("sensor.building_power")
        return state is not None and state.state not in ("unavailable", "unknown")

    await wait_for(modbus_read, "the Modbus meters read", within=30)
    readings = await seed_history(runtime)
    yield SimSite(runtime, f"http://127.0.0.1:{runtime.http.port}", readings)
    if runtime.state is not CoreState.NOT_RUNNING:
        await runtime.stop()


async def open_as(
    browser: Browser, site: SimSite, user: str, path: str = "/"
) -> tuple[Page, list[str]]:
    """A desktop page in the site's time zone, logged in as ``user``, and its errors."""
    page = await browser.new_page(viewport=DESKTOP, timezone_id="Europe/Amsterdam")
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(site.url + path)
    await log_in(page, user, PASSWORD)
    return page, errors


async def shoot(page: Page, name: str) -> None:
    """Desktop (light, full page; dark, the first screen) and phone (dark) screenshots."""
    SHOTS.mkdir(exist_ok=True)
    # Rows off screen are not painted (content-visibility); a full-page picture wants them all.
    await page.add_style_tag(content="li.entity { content-visibility: visible !important; }")
    await page.evaluate("window.scrollTo(0, 0)")
    await page.set_viewport_size(DESKTOP)
    await page.emulate_media(color_scheme="light")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
    await page.emulate_media(color_scheme="dark")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(SHOTS / f"{name}-desktop-dark.png"))
    await page.set_viewport_size(PHONE)
    await page.emulate_media(color_scheme="dark")
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(SHOTS / f"{name}-phone-dark.png"), full_page=True)
    await page.screenshot(path=str(SHOTS / f"{name}-phone-dark-top.png"))
    # The phone layout must not scroll sideways.
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    await page.set_viewport_size(DESKTOP)
    await page.emulate_media(color_scheme="light")
    print(f"screenshots: {SHOTS}/{name}-*.png")
    assert overflow <= 1, f"{name}: the phone page is {overflow} px wider than the screen"


def number(value: float, digits: int) -> str:
    """``value`` as the panel shows it (en-US, at most ``digits`` decimals, grouped)."""
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def state_of(site: SimSite, entity_id: str) -> str:
    state = site.runtime.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


# --- overview ------------------------------------------------------------------------------------


async def test_overview_summary_matches_the_states_with_areas_in_friendly_groups(
    sim_site: SimSite, browser: Browser
) -> None:
    sim_site.runtime.notifications.create("House power high", notification_id="power_high")
    sim_site.runtime.notifications.create("Filter due", notification_id="ahu_filter")
    page, errors = await open_as(browser, sim_site, "ada")
    summary = page.locator("section.summary")
    await expect(summary.locator("[data-metric='alarms'] .metric-value")).to_have_text("2")

    # Total power: the site's electricity meters (chosen by device), in kW.
    main_kw = float(state_of(sim_site, "sensor.main_meter_power"))
    house_kw = float(state_of(sim_site, "sensor.house_meter_power")) / 1000
    await expect(summary.locator("[data-metric='power'] .metric-value")).to_have_text(
        f"{number(main_kw + house_kw, 2)} kW"
    )
    await expect(summary.locator("[data-metric='power'] .metric-sub")).to_have_text("2 meters")
    # Outdoor temperature: the temperature sensor of the outdoors.
    await expect(summary.locator("[data-metric='outdoor'] .metric-value")).to_have_text(
        f"{state_of(sim_site, 'sensor.simulator_outdoor_temperature')} °C"
    )
    # Plant: the switches of the AHU, the chillers and the home's heat pump (by device model).
    plant = ["switch.ahu_fan", "switch.heat_pump_plug"]
    plant += [f"switch.chiller_{n}_enable" for n in (1, 2, 3)]
    running = sum(state_of(sim_site, e) == "on" for e in plant)
    await expect(summary.locator("[data-metric='plant'] .metric-value")).to_have_text(
        f"{running} of 5 running"
    )
    # Energy today: what the meters used since midnight, as their compiled statistics say (the
    # meters' live readings restarted from 0, which counts as a meter change, not as use).
    expected = 0.0
    for meter in METERS:
        at_midnight, last = sim_site.readings[meter]
        expected += last - at_midnight
    shown = summary.locator("[data-metric='energy'] .metric-value")
    await expect(shown).to_have_text(f"{number(expected, 2)} kWh")

    # Areas: the registry's order, icons, friendly group names, equipment links.
    plant_room = page.locator("section.area[data-area='plant_room']")
    await expect(plant_room.locator("h2")).to_have_text("Plant room")
    await expect(plant_room.locator("svg.icon")).to_be_visible()
    await expect(plant_room.locator(".domain[data-domain='switch'] h3")).to_have_text("Switches")
    await expect(plant_room.locator(".domain[data-domain='sensor'] h3")).to_have_text("Sensors")
    titles = set(await page.locator("section.area h3").all_text_contents())
    assert {"Sensors", "Switches", "Climate", "Status"} <= titles, titles
    assert not titles & {"sensor", "switch", "binary_sensor", "climate", "number"}, titles
    await expect(plant_room.get_by_role("link", name="AHU", exact=True)).to_be_visible()
    zone = page.locator("section.area[data-area='zone_1']")
    await expect(zone.locator(".thermostat")).to_be_visible()
    # No card is much taller than what it holds.
    heights = await page.evaluate(
        """[...document.querySelectorAll('section.area')].map((s) => {
            const last = s.lastElementChild.getBoundingClientRect();
            return s.getBoundingClientRect().bottom - last.bottom; })"""
    )
    assert max(heights) < 40, heights
    await shoot(page, "overview")
    assert not errors, errors


async def test_arranged_layout_is_kept_for_that_user_after_reload_and_not_for_another(
    sim_site: SimSite, browser: Browser
) -> None:
    page, errors = await open_as(browser, sim_site, "olga")
    areas = page.locator("section.area")
    await expect(areas.first).to_be_visible()
    before = await areas.evaluate_all("(s) => s.map((e) => e.dataset.area)")
    assert "kitchen" in before
    assert "garage" in before

    await page.get_by_role("button", name="Arrange").click()
    # Kitchen to the top, the garage hidden, the outdoor sensor only as the summary's.
    for _ in range(before.index("kitchen")):
        await page.get_by_role("button", name="Move Kitchen up").click()
    await page.get_by_role("button", name="Hide Garage").click()
    await page.get_by_label("Total power: the meters to add up").select_option(
        ["sensor.main_meter_power"]
    )
    await shoot(page, "overview-arranging")
    await page.get_by_role("button", name="Save layout").click()
    await expect(page.locator("#toast")).to_have_text("Layout saved")
    await expect(areas.first).to_have_attribute("data-area", "kitchen")
    await expect(page.locator("section.area[data-area='garage']")).to_have_count(0)

    await page.reload()
    await expect(areas.first).to_have_attribute("data-area", "kitchen")
    await expect(page.locator("section.area[data-area='garage']")).to_have_count(0)
    await expect(page.locator("[data-metric='power'] .metric-sub")).to_have_text("1 meter")
    stored = sim_site.runtime.http.user_data
    olga = next(u for u in sim_site.runtime.http.auth.data.users.values() if u.username == "olga")
    saved = (await stored.get(olga.id))["overview"]
    assert saved["order"][0] == "kitchen"
    assert saved["hidden"] == ["garage"]
    assert saved["summary"]["power"] == ["sensor.main_meter_power"]

    # Another user keeps the default: the registry's order, every area.
    other, other_errors = await open_as(browser, sim_site, "vic")
    await expect(other.locator("section.area").first).to_be_visible()
    theirs = await other.locator("section.area").evaluate_all("(s) => s.map((e) => e.dataset.area)")
    assert theirs == before
    await expect(other.locator("[data-metric='power'] .metric-sub")).to_have_text("2 meters")
    # The viewer sees thermostats as values: no control inside the area cards.
    assert await other.locator(".areas input, .areas select, .areas button").count() == 0
    await shoot(other, "overview-viewer")
    assert not errors, errors
    assert not other_errors, other_errors


# --- equipment -----------------------------------------------------------------------------------


async def test_the_ahu_page_shows_supply_air_against_its_setpoint_controls_and_trends(
    sim_site: SimSite, browser: Browser
) -> None:
    page, errors = await open_as(browser, sim_site, "ada")
    await (
        page.locator("section.area[data-area='plant_room']")
        .get_by_role("link", name="AHU", exact=True)
        .click()
    )
    await expect(page.get_by_role("heading", name="AHU", level=1)).to_be_visible()
    await expect(page.locator(".device-facts")).to_contain_text("Air-handling unit")
    supply = page.locator(".kv[data-entity-id='sensor.ahu_supply_air_temperature']")
    value = float(state_of(sim_site, "sensor.ahu_supply_air_temperature"))
    setpoint = float(state_of(sim_site, "number.ahu_supply_air_setpoint"))
    await expect(supply.locator(".kv-value")).to_have_text(f"{number(value, 1)} °C")
    await expect(supply.locator(".kv-sub")).to_contain_text(f"setpoint {number(setpoint, 1)} °C")
    await expect(page.locator(".kv[data-entity-id='sensor.ahu_cooling_load']")).to_contain_text(
        "kW"
    )
    await expect(page.locator(".badge", has_text="Running")).to_be_visible()
    # The operator's controls: the fan switch and the setpoint.
    controls = page.locator("section[data-role='controls']")
    await expect(controls.get_by_role("switch", name="AHU Fan: on or off")).to_be_checked()
    await expect(page.locator("#trend-h")).to_be_visible()
    await expect(page.locator(".chart .uplot")).to_be_visible()
    assert "°C" in (await page.locator(".chart").get_attribute("data-units") or "")
    await shoot(page, "equipment-ahu")

    # The setpoint is changed from the page, and the key value follows.
    box = controls.locator("li[data-entity-id='number.ahu_supply_air_setpoint'] input")
    await box.fill("14")
    await box.press("Enter")
    await expect(supply.locator(".kv-sub")).to_contain_text("setpoint 14 °C")
    assert state_of(sim_site, "number.ahu_supply_air_setpoint") == "14.0"

    # A chiller: its own COP and kW/ton, no derived copies of them.
    await page.goto(sim_site.url + "/#/overview")
    await (
        page.locator("section.area[data-area='plant_room']")
        .get_by_role("link", name="Chiller 1", exact=True)
        .click()
    )
    await expect(page.get_by_role("heading", name="Chiller 1", level=1)).to_be_visible()
    await expect(page.locator("section[data-role='performance']")).to_contain_text("kW/ton")
    assert await page.locator(".kv.derived").count() == 0
    await shoot(page, "equipment-chiller")
    chiller = page.url.split("/", 3)[3]

    # A zone: its thermostat, and its trend with the setpoint as a dashed line.
    zone = sim_site.runtime.entity_registry.get("climate.zone_1")
    assert zone is not None
    await page.goto(f"{sim_site.url}/#/device/{zone.device_id}")
    await expect(page.get_by_role("heading", name="Zone 1", level=1)).to_be_visible()
    await expect(page.locator("section[data-role='climate'] .thermostat")).to_be_visible()
    await expect(page.locator(".kv[data-entity-id='climate.zone_1']")).to_contain_text("setpoint")
    await expect(page.locator(".chart .uplot")).to_be_visible()
    assert "Zone 1 setpoint:dashed" in (
        await page.locator(".chart").get_attribute("data-series") or ""
    )
    await shoot(page, "equipment-zone")

    # A viewer sees the values and no control.
    viewer, viewer_errors = await open_as(browser, sim_site, "vic", chiller)
    await expect(viewer.get_by_role("heading", name="Chiller 1", level=1)).to_be_visible()
    assert await viewer.locator("main input, main select, main button").count() == 0
    assert not errors, errors
    assert not viewer_errors, viewer_errors


async def test_a_modbus_device_gets_its_equipment_page_from_the_device_registry(
    sim_site: SimSite, browser: Browser
) -> None:
    runtime = sim_site.runtime
    entry = runtime.entity_registry.get("sensor.building_power")
    assert entry is not None
    assert entry.device_id is not None
    page, errors = await open_as(browser, sim_site, "ada", f"/#/entity/{entry.entity_id}")
    await page.locator("#device-link").click()
    await expect(page.get_by_role("heading", name="BMS gateway device 1", level=1)).to_be_visible()
    await expect(page.locator(".device-facts")).to_contain_text("Modbus device")
    await expect(page.locator(".device-facts")).to_contain_text("via modbus")
    power = page.locator(".kv[data-entity-id='sensor.building_power']")
    await expect(power).to_contain_text(" W")
    energy = page.locator("section[data-role='energy'] li[data-entity-id='sensor.building_energy']")
    await expect(energy).to_contain_text("kWh")
    await shoot(page, "equipment-modbus")
    # No load on this one: nothing is derived.
    assert await page.locator(".kv.derived").count() == 0

    # The second device has a cooling load and an electric power: COP and kW/ton are derived,
    # with their units and inputs named.
    unit = runtime.entity_registry.get("sensor.cooling_load")
    assert unit is not None
    await page.goto(f"{sim_site.url}/#/device/{unit.device_id}")
    await expect(page.get_by_role("heading", name="BMS gateway device 2", level=1)).to_be_visible()
    derived = page.locator(".kv.derived")
    await expect(derived).to_have_count(2)
    power_w = float(state_of(sim_site, "sensor.power"))
    load_kw = float(state_of(sim_site, "sensor.cooling_load"))
    await expect(derived.nth(0)).to_contain_text(
        f"COP (derived){number(load_kw / (power_w / 1000), 2)}"
    )
    await expect(derived.nth(1)).to_contain_text(
        f"{number((power_w / 1000) / (load_kw / 3.51685), 3)} kW/ton"
    )
    await expect(derived.nth(1)).to_contain_text("from Cooling load and Power")
    await shoot(page, "equipment-derived")
    assert not errors, errors


# --- thermostat ----------------------------------------------------------------------------------


async def test_thermostat_steps_by_its_step_and_a_refused_value_snaps_back_with_the_reason(
    sim_site: SimSite, browser: Browser
) -> None:
    runtime = sim_site.runtime
    page, errors = await open_as(browser, sim_site, "olga", "/#/entity/climate.zone_2")
    card = page.locator(".thermostat[data-entity-id='climate.zone_2']")
    state = runtime.states.get("climate.zone_2")
    assert state is not None
    target = float(state.attributes["temperature"])
    await expect(card.locator(".current")).to_have_text(
        f"{state.attributes['current_temperature']:.1f} °C"
    )
    await expect(card.locator("input.target")).to_have_value(f"{target:.1f}")
    await expect(card.locator(".action")).to_have_text(
        {"heating": "Heating", "cooling": "Cooling", "idle": "Idle", "off": "Off"}[
            state.attributes["hvac_action"]
        ]
    )
    await expect(card.get_by_label("Mode of Zone 2")).to_have_value(state.state)

    # Two steps up (0.5 each) are sent as one call once the user stops pressing.
    raise_ = card.get_by_role("button", name="Raise the target of Zone 2")
    await raise_.click()
    await raise_.click()
    await expect(card.locator("input.target")).to_have_value(f"{target + 1:.1f}")

    def target_now() -> float:
        s = runtime.states.get("climate.zone_2")
        assert s is not None
        return float(s.attributes["temperature"])

    await wait_for(lambda: target_now() == target + 1, "the new target", within=10)
    await shoot(page, "thermostat")

    # A value out of range goes to the server, which refuses it; the card shows why and the
    # target snaps back.
    box = card.locator("input.target")
    await box.fill("40")
    await box.press("Enter")
    reason = card.locator(".reason")
    await expect(reason).to_be_visible()
    await expect(reason).to_contain_text("40.0 °C was not set")
    await expect(reason).to_contain_text("28")
    await expect(box).to_have_value(f"{target + 1:.1f}")
    assert target_now() == target + 1
    await shoot(page, "thermostat-refused")

    # Stepping past the maximum is refused in the card itself, with the range.
    runtime.states.set("climate.zone_2", state.state, {**state.attributes, "temperature": 28.0})
    await expect(box).to_have_value("28.0")
    await raise_.click()
    await expect(reason).to_contain_text("must be from 16.0 to 28.0 °C")
    await expect(box).to_have_value("28.0")
    assert not errors, errors


# --- history -------------------------------------------------------------------------------------


async def test_history_of_yesterday_with_two_entities_a_setpoint_line_and_energy_bars(
    sim_site: SimSite, browser: Browser
) -> None:
    page, errors = await open_as(browser, sim_site, "vic", "/#/history")
    await page.get_by_role("button", name="Yesterday").click()
    # The picker takes names; the default selection is replaced.
    while await page.locator("li.chip").count():
        await page.locator("li.chip button").first.click()
    await page.get_by_label("Add an entity").fill("Zone 1 (climate.zone_1)")
    await page.get_by_role("button", name="Add", exact=True).click()
    await page.get_by_label("Add an entity").fill("sensor.simulator_outdoor_temperature")
    await page.get_by_label("Add an entity").press("Enter")
    await expect(page.locator("li.chip")).to_have_count(2)

    chart = page.locator("#history-chart")
    await expect(chart.locator(".uplot")).to_be_visible()
    series = await chart.get_attribute("data-series") or ""
    assert "Zone 1 setpoint:dashed" in series.split("|"), series
    assert "Zone 1" in series.split("|"), series
    assert await chart.get_attribute("data-units") == "°C"
    await expect(chart.locator(".u-legend")).to_contain_text("Zone 1 setpoint (°C)")

    # Energy: the site's meters per hour, yesterday's 24 bars adding up to the meters' use.
    energy = page.locator("#energy-chart")
    await expect(energy.locator(".uplot")).to_be_visible()
    assert await energy.get_attribute("data-bars") in ("23", "24", "25")  # DST days too
    recorder = recorder_of(sim_site.runtime)
    daily = await statistics_during_period(
        recorder, local_midnight(1), local_midnight(), METERS, "day", types=["change"]
    )
    expected = sum(row["change"] or 0 for m in METERS for row in daily[m])
    total = float(await energy.get_attribute("data-total") or "0")
    assert math.isclose(total, expected, abs_tol=0.01), (total, expected)

    # The address holds the selection: opening it again shows the same chart.
    url = page.url
    assert "range=yesterday" in url
    assert "climate.zone_1" in url
    await shoot(page, "history-yesterday")
    again = await browser.new_page(viewport=DESKTOP, timezone_id="Europe/Amsterdam")
    await again.goto(url)
    await log_in(again, "vic", PASSWORD)
    await expect(again.locator("li.chip")).to_have_count(2)
    await expect(again.get_by_role("button", name="Yesterday")).to_have_attribute(
        "aria-pressed", "true"
    )

    # A custom period is in the address too.
    await page.get_by_role("button", name="Custom").click()
    start = local_midnight(1) + timedelta(hours=6)
    await page.locator("#history-from").fill(start.strftime("%Y-%m-%dT%H:%M"))
    await page.locator("#history-to").fill((start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(page.locator(".period-text")).to_contain_text("6:00:00 AM")
    await expect(energy).to_have_attribute("data-bars", "12")
    assert "from=" in page.url
    assert "range=custom" in page.url

    # Per day over the last 7 days.
    await page.get_by_role("button", name="Last 7 days").click()
    await page.get_by_label("Bars").select_option("day")
    await expect(energy).to_have_attribute("data-bars", "2")
    await shoot(page, "history-week-per-day")
    assert not errors, errors


async def test_entity_statistics_show_the_5_minute_rows_the_card_promises(
    sim_site: SimSite, browser: Browser
) -> None:
    page, errors = await open_as(browser, sim_site, "ada", "/#/entity/sensor.main_meter_energy")
    five = page.locator("#stats-5minute")
    await expect(five).to_be_visible()
    await expect(five.locator("caption")).to_contain_text("Every 5 minutes")
    assert await five.locator("tbody tr").count() >= 1
    await expect(page.locator("#stats-daily")).to_be_visible()
    await shoot(page, "entity-statistics")
    assert not errors, errors
