// The Historian page: the completeness report of the store-and-forward buffer, per series and
// hour (rows accepted, delivered, replayed after an outage, dropped, still pending, missing).
// Served by the timescale integration through the edgewise_panels hook; render(element, api).

const COLUMNS = ["accepted", "delivered", "replayed", "dropped", "pending", "missing"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function hourText(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 13).replace("T", " ") + ":00 UTC";
}

export default function render(element, api) {
  const status = el("p", { class: "error", role: "alert" });
  const summary = el("p", { class: "historian-summary" });
  const body = el("tbody");
  const refresh = el("button", { type: "button", onclick: () => load() }, "Refresh");
  element.append(
    status,
    el("section", { class: "card historian-completeness" },
      el("h2", {}, "Completeness ", refresh),
      summary,
      el("table", { class: "completeness" },
        el("thead", {}, el("tr", {}, el("th", {}, "Series"), el("th", {}, "Hour"),
          ...COLUMNS.map((c) => el("th", {}, c)))),
        body)),
  );

  async function load() {
    status.textContent = "";
    try {
      const result = await api.conn.command({
        type: "call_service", domain: "timescale", service: "completeness",
        service_data: {}, return_response: true,
      });
      show(result.response);
    } catch (err) {
      status.textContent = `Cannot read the completeness report: ${err.message || err}`;
    }
  }

  function show(report) {
    const t = report.totals;
    summary.textContent = `Site ${report.site_id}: ${t.accepted} rows accepted, ${t.delivered} delivered `
      + `(${t.replayed} after an outage), ${t.dropped} dropped, ${t.pending} pending, ${t.missing} missing.`;
    const rows = [];
    for (const [entityId, hours] of Object.entries(report.series)) {
      for (const line of hours) {
        rows.push(el("tr", { "data-series": entityId, class: line.missing ? "incomplete" : "complete" },
          el("td", {}, entityId), el("td", {}, hourText(line.hour)),
          ...COLUMNS.map((c) => el("td", {}, line[c]))));
      }
    }
    body.replaceChildren(...rows);
  }

  load();
}
