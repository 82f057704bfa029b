// The optimizer's page: the published home plan as a chart (loads stacked, PV, price, battery),
// each slot's reasons on hover. It reads the EMHASS-named sensors optimizer.publish_plan sets.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7"];

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.append(node);
  return node;
}

function series(store, id, key) {
  const state = store.get(id);
  const list = state?.attributes?.forecasts || state?.attributes?.deferrables_schedule;
  return Array.isArray(list) ? list.map((item) => Number(item[key]) || 0) : [];
}

function plan(store) {
  const loads = [];
  for (let i = 0; ; i += 1) {
    const state = store.get(`sensor.p_deferrable${i}`);
    if (!state) break;
    const schedule = state.attributes.deferrables_schedule || [];
    loads.push({
      name: state.attributes.load_name || `deferrable${i}`,
      kw: schedule.map((item) => (Number(item[`p_deferrable${i}`]) || 0) / 1000),
      reasons: schedule.map((item) => item.reason || ""),
      dates: schedule.map((item) => item.date),
    });
  }
  return {
    status: store.get("sensor.optim_status")?.state,
    cost: store.get("sensor.total_cost_fun_value")?.state,
    loads,
    pv: series(store, "sensor.p_pv_forecast", "p_pv_forecast").map((w) => w / 1000),
    price: series(store, "sensor.unit_load_cost", "unit_load_cost"),
    soc: series(store, "sensor.soc_batt_forecast", "soc_batt_forecast"),
  };
}

function draw(root, data) {
  root.replaceChildren();
  const head = document.createElement("p");
  head.id = "optimizer-status";
  if (!data.loads.length) {
    head.textContent = "No plan published yet: call optimizer.plan_deferrable_loads with publish: true.";
    root.append(head);
    return;
  }
  head.textContent = `Status: ${data.status} · cost ${data.cost}`;
  root.append(head);
  const n = data.loads[0].kw.length;
  const width = 900;
  const height = 320;
  const pad = { left: 44, right: 48, top: 12, bottom: 28 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const stacked = Array.from({ length: n }, (_, t) => data.loads.reduce((sum, l) => sum + l.kw[t], 0));
  const maxKw = Math.max(1, ...stacked, ...data.pv);
  const maxPrice = Math.max(0.01, ...data.price);
  const x = (t) => pad.left + (t * plotW) / n;
  const y = (kw) => pad.top + plotH - (kw * plotH) / maxKw;
  const yPrice = (p) => pad.top + plotH - (p * plotH) / maxPrice;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" });
  svg.setAttribute("aria-label", "Deferrable-load plan");
  el("line", { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), stroke: "#888" }, svg);
  el("text", { x: 4, y: pad.top + 10, "font-size": 11 }, svg).textContent = `${maxKw.toFixed(1)} kW`;
  el("text", { x: width - pad.right + 4, y: pad.top + 10, "font-size": 11 }, svg).textContent =
    `${maxPrice.toFixed(2)}/kWh`;
  const tip = document.createElement("pre");
  tip.id = "optimizer-reason";
  tip.style.whiteSpace = "pre-wrap";
  for (let t = 0; t < n; t += 1) {
    let base = 0;
    data.loads.forEach((load, i) => {
      if (load.kw[t] <= 0) return;
      const bar = el("rect", {
        x: x(t) + 1, width: Math.max(1, plotW / n - 2), y: y(base + load.kw[t]),
        height: y(base) - y(base + load.kw[t]), fill: COLOURS[i % COLOURS.length],
        "data-slot": t, "data-load": load.name,
      }, svg);
      el("title", {}, bar).textContent = `${load.name}: ${load.kw[t]} kW — ${load.reasons[t]}`;
      base += load.kw[t];
    });
    const hover = el("rect", {
      x: x(t), y: pad.top, width: plotW / n, height: plotH, fill: "transparent", "data-hover": t,
    }, svg);
    hover.addEventListener("mouseenter", () => {
      const lines = [`slot ${t}${data.loads[0].dates[t] ? ` (${data.loads[0].dates[t]})` : ""}`];
      if (data.price.length) lines.push(`price ${data.price[t]}/kWh`);
      if (data.pv.length) lines.push(`PV ${data.pv[t].toFixed(2)} kW`);
      if (data.soc.length) lines.push(`battery ${data.soc[t].toFixed(0)} %`);
      for (const load of data.loads) {
        if (load.kw[t] > 0) lines.push(`${load.name} ${load.kw[t]} kW: ${load.reasons[t]}`);
      }
      tip.textContent = lines.join("\n");
    });
  }
  const line = (values, scale, colour, dash) => {
    if (!values.length) return;
    const points = values.map((v, t) => `${x(t + 0.5)},${scale(v)}`).join(" ");
    el("polyline", {
      points, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash,
      "pointer-events": "none",
    }, svg);
  };
  line(data.pv, y, "#e15759", "");
  line(data.price, yPrice, "#333", "4 3");
  if (data.soc.length) line(data.soc, (s) => pad.top + plotH - (s * plotH) / 100, "#9c755f", "1 3");
  root.append(svg);
  const legend = document.createElement("p");
  legend.textContent = `${data.loads.map((l) => l.name).join(", ")} (stacked bars) · PV (red) · price (dashed)` +
    (data.soc.length ? " · battery % (dotted)" : "");
  root.append(legend, tip);
}

export default function render(element, api) {
  const root = document.createElement("section");
  root.id = "optimizer-plan";
  element.append(root);
  const redraw = () => draw(root, plan(api.store));
  redraw();
  const stop = api.store.listen((changed) => {
    for (const id of changed) {
      if (id.startsWith("sensor.p_deferrable") || id === "sensor.optim_status") {
        redraw();
        return;
      }
    }
  });
  return stop;
}
