// The logbook: what happened, filterable by entity and time.

import { rest } from "../api.js";
import { attempt, field, fmtTime, h, mount } from "../dom.js";

export default async function logbook(ctx, main) {
  const { store } = ctx;
  const registries = await ctx.loadRegistries();
  const entity = h("input", { type: "text", list: "entity-ids", placeholder: "All entities", autocomplete: "off" });
  const ids = h("datalist", { id: "entity-ids" }, [...store.states.keys()].sort().map((id) => h("option", { value: id })));
  // Empty "From": the last hours up to now.
  const from = h("input", { type: "datetime-local", "aria-describedby": "from-help" });
  const hours = h("select", null, [1, 6, 24, 72, 168].map((n) => h("option", { value: n, selected: n === 24 }, `${n} h`)));
  const list = h("div", { class: "logbook", "aria-live": "polite" });
  const form = h("form", {
    class: "filters card",
    onsubmit: (event) => { event.preventDefault(); load(); },
  }, field("Entity", entity), ids, field("From", from), h("span", { id: "from-help", class: "muted" }, "Empty: up to now"), field("Length", hours), h("button", { type: "submit", class: "primary" }, "Show"));
  mount(main, h("h1", null, "Logbook"), form, list);

  async function load() {
    const length = Number(hours.value) * 3600_000;
    const start = from.value ? new Date(from.value) : new Date(Date.now() - length);
    const end = from.value ? new Date(start.getTime() + length) : new Date(Date.now() + 60_000);
    const params = new URLSearchParams({ end_time: end.toISOString() });
    if (entity.value.trim()) params.set("entity", entity.value.trim());
    mount(list, h("p", { class: "muted" }, "Loading…"));
    const entries = await attempt(() => rest("GET", `/api/logbook/${encodeURIComponent(start.toISOString())}?${params}`));
    if (!entries) { mount(list, h("p", { class: "error" }, "The logbook could not be read.")); return; }
    if (!entries.length) { mount(list, h("p", { class: "muted" }, "Nothing happened in this period.")); return; }
    const by = (e) => (e.context_user_id ? ` by ${registries.userNames[e.context_user_id] || "a user"}` : "");
    mount(list, h("ol", { class: "entries" }, entries.slice().reverse().map((e) => h("li", null,
      h("time", { datetime: e.when }, fmtTime(e.when)),
      h("span", { class: "what" },
        e.entity_id ? h("a", { href: `#/entity/${encodeURIComponent(e.entity_id)}` }, e.name || e.entity_id) : h("strong", null, e.name || ""),
        " ", e.message || (e.state !== undefined ? `changed to ${e.state}` : ""), by(e))))));
  }
  load();
}
