// History: a period (today, yesterday, the last 7 days, or from–to), several entities on one
// chart with one axis per unit, climate entities with their target as a dashed setpoint line,
// on/off states as timelines, and energy as bars per hour or day from the recorder's statistics
// (the 5-minute statistics fill in the hour that is not compiled yet). The address holds the
// selection (#/history/range=yesterday&entities=a,b), so it can be bookmarked or shared.

import { barChart, lineChart } from "../chart.js";
import { attempt, entityName, fmtTime, h, mount } from "../dom.js";
import { domainOf, energyFactor, seconds, fmtNumber, loadUserData, saveUserData, summaryCandidates } from "../site.js";

const RANGES = [["today", "Today"], ["yesterday", "Yesterday"], ["7d", "Last 7 days"], ["custom", "Custom"]];
const MAX_ENTITIES = 12;
const MAX_DAYS = 366;
const HOUR = 3600;

/** [start, end] in seconds of a named range (local days). */
function period(range, from, to) {
  const now = Date.now() / 1000;
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const today = midnight.getTime() / 1000;
  if (range === "yesterday") {
    const before = new Date(midnight);
    before.setDate(before.getDate() - 1);
    return [before.getTime() / 1000, today];
  }
  if (range === "7d") return [now - 7 * 86400, now];
  if (range === "custom") {
    const start = Date.parse(from) / 1000;
    const end = Date.parse(to) / 1000;
    if (Number.isFinite(start) && Number.isFinite(end) && end > start) return [start, Math.min(end, start + MAX_DAYS * 86400)];
  }
  return [today, now];
}

