// One entity: state, control, attributes, who changed it last, history chart, statistics.

import { loadUplot } from "../chart.js";
import { control } from "../controls.js";
import { attempt, entityName, estimateFor, fmtState, fmtTime, h, mount } from "../dom.js";
import { deviceName } from "../site.js";
import { thermostatCard } from "../thermostat.js";
import { settingsCard } from "./entity_settings.js";

const PERIODS = [["1 hour", 1], ["6 hours", 6], ["24 hours", 24], ["7 days", 168], ["30 days", 720]];
export function changedBy(state, userNames) {
  const context = state.context || {};
  if (context.user_id) return `${userNames[context.user_id] || "a user"} (user)`;
  if (context.parent_id) return "an automation or script";
  return "Edgewise (an integration or the system)";
}

async function chart(container, conn, entityId, hours) {
  const end = new Date();
  const start = new Date(end.getTime() - hours * 3600_000);
  let history;
  try {
    history = await conn.command({
      type: "history/downsampled", entity_ids: [entityId],
      start_time: start.toISOString(), end_time: end.toISOString(), points: 300,
    });
  } catch (err) {
    mount(container, h("p", { class: "muted" }, `No history: ${err.message}`));
    return;
  }
  const items = history[entityId] || [];
  if (!items.length) {
    mount(container, h("p", { class: "muted" }, "Nothing recorded in this period."));
    return;
  }
  if (!("mean" in items[0])) {
    mount(container, h("table", { class: "changes" },
      h("caption", null, "Changes of state"),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "State"))),
      h("tbody", null, items.slice().reverse().map((i) => h("tr", null, h("td", null, fmtTime(i.t)), h("td", null, i.state))))));
    return;
  }
  const uPlot = await loadUplot();
  const xs = items.map((i) => Date.parse(i.t) / 1000);
  const style = getComputedStyle(document.documentElement);
  const accent = style.getPropertyValue("--accent").trim() || "#2563eb";
  const faint = style.getPropertyValue("--muted").trim() || "#888";
  mount(container);
  const width = Math.max(280, container.clientWidth || 600);
  const plot = new uPlot({
    width, height: 240,
    scales: { x: { time: true, range: () => [start.getTime() / 1000, end.getTime() / 1000] } },
    axes: [{ stroke: faint }, { stroke: faint }],
    series: [
      {},
      { label: "mean", stroke: accent, width: 2 },
      { label: "min", stroke: faint, dash: [4, 4] },
      { label: "max", stroke: faint, dash: [4, 4] },
    ],
  }, [xs, items.map((i) => i.mean), items.map((i) => i.min), items.map((i) => i.max)], container);
  container.setAttribute("aria-label", `History chart of ${entityId}: ${items.length} points`);
  return plot;
}

/**
 * Daily statistics of the last 7 days, and the 5-minute statistics of the last hour: those are
 * compiled every 5 minutes, so a new sensor shows its first row within 5 minutes.
 */
async function statistics(container, conn, entityId) {
  const now = Date.now();
  const ask = (period, since) => conn.command({
    type: "recorder/statistics_during_period", statistic_ids: [entityId],
    start_time: new Date(since).toISOString(), period, types: ["change", "mean", "min", "max", "sum"],
  });
  let daily;
  let recent;
  try {
    [daily, recent] = await Promise.all([ask("day", now - 7 * 86400_000), ask("5minute", now - 3600_000)]);
  } catch (err) {
    mount(container, h("p", { class: "muted" }, `No statistics: ${err.message}`));
    return;
  }
  const days = daily[entityId] || [];
  const short = recent[entityId] || [];
  if (!days.length && !short.length) {
    mount(container, h("p", { class: "muted" }, "No statistics yet: the first are compiled within 5 minutes (every 5 minutes, then hourly and daily)."));
    return;
  }
  const num = (v) => (v === null || v === undefined ? "" : Number(v).toFixed(2));
  const table = (caption, rows, id) => h("table", { id },
    h("caption", null, caption),
    h("thead", null, h("tr", null, ["From", "Change", "Mean", "Min", "Max"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", null, rows.map((r) => h("tr", null,
      h("td", null, fmtTime(r.start)), h("td", null, num(r.change)), h("td", null, num(r.mean)),
      h("td", null, num(r.min)), h("td", null, num(r.max))))));
  mount(container,
    short.length ? table("Every 5 minutes, last hour (compiled every 5 minutes)", short.slice().reverse(), "stats-5minute") : null,
    days.length ? table("Daily, last 7 days", days, "stats-daily") : h("p", { class: "muted" }, "Daily statistics follow once the first hour is compiled."));
}

