// The Energy page: today's and tomorrow's prices as a timeline (slot types, cheapest windows),
// cost, energy and savings today per appliance, the schedules with a picker that shows what
// each option costs before saving, the schedule log and the receipts.
// Served by the tariff integration through the edgewise_panels hook; render(element, api).

const TYPES = { off_peak: "Off-peak", standard: "Standard", peak: "Peak" };
// Dark enough for the white price text on them (WCAG AA contrast, checked by axe in the tests).
const COLORS = { off_peak: "#1b5e20", standard: "#7a4f00", peak: "#b71c1c" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Times are shown in the site's time zone (the core configuration's), not the browser's.
let zone;
const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: zone });
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: zone }) : "–");
const money = (value, currency) => (typeof value === "number" ? `${value.toFixed(2)} ${currency}` : "–");
const dayKey = (iso) => new Date(iso).toLocaleDateString("en-CA", { timeZone: zone });

// One bar per local day of the site: a segment per slot, sized by its length, the cheapest
// windows outlined, now marked.
function timeline(prices) {
  const now = Date.parse(prices.now);
  const rows = [];
  for (const day of prices.days) {
    const start = Date.parse(day.start);
    const end = Date.parse(day.end);
    const span = end - start;
    const segments = prices.segments.filter((s) => Date.parse(s.start) < end && Date.parse(s.end) > start);
    if (!segments.length) {
      rows.push(el("div", { class: "tariff-day" }, el("h3", {}, day.date), el("p", { class: "muted" }, "No prices yet")));
      continue;
    }
    const pct = (t) => `${(((t - start) / span) * 100).toFixed(3)}%`;
    const bar = el("div", { class: "tariff-bar", role: "img", "aria-label": `Prices on ${day.date}: ${segments.map((s) => `${time(s.start)} ${TYPES[s.type]} ${s.price}`).join(", ")}`, style: "position:relative;display:flex;height:2.5em;border-radius:4px;overflow:hidden" },
      ...segments.map((s) => el("div", {
        class: `tariff-slot slot-${s.type}`,
        "data-type": s.type,
        title: `${time(s.start)}–${time(s.end)} · ${TYPES[s.type]} · ${s.price} ${prices.currency}/kWh`,
        style: `flex:${Date.parse(s.end) - Date.parse(s.start)};background:${COLORS[s.type]};color:#fff;font-size:0.75em;overflow:hidden;white-space:nowrap;padding:2px`,
      }, `${time(s.start)} ${s.price}`)));
    for (const window of prices.windows) {
      for (const block of window.blocks) {
        const a = Math.max(Date.parse(block.start), start);
        const b = Math.min(Date.parse(block.end), end);
        if (b <= a) continue;
        bar.append(el("div", {
          class: "tariff-window",
          title: `Cheapest ${window.minutes} min: ${time(block.start)}–${time(block.end)}, ${block.average_price} ${prices.currency}/kWh`,
          style: `position:absolute;top:0;bottom:0;left:${pct(a)};width:calc(${pct(b)} - ${pct(a)});border:2px dashed #fff;box-sizing:border-box`,
        }));
      }
    }
    if (now >= start && now < end) {
      bar.append(el("div", { class: "tariff-now", title: "now", style: `position:absolute;top:0;bottom:0;left:${pct(now)};width:2px;background:#000` }));
    }
    const title = new Date(start).toLocaleDateString([], { weekday: "long", day: "numeric", month: "short", timeZone: zone });
    rows.push(el("div", { class: "tariff-day", "data-date": day.date }, el("h3", {}, title), bar));
  }
  const legend = el("p", { class: "muted" }, ...Object.entries(TYPES).map(([type, label]) =>
    el("span", { style: `margin-right:1em` }, el("span", { style: `display:inline-block;width:0.8em;height:0.8em;background:${COLORS[type]}` }), ` ${label}`)),
    " · dashed: cheapest windows");
  return [legend, ...rows];
}

