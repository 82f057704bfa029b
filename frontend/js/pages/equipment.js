// An equipment page for any device of the device registry (an AHU, a chiller, a zone, a Modbus
// meter, a BACnet controller…): its status, key values against their setpoints, derived figures
// (COP, kW/ton) when their inputs exist, the controls the user's role allows, and trends.

import { lineChart } from "../chart.js";
import { control } from "../controls.js";
import { attempt, entityName, fmtState, h, isUnavailable, mount } from "../dom.js";
import { deviceEntities, deviceName, domainOf, fmtNumber, num, powerKw } from "../site.js";
import { thermostatCard } from "../thermostat.js";

const CONTROL_DOMAINS = new Set(["switch", "light", "fan", "number", "input_number", "select", "input_select", "button", "cover", "lock", "climate", "input_boolean"]);
const KW_PER_TON = 3.51685; // kW of cooling in one refrigeration ton
const TREND_HOURS = 24;

/** The role of an entity on its device: what the page groups it under. */
function roleOf(state) {
  const domain = domainOf(state.entity_id);
  if (domain === "climate") return "climate";
  if (CONTROL_DOMAINS.has(domain)) return "controls";
  if (domain === "binary_sensor") return "status";
  const cls = state.attributes.device_class;
  const unit = state.attributes.unit_of_measurement || "";
  if (/cop|efficien/i.test(entityName(state)) || unit === "kW/ton") return "performance";
  if (["power", "energy", "current", "voltage", "apparent_power", "reactive_power", "power_factor"].includes(cls)) return "energy";
  if (["temperature", "humidity", "pressure", "volume_flow_rate", "carbon_dioxide"].includes(cls)) return "air";
  return "values";
}
const ROLES = [
  ["climate", "Thermostat"], ["controls", "Controls"], ["air", "Temperatures and air"], ["energy", "Power and energy"],
  ["performance", "Performance"], ["status", "Status"], ["values", "Other values"],
];

/** The stem of a setpoint's name ("Supply air setpoint" → "supply air"). */
const stem = (name) => name.toLowerCase().replace(/set\s*-?point|target/g, "").replace(/\s+/g, " ").trim();

/**
 * Pairs of {value, setpoint} among the device's entities: a number (or input_number) named
 * "…setpoint" goes with the sensor whose name starts with the same words and has the same unit.
 */
function setpointPairs(states) {
  const pairs = [];
  const setpoints = states.filter((s) => ["number", "input_number"].includes(domainOf(s.entity_id)) && /set\s*-?point|target/i.test(entityName(s)));
  const sensors = states.filter((s) => domainOf(s.entity_id) === "sensor");
  for (const sp of setpoints) {
    const unit = sp.attributes.unit_of_measurement;
    const words = stem(entityName(sp));
    const same = sensors.filter((s) => s.attributes.unit_of_measurement === unit);
    const match = same.find((s) => words && entityName(s).toLowerCase().includes(words)) || (same.length === 1 ? same[0] : null);
    if (match) pairs.push({ value: match, setpoint: sp });
  }
  return pairs;
}

/**
 * COP and kW/ton from a cooling (or heating) load and an electric power on the same device,
 * when the device has no such sensor itself. The load is a power sensor named "…load"; the
 * electric power one named just "Power", "Electric power" or "Input power".
 */
function derived(states, nameOf) {
  const out = [];
  const load = states.find((s) => s.attributes.device_class === "power" && /load/i.test(nameOf(s)));
  const power = states.find((s) => s.attributes.device_class === "power" && /^(electric |input )?power$/i.test(nameOf(s)));
  if (!load || !power) return out;
  const has = (re, unit) => states.some((s) => re.test(nameOf(s)) || (unit && s.attributes.unit_of_measurement === unit));
  const loadKw = powerKw(load);
  const powerKwNow = powerKw(power);
  const inputs = `from ${nameOf(load)} and ${nameOf(power)}`;
  if (!has(/\bcop\b/i)) {
    out.push({ label: "COP (derived)", value: loadKw !== null && powerKwNow ? fmtNumber(loadKw / powerKwNow, 2) : "—", unit: "", note: inputs });
  }
  if (!has(/kw\/ton/i, "kW/ton") && /cool/i.test(entityName(load))) {
    out.push({ label: "kW/ton (derived)", value: loadKw ? fmtNumber(powerKwNow / (loadKw / KW_PER_TON), 3) : "—", unit: "kW/ton", note: inputs });
  }
  return out;
}