export default async function entityPage(ctx, main, [entityId]) {
  const { conn, store } = ctx;
  const registries = await ctx.loadRegistries();
  const title = h("h1");
  const stateEl = h("p", { class: "big-state", "aria-live": "polite" });
  const forEl = h("p", { class: "estimate-for muted", id: "estimate-for" });
  const facts = h("dl", { class: "facts" });
  const attrs = h("tbody");
  const controlSlot = h("div", { class: "control" });
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": `History chart of ${entityId}` });
  const statsBox = h("div", { class: "stats" });
  const period = h("select", { id: "period" }, PERIODS.map(([label, hours]) => h("option", { value: hours, selected: hours === 24 }, label)));
  let made = null;
  const cards = [
    h("section", { class: "card" }, h("h2", null, "Details"), facts),
    h("section", { class: "card" },
      h("div", { class: "page-head" }, h("h2", null, "History"),
        h("div", { class: "field inline" }, h("label", { for: "period" }, "Period"), period),
        h("a", { href: `#/history/${new URLSearchParams({ range: "7d", entities: entityId })}` }, "Compare in History")),
      chartBox),
    h("section", { class: "card", id: "statistics" }, h("h2", null, "Statistics"), statsBox),
    h("section", { class: "card" }, h("h2", null, "Attributes"),
      h("table", { class: "attributes" }, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Attribute"), h("th", { scope: "col" }, "Value"))), attrs)),
  ];
  mount(main,
    h("p", null, h("a", { href: "#/overview" }, "← Overview")),
    title, stateEl, forEl, controlSlot, ...cards);

  function render() {
    const state = store.get(entityId);
    // An area-limited user is sent only their areas' entities: another's is not theirs to see.
    const notTheirs = !state && Boolean(ctx.user.areas) && store.ready;
    for (const card of cards) card.hidden = notTheirs;
    stateEl.className = notTheirs ? "muted" : "big-state";
    if (notTheirs) stateEl.setAttribute("role", "alert");
    else stateEl.removeAttribute("role");
    forEl.textContent = estimateFor(state);
    forEl.hidden = !forEl.textContent;
    if (!state) {
      title.textContent = entityId;
      stateEl.textContent = notTheirs
        ? "This entity is not available to you: it is outside your areas, or does not exist."
        : "This entity has no state (it does not exist or was removed).";
      return;
    }
    title.textContent = entityName(state);
    chartBox.setAttribute("aria-label", `History chart of ${entityName(state)}`);
    stateEl.textContent = fmtState(state);
    stateEl.classList.toggle("unavailable", state.state === "unavailable");
    if (!made && state.entity_id.startsWith("climate.")) {
      made = thermostatCard(conn, state, { unit: ctx.temperatureUnit, canControl: ctx.canControl, link: false });
      controlSlot.append(made.el);
    } else if (ctx.canControl && !made) {
      made = control(conn, state);
      if (made) controlSlot.append(made.el);
    }
    made?.update(state);
    const entry = registries.entities.get(entityId);
    const device = entry?.device_id ? registries.devices.get(entry.device_id) : null;
    mount(facts,
      h("dt", null, "Entity id"), h("dd", null, h("code", null, entityId)),
      h("dt", null, "Last changed"), h("dd", null, fmtTime(state.last_changed)),
      h("dt", null, "Last updated"), h("dd", null, fmtTime(state.last_updated)),
      h("dt", null, "Last changed by"), h("dd", { id: "changed-by" }, changedBy(state, registries.userNames)),
      device ? [h("dt", null, "Device"), h("dd", null, h("a", { href: `#/device/${encodeURIComponent(device.id)}`, id: "device-link" }, deviceName(device)))] : null,
      entry ? [h("dt", null, "Integration"), h("dd", null, entry.platform)] : null);
    mount(attrs, Object.entries(state.attributes).map(([k, v]) => h("tr", null,
      h("th", { scope: "row" }, k), h("td", null, typeof v === "object" ? JSON.stringify(v) : String(v)))));
  }

  const registered = registries.entities.get(entityId);
  if (ctx.isAdmin && registered) {
    main.append(settingsCard(ctx, registered, (newId) => {
      location.hash = `#/entity/${encodeURIComponent(newId)}`;
    }));
  }
  render();
  const stop = store.listen((changed, membership) => { if (membership || changed.has(entityId)) render(); });
  const drawChart = () => attempt(() => chart(chartBox, conn, entityId, Number(period.value)));
  period.addEventListener("change", drawChart);
  drawChart();
  const state = store.get(entityId);
  if (state?.attributes?.state_class) attempt(() => statistics(statsBox, conn, entityId));
  else mount(statsBox, h("p", { class: "muted" }, "Long-term statistics are kept for sensors with a state class (meters, measurements)."));
  return stop;
}
