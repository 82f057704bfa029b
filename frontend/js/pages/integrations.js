// Integrations with their status and errors, connection state of hubs, devices and their entities.

import { entityName, fmtState, h, mount } from "../dom.js";

const STATUS_TEXT = {
  running: "Running", setup_error: "Setup failed", config_error: "Configuration error",
  dependency_failed: "A dependency failed", setting_up: "Setting up", not_configured: "Not configured",
  loaded: "Loaded", stopped: "Stopped",
};

export default async function integrations(ctx, main) {
  const { conn, store } = ctx;
  const [list, registries] = await Promise.all([
    conn.command({ type: "edgewise/integrations" }),
    ctx.loadRegistries(true),
  ]);
  const connectivity = [...store.states.values()].filter((s) => s.attributes.device_class === "connectivity");
  const entitiesOf = new Map();
  for (const entry of registries.entities.values()) {
    if (!entry.device_id) continue;
    if (!entitiesOf.has(entry.device_id)) entitiesOf.set(entry.device_id, []);
    entitiesOf.get(entry.device_id).push(entry.entity_id);
  }
  const shown = list.filter((i) => i.status !== "not_configured" && i.status !== "loaded");
  // The Error column only when an integration has one (a phone has no room for an empty one).
  const anyError = shown.some((i) => i.error);
  mount(main,
    h("h1", null, "Integrations"),
    h("section", { class: "card" },
      h("h2", null, "Configured integrations"),
      h("table", { class: "integrations" },
        h("thead", null, h("tr", null, ["Integration", "Status", anyError ? "Error" : null].filter(Boolean).map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, shown.map((i) => h("tr", { "data-domain": i.domain },
          h("td", null, i.name, " ", h("code", { class: "id" }, i.domain)),
          h("td", null, h("span", { class: `badge ${i.status === "running" ? "ok" : i.error ? "bad" : ""}` }, STATUS_TEXT[i.status] || i.status)),
          anyError ? h("td", null, i.error || "") : null))))),
    h("section", { class: "card" },
      h("h2", null, "Connections"),
      connectivity.length
        ? h("ul", { class: "entities" }, connectivity.map((s) => h("li", { class: `entity ${s.state === "on" ? "" : "unavailable"}` },
          h("a", { href: `#/entity/${encodeURIComponent(s.entity_id)}`, class: "name" }, entityName(s)),
          h("span", { class: `badge ${s.state === "on" ? "ok" : "bad"}` }, s.state === "on" ? "Connected" : s.state === "off" ? "Disconnected" : s.state))))
        : h("p", { class: "muted" }, "No hub reports a connection state.")),
    h("section", { class: "card" },
      h("h2", null, "Devices"),
      registries.devices.size
        ? h("div", { class: "devices" }, [...registries.devices.values()].map((d) => h("details", null,
          h("summary", null, d.name_by_user || d.name || d.id, " ", h("span", { class: "muted" }, [d.manufacturer, d.model, d.integration].filter(Boolean).join(" · "))),
          h("ul", { class: "entities" }, (entitiesOf.get(d.id) || []).map((id) => {
            const s = store.get(id);
            return h("li", { class: "entity" }, h("a", { href: `#/entity/${encodeURIComponent(id)}`, class: "name" }, s ? entityName(s) : id),
              h("span", { class: "state" }, s ? fmtState(s) : "no state"));
          })))))
        : h("p", { class: "muted" }, "No devices yet.")));
}
