// Alarms (persistent notifications with a severity), kept live for the whole panel: the header's
// link with the active counts by severity, and the store the Alarms page reads.
// Streamed by persistent_notification/subscribe (Home Assistant's format, Edgewise's fields).

import { h, mount } from "./dom.js";

export const SEVERITIES = ["critical", "warning", "info"];

/** The live alarms: `items` by id, `listen(fn)` for changes; starts the subscription on ctx.conn. */
export function alarmStore(conn) {
  const items = new Map();
  const listeners = new Set();
  conn.subscribe({ type: "persistent_notification/subscribe" }, (event) => {
    if (event.type === "current") items.clear();
    for (const [id, n] of Object.entries(event.notifications)) {
      if (event.type === "removed") items.delete(id);
      else items.set(id, n);
    }
    for (const listener of listeners) listener();
  });
  return {
    items,
    listen(listener) { listeners.add(listener); return () => listeners.delete(listener); },
    /** Active (not yet acknowledged) alarms by severity. */
    counts() {
      const counts = { critical: 0, warning: 0, info: 0 };
      for (const n of items.values()) if (!n.acknowledged_at) counts[n.severity || "info"] += 1;
      return counts;
    },
  };
}

/** The header's link to the Alarms page: a badge per severity with unacknowledged alarms. */
export function alarmsLink(alarms) {
  const link = h("a", { href: "#/alarms", class: "alarms-link", "data-path": "alarms" });
  function render() {
    const counts = alarms.counts();
    const total = counts.critical + counts.warning + counts.info;
    const words = SEVERITIES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
    link.setAttribute("aria-label", total ? `Alarms: ${words.join(", ")}` : "Alarms: none active");
    link.classList.toggle("active", total > 0);
    mount(link, h("span", { class: "label" }, "Alarms"),
      total === 0 ? h("span", { class: "count", "aria-hidden": "true" }, "0") : null,
      SEVERITIES.filter((s) => counts[s]).map((s) => h("span", { class: `count sev-${s}`, "aria-hidden": "true", title: `${counts[s]} ${s}` }, String(counts[s]))));
  }
  alarms.listen(render);
  render();
  return link;
}
