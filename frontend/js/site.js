// What the site is made of, for the overview, equipment and history pages: friendly group names,
// area icons and order, devices and their entities by role, the summary's entities chosen by
// device and state classes, the active alarm count, and the user's saved settings.

import { h } from "./dom.js";

/** Friendly names of entity domains, as group titles. */
export const DOMAIN_NAMES = {
  light: "Lights", switch: "Switches", fan: "Fans", climate: "Climate", sensor: "Sensors",
  binary_sensor: "Status", cover: "Blinds and doors", lock: "Locks", media_player: "Media",
  number: "Settings", select: "Modes", input_number: "Settings", input_select: "Modes",
  input_boolean: "Helpers", input_text: "Helpers", input_datetime: "Helpers", input_button: "Helpers",
  button: "Buttons", scene: "Scenes", script: "Scripts", automation: "Automations", appliance: "Appliances",
  weather: "Weather", sun: "Sun", person: "People", device_tracker: "People", camera: "Cameras",
  vacuum: "Vacuums", water_heater: "Water heaters", humidifier: "Humidifiers", siren: "Sirens",
  timer: "Timers", counter: "Counters", schedule: "Schedules", update: "Updates", event: "Events",
  text: "Text", time: "Times", date: "Dates", calendar: "Calendars",
};
/** The order of groups inside an area: what people act on first. */
const DOMAIN_ORDER = ["climate", "light", "switch", "fan", "cover", "lock", "appliance", "sensor", "binary_sensor"];

export function domainOf(entityId) { return entityId.split(".")[0]; }
export function domainName(domain) {
  return DOMAIN_NAMES[domain] || domain.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}
export function domainRank(domain) {
  const i = DOMAIN_ORDER.indexOf(domain);
  return i < 0 ? DOMAIN_ORDER.length : i;
}

// --- icons (inline SVG, 24×24, stroke) -----------------------------------------------------------

const ICONS = {
  home: "M3 11l9-7 9 7v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z",
  building: "M4 21V4h10v17M14 9h6v12M7 8h1M10 8h1M7 12h1M10 12h1M7 16h1M10 16h1M17 13h1M17 17h1M2 21h20",
  plant: "M3 21V11l6 4v-4l6 4V5h5v16zM7 18h2M12 18h2M17 9v2",
  kitchen: "M7 3v8M5 3v5a2 2 0 0 0 4 0V3M7 11v10M17 3c-2 1-3 4-3 7h3v11",
  sofa: "M4 12V9a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2v3M2 13a2 2 0 0 1 4 0v2h12v-2a2 2 0 0 1 4 0v5H2zM5 18v2M19 18v2",
  bed: "M3 19V6M3 14h18v5M21 14v-2a3 3 0 0 0-3-3h-7v5M7 11.5a1.5 1.5 0 1 0 0-.01",
  car: "M5 16l1.5-5h11l1.5 5M4 16h16v3H4zM7 19v1M17 19v1M7 16.5h.01M17 16.5h.01",
  water: "M12 3s6 7 6 11a6 6 0 0 1-12 0c0-4 6-11 6-11z",
  door: "M6 21V3h12v18M4 21h16M14 12h.01",
  desk: "M3 8h18M5 8v12M19 8v12M14 8v6h5M9 4h6v4",
  tree: "M12 21v-6M12 3l6 8h-3l4 5H5l4-5H6z",
  bolt: "M13 2L4 14h7l-1 8 9-12h-7z",
  thermo: "M10 14V5a2 2 0 0 1 4 0v9a4 4 0 1 1-4 0z",
  zone: "M4 4h16v16H4zM4 12h16M12 4v16",
};
const AREA_ICON_WORDS = [
  [/plant|mechanical|boiler|server|technical|roof/i, "plant"], [/kitchen|pantry/i, "kitchen"],
  [/living|lounge|family|den/i, "sofa"], [/bed|nursery|guest/i, "bed"], [/garage|parking|car/i, "car"],
  [/bath|utility|laundry|shower|toilet|wash/i, "water"], [/hall|entrance|corridor|stair|lobby/i, "door"],
  [/office|study|desk|meeting|conference|reception/i, "desk"], [/garden|outdoor|outside|yard|terrace|balcony/i, "tree"],
  [/zone|floor|wing|open plan/i, "zone"], [/meter|electric/i, "bolt"],
];
const MDI_ICONS = { "mdi:sofa": "sofa", "mdi:bed": "bed", "mdi:garage": "car", "mdi:silverware-fork-knife": "kitchen",
  "mdi:factory": "plant", "mdi:office-building": "building", "mdi:home": "home", "mdi:tree": "tree", "mdi:desk": "desk" };

/** The icon name of an area: its registry icon when we know it, else from words in its name. */
export function areaIcon(area) {
  if (area?.icon && MDI_ICONS[area.icon]) return MDI_ICONS[area.icon];
  const name = area?.name || "";
  for (const [pattern, icon] of AREA_ICON_WORDS) if (pattern.test(name)) return icon;
  return "home";
}

/** An inline SVG icon (decorative: hidden from screen readers). */
export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name] || ICONS.home);
  svg.append(path);
  return svg;
}

// --- registries ----------------------------------------------------------------------------------

/** The area of an entity: its own, else its device's. */
export function areaOf(entityId, registries) {
  const entry = registries.entities.get(entityId);
  if (!entry) return null;
  if (entry.area_id) return entry.area_id;
  const device = entry.device_id ? registries.devices.get(entry.device_id) : null;
  return device?.area_id || null;
}

export function deviceName(device) {
  return device?.name_by_user || device?.name || device?.id || "";
}