/** The device's overall status: unavailable parts, its main switch, connectivity. */
function status(states) {
  const down = states.filter((s) => s.state === "unavailable");
  const main = states.find((s) => ["switch", "fan"].includes(domainOf(s.entity_id)));
  const connectivity = states.find((s) => s.attributes.device_class === "connectivity");
  if (states.length && down.length === states.length) return { text: "Unavailable", kind: "bad" };
  if (connectivity && connectivity.state === "off") return { text: "Disconnected", kind: "bad" };
  const parts = [];
  if (main) parts.push(main.state === "on" ? "Running" : main.state === "off" ? "Stopped" : main.state);
  else parts.push("Reporting");
  if (down.length) parts.push(`${down.length} value${down.length > 1 ? "s" : ""} unavailable`);
  return { text: parts.join(" · "), kind: down.length ? "bad" : main?.state === "on" || !main ? "ok" : "" };
}

export default async function equipmentPage(ctx, main, [deviceId]) {
  const { conn, store } = ctx;
  const registries = await ctx.loadRegistries(true);
  const device = registries.devices.get(deviceId);
  if (!device) {
    mount(main, h("p", null, h("a", { href: "#/overview" }, "← Overview")), h("h1", null, "No such equipment"),
      h("p", null, `There is no device ${deviceId} in the device registry.`));
    return null;
  }
  const ids = deviceEntities(deviceId, registries);
  const area = device.area_id ? registries.areas.get(device.area_id) : null;
  const platforms = [...new Set(ids.map((id) => registries.entities.get(id)?.platform).filter(Boolean))];
  const statusEl = h("span", { class: "badge" });
  const keyValues = h("div", { class: "key-values" });
  const groups = h("div", { class: "equipment-groups" });
  const trend = h("div", { class: "chart", role: "img", "aria-label": `Trends of ${deviceName(device)}` });
  const historyLink = h("a", { class: "button" }, "Open in History");
  mount(main,
    h("p", null, h("a", { href: "#/overview" }, "← Overview"), area ? [" · ", h("span", { class: "muted" }, area.name)] : null),
    h("div", { class: "page-head" }, h("h1", null, deviceName(device)), statusEl),
    h("p", { class: "muted device-facts" }, [device.manufacturer, device.model, platforms.length ? `via ${platforms.join(", ")}` : null].filter(Boolean).join(" · ")),
    h("section", { class: "card", "aria-labelledby": "key-h" }, h("h2", { id: "key-h" }, "Key values"), keyValues),
    groups,
    h("section", { class: "card", "aria-labelledby": "trend-h" },
      h("div", { class: "page-head" }, h("h2", { id: "trend-h" }, `Trends, last ${TREND_HOURS} hours`), historyLink), trend));

  const rows = new Map(); // entity id → {update}
  function buildGroups() {
    const states = ids.map((id) => store.get(id)).filter(Boolean);
    const byRole = new Map();
    for (const s of states) {
      const role = roleOf(s);
      if (!byRole.has(role)) byRole.set(role, []);
      byRole.get(role).push(s);
    }
    rows.clear();
    mount(groups, ROLES.filter(([role]) => byRole.has(role)).map(([role, title]) => h("section", { class: "card", "data-role": role, "aria-label": title },
      h("h2", null, title),
      role === "climate"
        ? byRole.get(role).map((s) => {
          const card = thermostatCard(conn, s, { unit: ctx.temperatureUnit, canControl: ctx.canControl });
          rows.set(s.entity_id, card);
          return card.el;
        })
        : h("ul", { class: "entities" }, byRole.get(role).sort((a, b) => entityName(a).localeCompare(entityName(b))).map((s) => {
          const stateEl = h("span", { class: "state" });
          const made = ctx.canControl ? control(conn, s) : null;
          const li = h("li", { class: "entity", "data-entity-id": s.entity_id },
            h("a", { class: "name", href: `#/entity/${encodeURIComponent(s.entity_id)}` }, shortName(s)), stateEl,
            made ? h("span", { class: "control" }, made.el) : null);
          const item = { update(next) { stateEl.textContent = fmtState(next); li.classList.toggle("unavailable", next.state === "unavailable"); made?.update(next); } };
          item.update(s);
          rows.set(s.entity_id, item);
          return li;
        })))));
  }

  /** The entity's name without the device's name in front ("AHU Fan power" → "Fan power"). */
  function shortName(s) {
    const name = entityName(s);
    const prefix = deviceName(device);
    return name.startsWith(`${prefix} `) ? name.slice(prefix.length + 1) : name;
  }

  function renderKeyValues() {
    const states = ids.map((id) => store.get(id)).filter(Boolean);
    const st = status(states);
    statusEl.textContent = st.text;
    statusEl.className = `badge ${st.kind}`;
    const tiles = [];
    for (const { value, setpoint } of setpointPairs(states)) {
      const v = num(value);
      const sp = num(setpoint);
      const unit = value.attributes.unit_of_measurement || "";
      const off = v !== null && sp !== null ? v - sp : null;
      tiles.push(h("div", { class: "kv", "data-entity-id": value.entity_id },
        h("span", { class: "kv-label" }, shortName(value)),
        h("span", { class: "kv-value" }, isUnavailable(value) ? value.state : `${fmtNumber(v, 1)} ${unit}`),
        h("span", { class: "kv-sub muted" }, `setpoint ${fmtNumber(sp, 1)} ${unit}${off !== null ? ` (${off >= 0 ? "+" : "−"}${fmtNumber(Math.abs(off), 1)})` : ""}`)));
    }
    for (const s of states) {
      const role = roleOf(s);
      if (role === "climate") {
        const a = s.attributes;
        tiles.push(h("div", { class: "kv", "data-entity-id": s.entity_id },
          h("span", { class: "kv-label" }, "Temperature"),
          h("span", { class: "kv-value" }, a.current_temperature === undefined || a.current_temperature === null ? "—" : `${fmtNumber(a.current_temperature, 1)} ${ctx.temperatureUnit}`),
          h("span", { class: "kv-sub muted" }, `setpoint ${fmtNumber(a.temperature, 1)} ${ctx.temperatureUnit} · ${a.hvac_action || s.state}`)));
      } else if (role === "energy" || role === "performance") {
        if (s.attributes.device_class === "energy") continue;
        tiles.push(h("div", { class: "kv", "data-entity-id": s.entity_id },
          h("span", { class: "kv-label" }, shortName(s)), h("span", { class: "kv-value" }, fmtState(s))));
      }
    }
    for (const d of derived(states, shortName)) {
      tiles.push(h("div", { class: "kv derived" },
        h("span", { class: "kv-label" }, d.label), h("span", { class: "kv-value" }, d.unit ? `${d.value} ${d.unit}` : d.value),
        h("span", { class: "kv-sub muted" }, d.note)));
    }
    mount(keyValues, tiles.length ? tiles : h("p", { class: "muted" }, "This device has no numeric values to show."));
  }

  async function drawTrend() {
    const states = ids.map((id) => store.get(id)).filter(Boolean);
    const setpoints = setpointPairs(states).map((p) => p.setpoint);
    const sensors = states.filter((s) => domainOf(s.entity_id) === "sensor" && num(s) !== null && s.attributes.device_class !== "energy");
    const chosen = [...sensors.slice(0, 6), ...setpoints];
    const climates = ids.filter((id) => domainOf(id) === "climate");
    const end = Date.now() / 1000;
    const start = end - TREND_HOURS * 3600;
    const selection = [...chosen.map((s) => s.entity_id), ...climates];
    historyLink.href = `#/history/${new URLSearchParams({ range: "today", entities: selection.join(",") })}`;
    if (!selection.length) { mount(trend, h("p", { class: "muted" }, "No numeric values to chart.")); return; }
    const lines = [];
    if (chosen.length) {
      const history = await conn.command({
        type: "history/downsampled", entity_ids: chosen.map((s) => s.entity_id),
        start_time: new Date(start * 1000).toISOString(), end_time: new Date(end * 1000).toISOString(), points: 200,
      });
      for (const s of chosen) {
        const items = (history[s.entity_id] || []).filter((i) => "mean" in i);
        const isSetpoint = setpoints.includes(s);
        lines.push({ label: shortName(s), unit: s.attributes.unit_of_measurement, xs: items.map((i) => Date.parse(i.t) / 1000), ys: items.map((i) => i.mean), dash: isSetpoint, step: isSetpoint });
      }
    }
    if (climates.length) {
      const { climateLines } = await import("./history.js");
      lines.push(...await climateLines(conn, climates, start, end, ctx.temperatureUnit, (id) => shortName(store.get(id) || { entity_id: id, attributes: {} })));
    }
    if (!lines.some((l) => l.xs.length)) { mount(trend, h("p", { class: "muted" }, "Nothing recorded in the last 24 hours yet.")); return; }
    await lineChart(trend, lines.filter((l) => l.xs.length), start, end);
    trend.setAttribute("aria-label", `Trends of ${deviceName(device)}: ${lines.map((l) => l.label).join(", ")}`);
  }

  buildGroups();
  renderKeyValues();
  attempt(drawTrend);
  const stop = store.listen((changed, membership) => {
    if (membership) { buildGroups(); renderKeyValues(); return; }
    let mine = false;
    for (const id of changed) {
      const row = rows.get(id);
      const state = store.get(id);
      if (row && state) { row.update(state); mine = true; }
    }
    if (mine) renderKeyValues();
  });
  // The page's title is the device's.
  document.title = `${deviceName(device)} · Edgewise`;
  return stop;
}