export default function render(element, api) {
  const { conn, store } = api;
  const status = el("p", { class: "error", role: "alert" });
  const now = el("p", { class: "tariff-current" });
  const prices = el("div", { class: "tariff-timeline" });
  const today = el("tbody");
  const schedules = el("tbody");
  const log = el("tbody");
  const receipts = el("tbody");
  const options = el("div", { class: "tariff-options" });
  let currency = "";
  let nowIso = new Date().toISOString();

  // The picker: what, when, how; "Preview costs" shows each option's cost before saving.
  const applianceSelect = el("select", { name: "appliance", "aria-label": "Appliance" });
  const kind = el("select", { name: "kind", "aria-label": "Kind" },
    ...[["once", "Once"], ["daily", "Every day"], ["weekdays", "On weekdays"], ["finish_by", "Finish by (cheapest slots)"]].map(([v, t]) => el("option", { value: v }, t)));
  const start = el("input", { name: "start", type: "datetime-local", "aria-label": "Start" });
  const startTime = el("input", { name: "start_time", type: "time", "aria-label": "Start time", hidden: true });
  const duration = el("input", { name: "duration", type: "time", value: "02:00", "aria-label": "Run length (hh:mm)" });
  const deadline = el("input", { name: "deadline", type: "datetime-local", "aria-label": "Deadline" });
  const deadlineLabel = el("label", { hidden: true }, "Deadline ", deadline);
  const weekdays = el("fieldset", { hidden: true }, el("legend", {}, "Days"),
    ...["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((d) => el("label", {}, el("input", { type: "checkbox", value: d, checked: !["sat", "sun"].includes(d) }), ` ${d} `)));
  const save = el("button", { type: "submit" }, "Save schedule");
  const previewButton = el("button", { type: "button", onclick: () => preview() }, "Preview costs");
  const picker = el("form", { class: "card tariff-picker", onsubmit: (e) => { e.preventDefault(); create(); } },
    el("h2", {}, "New schedule"),
    el("label", {}, "Appliance ", applianceSelect), " ",
    el("label", {}, "Kind ", kind), " ",
    el("label", {}, "Start ", start, startTime), " ",
    el("label", {}, "Runs for ", duration), " ",
    deadlineLabel,
    weekdays, previewButton, " ", save, options);

  function showFields() {
    const k = kind.value;
    start.hidden = k !== "once";
    startTime.hidden = !["daily", "weekdays"].includes(k);
    deadlineLabel.hidden = k !== "finish_by";
    weekdays.hidden = k !== "weekdays";
  }
  kind.addEventListener("change", showFields);

  const local = (value) => (value ? new Date(value).toISOString() : undefined);
  const hhmmss = () => `${duration.value || "01:00"}:00`;

  function request() {
    const k = kind.value;
    const body = { appliance: applianceSelect.value, kind: k, duration: hhmmss() };
    if (k === "once") body.start = local(start.value);
    if (k === "daily" || k === "weekdays") body.start = startTime.value;
    if (k === "weekdays") body.weekdays = [...weekdays.querySelectorAll("input:checked")].map((i) => i.value);
    if (k === "finish_by") body.deadline = local(deadline.value);
    return body;
  }

  async function preview() {
    status.textContent = "";
    const message = { type: "tariff/preview", appliance: applianceSelect.value, duration: hhmmss() };
    if (deadline.value) message.deadline = local(deadline.value);
    try {
      const result = await conn.command(message);
      const labels = { now: "Start now", cheapest: "Cheapest before the deadline", next_cheaper: "Next cheaper slot" };
      options.replaceChildren(el("table", { class: "tariff-option-table" },
        el("thead", {}, el("tr", {}, ...["Option", "Start", "Cost", "Saving", ""].map((t) => el("th", {}, t)))),
        el("tbody", {}, ...Object.entries(result.options).map(([name, option]) => el("tr", { "data-option": name },
          el("td", {}, labels[name] || name),
          el("td", {}, option ? when(option.start) : "none"),
          el("td", {}, option ? money(option.cost, currency) : "–"),
          el("td", {}, option && option.saving !== null ? money(option.saving, currency) : "–"),
          el("td", {}, option ? el("button", { type: "button", onclick: () => { kind.value = "once"; showFields(); start.value = toLocalInput(option.start); } }, "Use") : ""))))));
    } catch (err) {
      status.textContent = `Preview: ${err.message || err}`;
    }
  }

  function toLocalInput(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  async function create() {
    status.textContent = "";
    try {
      await conn.command({ type: "tariff/schedule_create", ...request() });
      options.replaceChildren(el("p", { class: "ok" }, "Saved."));
      refresh();
    } catch (err) {
      status.textContent = `Schedule: ${err.message || err}`;
    }
  }

  async function remove(id) {
    try {
      await conn.command({ type: "tariff/schedule_delete", schedule_id: id });
    } catch (err) {
      status.textContent = `Schedule: ${err.message || err}`;
    }
    refresh();
  }

  function drawToday(receiptList, meters) {
    const metered = new Map(meters.map((m) => [m.appliance, m]));
    const todayKey = dayKey(nowIso);
    const savings = new Map();
    for (const r of receiptList) {
      if (dayKey(r.actual_end) === todayKey && typeof r.saving === "number") savings.set(r.appliance, (savings.get(r.appliance) || 0) + r.saving);
    }
    const rows = [];
    applianceSelect.replaceChildren();
    for (const [id, state] of store.states) {
      if (!id.startsWith("appliance.")) continue;
      const a = state.attributes;
      applianceSelect.append(el("option", { value: id }, a.friendly_name || id));
      rows.push(el("tr", { "data-entity": id },
        el("td", {}, a.friendly_name || id),
        el("td", {}, state.state + (a.planned_start ? ` (next start ${when(a.planned_start)})` : "")),
        el("td", {}, metered.has(id) ? `${metered.get(id).energy_kwh.toFixed(2)} kWh` : "–"),
        el("td", {}, money(metered.has(id) ? metered.get(id).cost : null, currency)),
        el("td", {}, money(savings.get(id) || 0, currency))));
    }
    today.replaceChildren(...rows);
  }

  async function refresh() {
    try {
      const [p, s, r] = await Promise.all([
        conn.command({ type: "tariff/prices" }),
        conn.command({ type: "tariff/schedules" }),
        conn.command({ type: "tariff/receipts" }),
      ]);
      currency = p.currency;
      zone = p.time_zone;
      nowIso = p.now;
      now.textContent = p.current ? `Now: ${TYPES[p.current.type]} · ${p.current.price} ${p.currency}/kWh until ${time(p.current.end)}` : (p.problem || "No price now");
      prices.replaceChildren(...timeline(p));
      schedules.replaceChildren(...s.schedules.map((x) => el("tr", { "data-schedule": x.id },
        el("td", {}, x.name), el("td", {}, x.appliance), el("td", {}, x.kind),
        el("td", {}, when(x.next_run)),
        el("td", {}, x.plan ? x.plan.map(([a, b]) => `${time(a)}–${time(b)}`).join(", ") : ""),
        el("td", {}, el("button", { type: "button", onclick: () => remove(x.id) }, "Delete")))));
      log.replaceChildren(...s.log.slice(0, 30).map((e) => el("tr", { class: `result-${e.result}` },
        el("td", {}, when(e.planned)), el("td", {}, e.actual ? when(e.actual) : "–"),
        el("td", {}, e.name), el("td", {}, e.action), el("td", {}, e.result),
        el("td", { class: "error" }, e.error || ""))));
      receipts.replaceChildren(...r.receipts.slice(0, 30).map((x) => el("tr", {},
        el("td", {}, x.appliance), el("td", {}, x.source),
        el("td", {}, x.planned_start ? `${when(x.planned_start)}–${time(x.planned_end || x.actual_end)}` : "–"),
        el("td", {}, `${x.energy_kwh.toFixed(2)} kWh`), el("td", {}, money(x.cost, x.currency)),
        el("td", {}, `${x.carbon_kg.toFixed(2)} kg`), el("td", {}, money(x.saving, x.currency)))));
      drawToday(r.receipts, r.today);
    } catch (err) {
      status.textContent = `Tariff: ${err.message || err}`;
    }
  }

  const table = (head, body) => el("table", {}, el("thead", {}, el("tr", {}, ...head.map((t) => el("th", {}, t)))), body);
  element.append(
    status,
    el("section", { class: "card" }, el("h2", {}, "Prices"), now, prices),
    el("section", { class: "card" }, el("h2", {}, "Today"), table(["Appliance", "State", "Energy", "Cost", "Savings"], today)),
    picker,
    el("section", { class: "card" }, el("h2", {}, "Schedules"), table(["Name", "Appliance", "Kind", "Next start", "Plan", ""], schedules)),
    el("section", { class: "card" }, el("h2", {}, "Schedule log"), table(["Planned", "Actual", "Schedule", "Action", "Result", "Error"], log)),
    el("section", { class: "card" }, el("h2", {}, "Receipts"), table(["Appliance", "Source", "Window", "Energy", "Cost", "Carbon", "Saving"], receipts)),
  );
  showFields();
  refresh();
  const timer = setInterval(refresh, 60_000);
  const stopListening = store.listen((changed) => {
    if ([...changed].some((id) => id.startsWith("appliance.") || id.startsWith("sensor.electricity"))) refresh();
  });
  return () => { clearInterval(timer); stopListening(); };
}
