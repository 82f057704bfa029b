// The site overview: a summary row (power, energy today, outdoor temperature, alarms, plant),
// then one tile per area with its equipment and its entities in friendly groups, live. The
// tiles' order and which are hidden, and which entities feed the summary, are the user's own
// (kept on the server with frontend/set_user_data).

import { control } from "../controls.js";
import { ago, announce, attempt, entityName, estimateFor, fmtState, h, isUnavailable, mount } from "../dom.js";
import {
  areaIcon, areaOf, deviceName, seconds, domainName, domainOf, domainRank, energyFactor, fmtNumber, icon,
  loadUserData, metric, num, powerKw, saveUserData, summaryCandidates, watchActiveAlarms,
} from "../site.js";
import { thermostatCard } from "../thermostat.js";

const NO_AREA = "_none";
const LAYOUT_KEY = "overview";
const FOLD = 6; // entities of a group shown before "n more"
const SUMMARY = [
  ["power", "Total power"], ["energy", "Energy today"], ["outdoor", "Outdoor temperature"],
  ["alarms", "Active alarms"], ["plant", "Plant status"],
];

/** Energy used today (kWh) by `ids`, from the recorder's hourly and 5-minute statistics. */
async function energyToday(conn, store, ids) {
  if (!ids.length) return null;
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const ask = (period, start) => conn.command({
    type: "recorder/statistics_during_period", statistic_ids: ids, start_time: start.toISOString(),
    period, types: ["change", "state"],
  });
  const hourly = await ask("hour", midnight);
  let total = 0;
  let known = false;
  for (const id of ids) {
    const factor = energyFactor(store.get(id)?.attributes?.unit_of_measurement) ?? 1;
    const hours = hourly[id] || [];
    const since = hours.length ? new Date(seconds(hours[hours.length - 1].end) * 1000) : midnight;
    const short = (await ask("5minute", since))[id] || [];
    const rows = [...hours, ...short];
    if (!rows.length) continue;
    known = true;
    for (const row of rows) total += (row.change ?? 0) * factor;
    // The part since the last compiled 5 minutes, from the meter's reading now.
    const last = rows[rows.length - 1];
    const now = num(store.get(id));
    if (now !== null && last.state !== null && last.state !== undefined && now >= last.state) total += (now - last.state) * factor;
  }
  return known ? total : null;
}