/** The local "YYYY-MM-DDTHH:MM" of seconds, for datetime-local inputs. */
function localInput(seconds) {
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * Lines of climate entities: the measured temperature, and the target temperature as a dashed
 * step line (the setpoint), from their recorded states' attributes.
 */
export async function climateLines(conn, ids, start, end, unit, nameOf) {
  const history = await conn.command({
    type: "history/history_during_period", entity_ids: ids,
    start_time: new Date(start * 1000).toISOString(), end_time: new Date(end * 1000).toISOString(),
    significant_changes_only: false, minimal_response: false, no_attributes: false,
  });
  const lines = [];
  for (const id of ids) {
    const items = history[id] || [];
    const current = { label: nameOf(id), unit, xs: [], ys: [] };
    const target = { label: `${nameOf(id)} setpoint`, unit, xs: [], ys: [], dash: true, step: true };
    for (const item of items) {
      const t = Math.max(item.lu, start);
      const a = item.a || {};
      if (typeof a.current_temperature === "number") { current.xs.push(t); current.ys.push(a.current_temperature); }
      if (typeof a.temperature === "number") { target.xs.push(t); target.ys.push(a.temperature); }
    }
    // The setpoint holds until the end of the period (or now).
    if (target.xs.length) { target.xs.push(Math.min(end, Date.now() / 1000)); target.ys.push(target.ys[target.ys.length - 1]); }
    lines.push(current, target);
  }
  return lines;
}

/**
 * Energy per hour (or per local day) of meters, in kWh: the hourly statistics of the period,
 * then the 5-minute statistics after the last compiled hour.
 */
async function energyBars(conn, store, ids, start, end, per) {
  const ask = (p, from) => conn.command({
    type: "recorder/statistics_during_period", statistic_ids: ids, period: p,
    start_time: new Date(from * 1000).toISOString(), end_time: new Date(end * 1000).toISOString(), types: ["change"],
  });
  const hourly = await ask("hour", start);
  const bars = [];
  for (const id of ids) {
    const factor = energyFactor(store.get(id)?.attributes?.unit_of_measurement) ?? 1;
    const buckets = new Map();
    const add = (t, v) => {
      let key = Math.floor(t / HOUR) * HOUR;
      if (per === "day") { const d = new Date(t * 1000); d.setHours(0, 0, 0, 0); key = d.getTime() / 1000; }
      buckets.set(key, (buckets.get(key) || 0) + v * factor);
    };
    const hours = hourly[id] || [];
    for (const row of hours) add(seconds(row.start), row.change ?? 0);
    const compiled = hours.length ? seconds(hours[hours.length - 1].end) : start;
    if (compiled < end) {
      const short = (await ask("5minute", compiled))[id] || [];
      for (const row of short) add(seconds(row.start), row.change ?? 0);
    }
    const xs = [...buckets.keys()].sort((a, b) => a - b);
    bars.push({ label: entityName(store.get(id)) || id, unit: "kWh", xs, ys: xs.map((x) => buckets.get(x)) });
  }
  return bars;
}

export default async function historyPage(ctx, main) {
  const { conn, store } = ctx;
  const registries = await ctx.loadRegistries();
  const query = new URLSearchParams(location.hash.split("/").slice(2).join("/"));
  const fromUrl = query.get("entities");
  const remembered = fromUrl === null ? await loadUserData(conn, "history") : null;
  const { defaults } = summaryCandidates(store.states, registries);
  const sel = {
    range: RANGES.some(([r]) => r === query.get("range")) ? query.get("range") : remembered?.range || "today",
    from: query.get("from") || "",
    to: query.get("to") || "",
    entities: (fromUrl ?? remembered?.entities?.join(",") ?? [...defaults.outdoor, ...defaults.power.slice(0, 1)].join(","))
      .split(",").filter((id) => /^[a-z0-9_]+\.[a-z0-9_]+$/.test(id)).slice(0, MAX_ENTITIES),
    per: query.get("per") === "day" ? "day" : query.get("per") === "hour" ? "hour" : "auto",
  };

  const rangeButtons = RANGES.map(([value, label]) => h("button", {
    type: "button", class: "small", "data-range": value, "aria-pressed": String(sel.range === value),
    onclick: () => { sel.range = value; if (value === "custom" && !sel.from) { const [s, e] = period("today"); sel.from = localInput(s - 86400); sel.to = localInput(e); } refresh(); },
  }, label));
  const from = h("input", { type: "datetime-local", id: "history-from" });
  const to = h("input", { type: "datetime-local", id: "history-to" });
  const custom = h("div", { class: "custom-range" },
    h("div", { class: "field" }, h("label", { for: "history-from" }, "From"), from),
    h("div", { class: "field" }, h("label", { for: "history-to" }, "To"), to),
    h("button", { type: "button", onclick: () => { sel.from = from.value; sel.to = to.value; refresh(); } }, "Show"));
  const options = h("datalist", { id: "history-entity-list" });
  const picker = h("input", { type: "text", id: "history-add", list: "history-entity-list", placeholder: "Name or entity id", autocomplete: "off" });
  const pickError = h("span", { class: "error", role: "alert" });
  const chips = h("ul", { class: "chips", "aria-label": "Entities on the chart" });
  const periodText = h("p", { class: "muted period-text", "aria-live": "polite" });
  const chart = h("div", { class: "chart", id: "history-chart", role: "img", "aria-label": "History of the chosen entities over the period" });
  const timelines = h("div", { class: "timelines" });
  const per = h("select", { id: "energy-per" },
    h("option", { value: "auto" }, "Automatic"), h("option", { value: "hour" }, "Per hour"), h("option", { value: "day" }, "Per day"));
  per.value = sel.per;
  const energyNote = h("p", { class: "muted" });
  const energyChart = h("div", { class: "chart", id: "energy-chart", role: "img", "aria-label": "Energy used in each hour or day of the period" });

  function addEntity() {
    const text = picker.value.trim();
    if (!text) return;
    const match = text.match(/\(([a-z0-9_]+\.[a-z0-9_]+)\)$/);
    const id = match ? match[1] : [...store.states.values()].find((s) => s.entity_id === text.toLowerCase() || entityName(s).toLowerCase() === text.toLowerCase())?.entity_id;
    if (!id || !store.get(id)) { pickError.textContent = `No entity "${text}"`; return; }
    pickError.textContent = "";
    if (sel.entities.length >= MAX_ENTITIES) { pickError.textContent = `At most ${MAX_ENTITIES} entities on one chart`; return; }
    if (!sel.entities.includes(id)) sel.entities.push(id);
    picker.value = "";
    refresh();
  }
  picker.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addEntity(); } });
  per.addEventListener("change", () => { sel.per = per.value; refresh(); });

  mount(main,
    h("h1", null, "History"),
    h("section", { class: "card history-controls" },
      h("div", { class: "range", role: "group", "aria-label": "Period" }, h("span", { class: "muted" }, "Period"), rangeButtons),
      custom,
      h("div", { class: "picker" },
        h("div", { class: "field inline" }, h("label", { for: "history-add" }, "Add an entity"), picker,
          h("button", { type: "button", onclick: addEntity }, "Add")), pickError, options),
      chips),
    h("section", { class: "card", "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, "Chart"), periodText, chart, timelines),
    h("section", { class: "card", "aria-labelledby": "energy-h" },
      h("div", { class: "page-head" }, h("h2", { id: "energy-h" }, "Energy"),
        h("div", { class: "field inline" }, h("label", { for: "energy-per" }, "Bars"), per)),
      energyNote, energyChart));

  mount(options, [...store.states.values()].sort((a, b) => entityName(a).localeCompare(entityName(b)))
    .map((s) => h("option", { value: `${entityName(s)} (${s.entity_id})` })));

  let drawing = 0;
  async function draw() {
    const mine = ++drawing;
    const [start, end] = period(sel.range, sel.from, sel.to);
    periodText.textContent = `${fmtTime(start)} – ${fmtTime(end)}`;
    const ids = sel.entities.filter((id) => store.get(id) || registries.entities.has(id));
    const climates = ids.filter((id) => domainOf(id) === "climate");
    const others = ids.filter((id) => domainOf(id) !== "climate");
    const lines = [];
    const bands = [];
    if (others.length) {
      const history = await conn.command({
        type: "history/downsampled", entity_ids: others, points: 300,
        start_time: new Date(start * 1000).toISOString(), end_time: new Date(end * 1000).toISOString(),
      });
      for (const id of others) {
        const items = history[id] || [];
        const state = store.get(id);
        if (items.some((i) => "mean" in i)) {
          const numbers = items.filter((i) => "mean" in i);
          lines.push({ label: entityName(state) || id, unit: state?.attributes?.unit_of_measurement || "", xs: numbers.map((i) => Date.parse(i.t) / 1000), ys: numbers.map((i) => i.mean) });
        } else {
          bands.push({ id, name: entityName(state) || id, items });
        }
      }
    }
    if (climates.length) lines.push(...await climateLines(conn, climates, start, end, ctx.temperatureUnit, (id) => entityName(store.get(id)) || id));
    if (mine !== drawing) return;
    const drawn = lines.filter((l) => l.xs.length);
    if (drawn.length) {
      await lineChart(chart, drawn, start, end);
      chart.setAttribute("aria-label", `History from ${fmtTime(start)} to ${fmtTime(end)}: ${drawn.map((l) => `${l.label}${l.unit ? ` in ${l.unit}` : ""}`).join(", ")}`);
    } else {
      mount(chart, h("p", { class: "muted" }, ids.length ? "No numbers recorded for these entities in this period." : "Add entities to chart them."));
    }
    mount(timelines, bands.map((b) => timeline(b, start, end)));
  }

  function timeline({ id, name, items }, start, end) {
    const span = end - start;
    const segments = items.map((item, i) => {
      const t0 = Math.max(start, Date.parse(item.t) / 1000);
      const t1 = i + 1 < items.length ? Date.parse(items[i + 1].t) / 1000 : Math.min(end, Date.now() / 1000);
      const left = ((t0 - start) / span) * 100;
      const width = Math.max(0.2, ((t1 - t0) / span) * 100);
      return h("span", { class: `segment s-${String(item.state).replace(/[^a-z0-9_]/gi, "_")}`, style: `left:${left}%;width:${width}%`, title: `${item.state} from ${fmtTime(t0)}` });
    });
    return h("div", { class: "state-timeline", "data-entity-id": id },
      h("span", { class: "timeline-name" }, name), h("div", { class: "timeline-bar", role: "img", "aria-label": `${name}: ${items.map((i) => i.state).join(", ") || "no changes"}` }, segments));
  }

  async function drawEnergy() {
    const [start, end] = period(sel.range, sel.from, sel.to);
    const pickedMeters = sel.entities.filter((id) => {
      const s = store.get(id);
      return s && ["total", "total_increasing"].includes(s.attributes.state_class) && energyFactor(s.attributes.unit_of_measurement) !== null;
    });
    const ids = pickedMeters.length ? pickedMeters : defaults.energy;
    const bucket = sel.per === "auto" ? (end - start > 2 * 86400 ? "day" : "hour") : sel.per;
    energyNote.textContent = !ids.length ? "No energy meter on this site." :
      `${pickedMeters.length ? "The chosen meters" : "The site's meters"} (${ids.map((id) => entityName(store.get(id)) || id).join(", ")}), kWh per ${bucket}, from the recorder's statistics${end > Date.now() / 1000 - 600 ? "; the 5-minute statistics fill in the current hour" : ""}.`;
    if (!ids.length) { mount(energyChart); return; }
    const bars = await energyBars(conn, store, ids, start, end, bucket);
    if (!bars.some((b) => b.xs.length)) {
      mount(energyChart, h("p", { class: "muted" }, "No statistics yet for this period (they are compiled every 5 minutes)."));
      return;
    }
    await barChart(energyChart, bars, start, end, bucket === "day" ? 86400 : HOUR);
    const total = bars.reduce((sum, b) => sum + b.ys.reduce((a, v) => a + v, 0), 0);
    energyChart.setAttribute("aria-label", `Energy per ${bucket}: ${fmtNumber(total, 2)} kWh in the period`);
    energyChart.dataset.total = total.toFixed(3);
  }

  function refresh() {
    for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b.dataset.range === sel.range));
    custom.hidden = sel.range !== "custom";
    from.value = sel.from;
    to.value = sel.to;
    mount(chips, sel.entities.map((id) => h("li", { class: "chip", "data-entity-id": id },
      h("span", null, entityName(store.get(id)) || id),
      h("button", {
        type: "button", class: "small", "aria-label": `Remove ${entityName(store.get(id)) || id}`,
        onclick: () => { sel.entities = sel.entities.filter((e) => e !== id); refresh(); },
      }, "×"))));
    const params = new URLSearchParams({ range: sel.range, entities: sel.entities.join(",") });
    if (sel.range === "custom") { params.set("from", sel.from); params.set("to", sel.to); }
    if (sel.per !== "auto") params.set("per", sel.per);
    history.replaceState(null, "", `#/history/${params}`);
    saveUserData(conn, "history", { range: sel.range === "custom" ? "today" : sel.range, entities: sel.entities }).catch(() => {});
    attempt(draw);
    attempt(drawEnergy);
  }

  refresh();
  return null;
}
