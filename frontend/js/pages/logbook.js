// The logbook: what happened, filterable by entity and time, in local time, with friendly names.
// Chatty entities can be hidden; the list of hidden ones is the user's own, kept on the server
// (frontend/set_user_data, key "logbook_hidden").

import { rest } from "../api.js";
import { attempt, entityName, field, fmtTime, h, mount } from "../dom.js";

const HIDDEN_KEY = "logbook_hidden";

export default async function logbook(ctx, main) {
  const { conn, store } = ctx;
  const [registries, saved] = await Promise.all([
    ctx.loadRegistries(),
    conn.command({ type: "frontend/get_user_data", key: HIDDEN_KEY }).catch(() => ({ value: null })),
  ]);
  let hidden = new Set(Array.isArray(saved.value) ? saved.value : []);
  const nameOf = (id) => entityName(store.get(id)) || id;
  // Entity ids in a described event ("triggered by state of switch.pump") by their names.
  const friendly = (text) => text.replace(/\b[a-z_]+\.[a-z0-9_]+\b/g, (id) => (store.get(id) ? nameOf(id) : id));
  // A timestamp sensor's state is a time: shown in local time like the others.
  const stateText = (e) => (store.get(e.entity_id)?.attributes.device_class === "timestamp" ? fmtTime(e.state) : e.state);
  const entity = h("input", { type: "text", list: "entity-ids", placeholder: "All entities", autocomplete: "off" });
  const ids = h("datalist", { id: "entity-ids" }, [...store.states.values()]
    .sort((a, b) => entityName(a).localeCompare(entityName(b)))
    .map((s) => h("option", { value: s.entity_id }, entityName(s))));
  // Empty "From": the last hours up to now.
  const from = h("input", { type: "datetime-local", id: "logbook-from", "aria-describedby": "from-help" });
  const hours = h("select", null, [1, 6, 24, 72, 168].map((n) => h("option", { value: n, selected: n === 24 }, `${n} h`)));
  const list = h("div", { class: "logbook", "aria-live": "polite" });
  const hiddenBox = h("details", { class: "hidden-entities" });
  const form = h("form", {
    class: "filters card",
    onsubmit: (event) => { event.preventDefault(); load(); },
  }, field("Entity", entity), ids, h("div", { class: "field" }, h("label", { for: "logbook-from" }, "From"), from, h("small", { id: "from-help", class: "muted" }, "Empty: up to now")),
  field("Length", hours), h("button", { type: "submit", class: "primary" }, "Show"));
  mount(main, h("h1", null, "Logbook"), form, hiddenBox, list);

  let entries = [];
  async function saveHidden(next) {
    const value = [...next].sort();
    // attempt() answers undefined when the command failed (and says why).
    if (await attempt(() => conn.command({ type: "frontend/set_user_data", key: HIDDEN_KEY, value }).then(() => true))) {
      hidden = new Set(value);
      render();
    }
  }

  function renderHidden() {
    hiddenBox.hidden = hidden.size === 0;
    mount(hiddenBox, h("summary", null, `Hidden entities (${hidden.size})`),
      h("ul", { class: "plain hidden-list" }, [...hidden].map((id) => h("li", null, nameOf(id), " ",
        h("button", {
          type: "button", class: "small", "aria-label": `Show ${nameOf(id)} again`,
          onclick: () => { const next = new Set(hidden); next.delete(id); saveHidden(next); },
        }, "Show again")))));
  }

  function render() {
    renderHidden();
    const by = (e) => (e.context_user_id ? ` by ${registries.userNames[e.context_user_id] || "a user"}` : "");
    const shown = entries.filter((e) => !e.entity_id || !hidden.has(e.entity_id));
    if (!entries.length) { mount(list, h("p", { class: "muted" }, "Nothing happened in this period.")); return; }
    if (!shown.length) { mount(list, h("p", { class: "muted" }, "Only hidden entities changed in this period.")); return; }
    mount(list, h("ol", { class: "entries" }, shown.slice().reverse().map((e) => {
      const name = e.entity_id ? (e.name || nameOf(e.entity_id)) : e.name || "";
      return h("li", null,
        h("time", { datetime: e.when }, fmtTime(e.when)),
        h("span", { class: "what" },
          e.entity_id ? h("a", { href: `#/entity/${encodeURIComponent(e.entity_id)}` }, name) : h("strong", null, name),
          " ", e.message ? friendly(e.message) : e.state !== undefined ? `changed to ${stateText(e)}` : "", by(e)),
        e.entity_id ? h("button", {
          type: "button", class: "small hide-entity", "aria-label": `Hide ${name} from the logbook`, title: "Hide from the logbook",
          onclick: () => saveHidden(new Set([...hidden, e.entity_id])),
        }, "Hide") : h("span"));
    })));
  }

  async function load() {
    const length = Number(hours.value) * 3600_000;
    const start = from.value ? new Date(from.value) : new Date(Date.now() - length);
    const end = from.value ? new Date(start.getTime() + length) : new Date(Date.now() + 60_000);
    const params = new URLSearchParams({ end_time: end.toISOString() });
    if (entity.value.trim()) params.set("entity", entity.value.trim());
    mount(list, h("p", { class: "muted" }, "Loading…"));
    const answer = await attempt(() => rest("GET", `/api/logbook/${encodeURIComponent(start.toISOString())}?${params}`));
    if (!answer) { mount(list, h("p", { class: "error" }, "The logbook could not be read.")); return; }
    entries = answer;
    render();
  }
  load();
}