export default async function overview(ctx, main) {
  const { store, conn } = ctx;
  const registries = await ctx.loadRegistries(true);
  const saved = (await loadUserData(conn, LAYOUT_KEY)) || {};
  let layout = { order: saved.order || [], hidden: saved.hidden || [], summary: saved.summary || {} };
  let arranging = false;

  const search = h("input", { type: "search", id: "filter", placeholder: "Filter by name or entity id" });
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const arrange = h("button", { type: "button", class: "small", "aria-pressed": "false", onclick: () => startArranging() }, "Arrange");
  const metrics = Object.fromEntries(SUMMARY.map(([id, label]) => [id, metric(label, id)]));
  const summary = h("section", { class: "summary", "aria-label": "Site summary" }, SUMMARY.map(([id]) => metrics[id].el));
  const tray = h("div", { class: "arrange-tray", hidden: true });
  const body = h("div", { class: "areas" });
  mount(main,
    h("div", { class: "page-head" },
      h("h1", null, "Overview"),
      h("div", { class: "field inline" }, h("label", { for: "filter" }, "Filter"), search),
      count, arrange),
    summary, tray, body);

  // --- summary ----------------------------------------------------------------------------------

  // The default entities of the summary change only when entities come or go (see build()).
  let defaults = null;
  const chosen = (kind) => {
    const picked = layout.summary[kind];
    if (Array.isArray(picked) && picked.length) return picked;
    defaults ??= summaryCandidates(store.states, registries).defaults;
    return defaults[kind];
  };
  let alarms = { critical: 0, warning: 0, info: 0 };
  let energy = null;
  let energyIds = null; // the meters `energy` was asked for

  function renderSummary() {
    // The states arrive after the page is drawn, and the user may choose other meters.
    if (chosen("energy").join(",") !== energyIds) refreshEnergy();
    const power = chosen("power").map((id) => powerKw(store.get(id))).filter((v) => v !== null);
    metrics.power.value.textContent = power.length ? `${fmtNumber(power.reduce((a, b) => a + b, 0), 2)} kW` : "—";
    metrics.power.sub.textContent = power.length ? `${power.length} meter${power.length > 1 ? "s" : ""}` : "no power meter chosen";
    metrics.energy.value.textContent = energy === null ? "—" : `${fmtNumber(energy, 2)} kWh`;
    metrics.energy.sub.textContent = energy === null ? "after the first 5 minutes of statistics" : "since midnight";
    const outdoor = store.get(chosen("outdoor")[0]);
    if (outdoor?.entity_id.startsWith("weather.")) {
      metrics.outdoor.value.textContent = `${outdoor.attributes.temperature} ${outdoor.attributes.temperature_unit || ctx.temperatureUnit}`;
    } else {
      metrics.outdoor.value.textContent = outdoor && !isUnavailable(outdoor) ? fmtState(outdoor) : "—";
    }
    metrics.outdoor.sub.textContent = outdoor ? entityName(outdoor) : "no outdoor sensor";
    const activeAlarms = alarms.critical + alarms.warning + alarms.info;
    metrics.alarms.value.textContent = String(activeAlarms);
    metrics.alarms.el.classList.toggle("bad", activeAlarms > 0);
    metrics.alarms.sub.textContent = activeAlarms
      ? ["critical", "warning", "info"].filter((s) => alarms[s]).map((s) => `${alarms[s]} ${s}`).join(", ")
      : "all clear";
    const plant = chosen("plant").map((id) => store.get(id)).filter(Boolean);
    const running = plant.filter((s) => s.state === "on").length;
    const down = plant.filter((s) => isUnavailable(s)).length;
    metrics.plant.value.textContent = plant.length ? `${running} of ${plant.length} running` : "—";
    metrics.plant.sub.textContent = !plant.length ? "no plant equipment" : down ? `${down} unavailable` : "all available";
    metrics.plant.el.classList.toggle("bad", down > 0);
  }
  function refreshEnergy() {
    const ids = chosen("energy");
    energyIds = ids.join(",");
    energyToday(conn, store, ids)
      .then((value) => { energy = value; })
      .catch(() => { energy = null; })
      .finally(() => { if (energyIds === ids.join(",")) renderSummary(); });
  }
  const stopAlarms = watchActiveAlarms(ctx.alarms, (counts) => { alarms = counts; renderSummary(); });

  // --- area tiles -------------------------------------------------------------------------------

  const rows = new Map(); // entity_id → {li, stateEl, control, ago}

  /** The time under a state: when it changed, after the moment it is for when it is an estimate. */
  const when = (s) => [estimateFor(s), ago(s.last_changed)].filter(Boolean).join(" · ");

  function row(state) {
    if (domainOf(state.entity_id) === "climate") {
      const card = thermostatCard(conn, state, { unit: ctx.temperatureUnit, canControl: ctx.canControl });
      const li = h("li", { class: "entity climate", "data-entity-id": state.entity_id }, card.el);
      return { li, update: (s) => card.update(s), tick: () => {} };
    }
    const stateEl = h("span", { class: "state" });
    const changedEl = h("span", { class: "changed muted" });
    const made = ctx.canControl ? control(conn, state) : null;
    const name = h("a", { href: `#/entity/${encodeURIComponent(state.entity_id)}`, class: "name" });
    const li = h("li", { class: "entity", "data-entity-id": state.entity_id },
      name, stateEl, changedEl, made ? h("span", { class: "control" }, made.el) : null);
    const item = {
      li,
      update(s) {
        const text = fmtState(s);
        if (stateEl.textContent !== text) stateEl.textContent = text;
        li.classList.toggle("unavailable", s.state === "unavailable");
        name.textContent = entityName(s);
        changedEl.textContent = when(s);
        made?.update(s);
      },
      tick(s) { changedEl.textContent = when(s); },
    };
    item.update(state);
    return item;
  }

  const areaName = (id) => (id === NO_AREA ? "No area" : registries.areas.get(id)?.name || id);
  /** Area ids in the user's order, then the registry's for the rest, "No area" last. */
  function ordered(ids) {
    const registryOrder = [...registries.areas.keys()];
    const rank = (id) => {
      const mine = layout.order.indexOf(id);
      if (mine >= 0) return mine;
      if (id === NO_AREA) return 1e6;
      const r = registryOrder.indexOf(id);
      return layout.order.length + (r < 0 ? 1e5 : r);
    };
    return [...ids].sort((a, b) => rank(a) - rank(b) || areaName(a).localeCompare(areaName(b)));
  }

  function build() {
    defaults = null;
    const needle = search.value.trim().toLowerCase();
    const groups = new Map(); // area → domain → [state]
    const devices = new Map(); // area → Set(device id)
    let shown = 0;
    for (const state of store.states.values()) {
      const entry = registries.entities.get(state.entity_id);
      if (entry?.hidden_by) continue;
      if (needle && !state.entity_id.includes(needle) && !entityName(state).toLowerCase().includes(needle)) continue;
      const area = areaOf(state.entity_id, registries) || NO_AREA;
      const domain = domainOf(state.entity_id);
      if (!groups.has(area)) { groups.set(area, new Map()); devices.set(area, new Set()); }
      const domains = groups.get(area);
      if (!domains.has(domain)) domains.set(domain, []);
      domains.get(domain).push(state);
      if (entry?.device_id) devices.get(area).add(entry.device_id);
      shown++;
    }
    const areas = ordered(groups.keys());
    const visible = arranging || needle ? areas : areas.filter((a) => !layout.hidden.includes(a));
    const sections = visible.map((area, position) => {
      const domains = groups.get(area);
      const id = `area-${area}`;
      const hidden = layout.hidden.includes(area);
      const equipment = [...devices.get(area)].map((d) => registries.devices.get(d)).filter(Boolean)
        .sort((a, b) => deviceName(a).localeCompare(deviceName(b)));
      return h("section", { class: `area card${hidden ? " is-hidden" : ""}`, "aria-labelledby": id, "data-area": area },
        h("div", { class: "area-head" },
          icon(areaIcon(registries.areas.get(area))),
          h("h2", { id }, areaName(area)),
          arranging ? arrangeButtons(area, position, visible.length, hidden) : null),
        equipment.length ? h("p", { class: "equipment" }, h("span", { class: "muted" }, "Equipment: "),
          equipment.map((d) => h("a", { href: `#/device/${encodeURIComponent(d.id)}`, class: "device-link" }, deviceName(d)))) : null,
        [...domains.keys()].sort((a, b) => domainRank(a) - domainRank(b) || domainName(a).localeCompare(domainName(b))).map((domain) => {
          const items = domains.get(domain).sort((a, b) => entityName(a).localeCompare(entityName(b))).map((state) => {
            let item = rows.get(state.entity_id);
            if (!item) { item = row(state); rows.set(state.entity_id, item); }
            return item.li;
          });
          const fold = !needle && items.length > FOLD + 2;
          return h("div", { class: "domain", "data-domain": domain },
            h("h3", null, domainName(domain)),
            h("ul", { class: "entities" }, fold ? items.slice(0, FOLD) : items),
            fold ? h("details", { class: "more" }, h("summary", null, `${items.length - FOLD} more ${domainName(domain).toLowerCase()}`),
              h("ul", { class: "entities" }, items.slice(FOLD))) : null);
        }));
    });
    for (const id of rows.keys()) if (!store.states.has(id)) rows.delete(id);
    count.textContent = `${shown} entities`;
    mount(body, sections.length ? sections : h("p", { class: "muted" }, store.ready ? "No entities." : "Waiting for states…"));
    renderSummary();
  }

  // --- arranging --------------------------------------------------------------------------------

  function move(area, by) {
    const all = ordered(new Set([...store.states.keys()].map((id) => areaOf(id, registries) || NO_AREA)));
    const from = all.indexOf(area);
    const to = from + by;
    if (from < 0 || to < 0 || to >= all.length) return;
    all.splice(to, 0, ...all.splice(from, 1));
    layout.order = all;
    build();
    body.querySelector(`[data-area="${CSS.escape(area)}"] [data-move="${by < 0 ? "up" : "down"}"]`)?.focus();
  }

  function arrangeButtons(area, position, total, hidden) {
    const name = areaName(area);
    return h("span", { class: "arrange-buttons" },
      h("button", { type: "button", class: "small", "data-move": "up", disabled: position === 0, "aria-label": `Move ${name} up`, onclick: () => move(area, -1) }, "↑"),
      h("button", { type: "button", class: "small", "data-move": "down", disabled: position === total - 1, "aria-label": `Move ${name} down`, onclick: () => move(area, 1) }, "↓"),
      h("button", {
        type: "button", class: "small", "aria-pressed": String(hidden), "aria-label": `${hidden ? "Show" : "Hide"} ${name}`,
        onclick: () => {
          layout.hidden = hidden ? layout.hidden.filter((a) => a !== area) : [...layout.hidden, area];
          build();
        },
      }, hidden ? "Show" : "Hide"));
  }

  function summaryPicker(kind, label, candidates) {
    const current = new Set(chosen(kind));
    const select = h("select", { multiple: true, size: Math.min(5, Math.max(2, candidates.length)), "data-kind": kind },
      candidates.map((s) => h("option", { value: s.entity_id, selected: current.has(s.entity_id) }, `${entityName(s)} (${s.entity_id})`)));
    select.id = `summary-${kind}`;
    return h("div", { class: "field" }, h("label", { for: select.id }, label), select);
  }

  function startArranging() {
    arranging = true;
    const before = JSON.parse(JSON.stringify(layout));
    arrange.setAttribute("aria-pressed", "true");
    arrange.disabled = true;
    const { candidates } = summaryCandidates(store.states, registries);
    const pickers = [
      summaryPicker("power", "Total power: the meters to add up", candidates.power),
      summaryPicker("energy", "Energy today: the meters to add up", candidates.energy),
      summaryPicker("outdoor", "Outdoor temperature: the sensor", candidates.outdoor),
      summaryPicker("plant", "Plant status: the equipment's on/off entities", candidates.plant),
    ];
    const done = (keep) => {
      arranging = false;
      arrange.setAttribute("aria-pressed", "false");
      arrange.disabled = false;
      tray.hidden = true;
      if (!keep) layout = before;
      build();
      arrange.focus();
    };
    mount(tray,
      h("h2", null, "Arrange the overview"),
      h("p", { class: "muted" }, "Move or hide areas with the buttons on each card; choose what the summary adds up. Saved for you only."),
      h("div", { class: "pickers" }, pickers),
      h("div", { class: "buttons" },
        h("button", {
          type: "button", class: "primary",
          onclick: async () => {
            for (const select of tray.querySelectorAll("select[data-kind]")) {
              layout.summary[select.dataset.kind] = [...select.selectedOptions].map((o) => o.value);
            }
            // A refused save (attempt shows why) leaves the tray open with the changes.
            const ok = await attempt(() => saveUserData(conn, LAYOUT_KEY, layout));
            if (ok === undefined) return;
            announce("Layout saved");
            done(true);
          },
        }, "Save layout"),
        h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
        h("button", {
          type: "button",
          onclick: async () => {
            layout = { order: [], hidden: [], summary: {} };
            await attempt(() => saveUserData(conn, LAYOUT_KEY, null), "Layout reset to the default");
            done(true);
          },
        }, "Reset to default")));
    tray.hidden = false;
    build();
    tray.querySelector("h2").scrollIntoView({ block: "nearest" });
  }

  build();
  let timer = 0;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(build, 150); });
  const stop = store.listen((changed, membership) => {
    if (membership) { build(); return; }
    for (const id of changed) {
      const item = rows.get(id);
      const state = store.get(id);
      if (item && state) item.update(state);
    }
    renderSummary();
  });
  // "x s ago" moves on even without changes; energy today follows the 5-minute statistics.
  const tick = setInterval(() => {
    for (const [id, item] of rows) {
      const state = store.get(id);
      if (state) item.tick(state);
    }
  }, 10_000);
  const energyTick = setInterval(refreshEnergy, 60_000);
  return () => { stop(); stopAlarms(); clearInterval(tick); clearInterval(energyTick); };
}