/** The entity ids of a device (hidden ones left out). */
export function deviceEntities(deviceId, registries) {
  const ids = [];
  for (const entry of registries.entities.values()) {
    if (entry.device_id === deviceId && !entry.hidden_by && !entry.disabled_by) ids.push(entry.entity_id);
  }
  return ids;
}

// --- numbers and units ---------------------------------------------------------------------------

export function num(state) {
  if (!state) return null;
  const value = Number.parseFloat(state.state);
  return Number.isFinite(value) ? value : null;
}
const POWER_TO_KW = { W: 0.001, kW: 1, MW: 1000 };
const ENERGY_TO_KWH = { Wh: 0.001, kWh: 1, MWh: 1000 };
/** A power state in kW (null when it is not a number or has no power unit). */
export function powerKw(state) {
  const factor = POWER_TO_KW[state?.attributes?.unit_of_measurement];
  const value = num(state);
  return factor === undefined || value === null ? null : value * factor;
}
export function energyFactor(unit) { return ENERGY_TO_KWH[unit] ?? null; }

/** Seconds since 1970 of a statistics time (ISO text, or already seconds). */
export function seconds(value) {
  return typeof value === "number" ? value : Date.parse(value) / 1000;
}

/** A number for people: at most `digits` decimals, grouped. */
export function fmtNumber(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

// --- the summary's entities, from device and state classes ---------------------------------------

const METER = /meter/i;
const PLANT_MODEL = /chiller|air.handling|\bahu\b|boiler|pump|cooling tower|heat pump/i;
const OUTDOOR = /outdoor|outside|garden|exterior|ambient/i;
/** A NILM device: an appliance's estimate from a meter, neither a meter nor plant itself. */
const ESTIMATE = /^NILM estimate$/;

function stateClass(s) { return s.attributes.state_class; }
function deviceClass(s) { return s.attributes.device_class; }
function deviceOf(entityId, registries) {
  const entry = registries.entities.get(entityId);
  return entry?.device_id ? registries.devices.get(entry.device_id) : null;
}
function isEstimate(device) { return ESTIMATE.test(device?.model || ""); }
function isMeter(entityId, registries) {
  const device = deviceOf(entityId, registries);
  return Boolean(device && !isEstimate(device) && (METER.test(device.model || "") || METER.test(deviceName(device))));
}

/** The candidates of each summary figure, and those used when the user chose none. */
export function summaryCandidates(states, registries) {
  const all = [...states.values()].filter((s) => !registries.entities.get(s.entity_id)?.hidden_by);
  const power = all.filter((s) => deviceClass(s) === "power" && s.entity_id.startsWith("sensor.") && powerKw(s) !== null);
  const energy = all.filter((s) => deviceClass(s) === "energy" && ["total", "total_increasing"].includes(stateClass(s)));
  const temperature = all.filter((s) => deviceClass(s) === "temperature" && s.entity_id.startsWith("sensor."));
  const weather = all.filter((s) => s.entity_id.startsWith("weather.") && s.attributes.temperature !== undefined);
  const plant = all.filter((s) => {
    const device = deviceOf(s.entity_id, registries);
    const area = device?.area_id ? registries.areas.get(device.area_id) : null;
    const plantDevice = device && !isEstimate(device) && (PLANT_MODEL.test(device.model || "") || PLANT_MODEL.test(deviceName(device)) || /plant/i.test(area?.name || ""));
    return plantDevice && ["switch", "fan", "binary_sensor"].includes(domainOf(s.entity_id))
      && (domainOf(s.entity_id) !== "binary_sensor" || ["running", "power", "problem"].includes(deviceClass(s)));
  });
  // Meters measure the whole site; without any, every power sensor would count loads twice.
  const meters = (list) => list.filter((s) => isMeter(s.entity_id, registries));
  const outdoor = temperature.filter((s) => {
    const area = registries.areas.get(areaOf(s.entity_id, registries));
    return OUTDOOR.test(s.entity_id) || OUTDOOR.test(s.attributes.friendly_name || "") || OUTDOOR.test(area?.name || "");
  });
  return {
    candidates: { power, energy, outdoor: [...weather, ...temperature], plant },
    defaults: {
      power: meters(power).map((s) => s.entity_id),
      energy: meters(energy).map((s) => s.entity_id),
      outdoor: (outdoor[0] || weather[0]) ? [(outdoor[0] || weather[0]).entity_id] : [],
      plant: plant.filter((s) => domainOf(s.entity_id) !== "binary_sensor" || deviceClass(s) === "running").map((s) => s.entity_id),
    },
  };
}

// --- alarms --------------------------------------------------------------------------------------

/**
 * Call `callback(count)` with the number of active alarms now and after each change; answers
 * the unsubscribe function. For now an alarm is a persistent notification (the one place to
 * change when alarms get severities).
 */
export function watchActiveAlarms(alarms, callback) {
  // `alarms` is the shell's alarm store (notifications.js): unacknowledged alarms by severity.
  const report = () => callback(alarms.counts());
  const stop = alarms.listen(report);
  report();
  return stop;
}

// --- the user's settings (frontend/get_user_data, kept on the server per user) -------------------

export async function loadUserData(conn, key) {
  try {
    const { value } = await conn.command({ type: "frontend/get_user_data", key });
    return value ?? null;
  } catch {
    return null;
  }
}

export function saveUserData(conn, key, value) {
  return conn.command({ type: "frontend/set_user_data", key, value });
}

/** A small "label: value" block with a unit. */
export function metric(label, id) {
  const value = h("span", { class: "metric-value" }, "—");
  const sub = h("span", { class: "metric-sub muted" });
  const el = h("div", { class: "metric", "data-metric": id }, h("span", { class: "metric-label" }, label), value, sub);
  return { el, value, sub };
}
